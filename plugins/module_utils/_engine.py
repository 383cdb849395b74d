# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# The thin layer over the Docker SDK for Python (low-level APIClient). It speaks the
# Engine API's own shapes: what it creates is exactly the `docker inspect` shape that
# _spec.desired_inspect() built and the policy checked. No policy decisions here.

from __future__ import annotations

import os
import traceback
from concurrent.futures import ThreadPoolExecutor

try:
    import docker
    from docker.errors import APIError, DockerException, NotFound
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by the missing_required_lib path
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):
        pass

    class APIError(DockerException):
        pass

    class NotFound(APIError):
        pass

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy

DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'
# Requests to the engine in flight at once. The engine serialises much of its own work,
# so more than a few buys nothing; a few hide the round trips of many small calls.
PARALLEL_CALLS = 4

# Connection options shared by every module of the collection (see doc_fragments/docker.py).
CONNECTION_OPTIONS = dict(
    docker_host=dict(type='str', aliases=['docker_url'], fallback=(lambda: os.environ.get('DOCKER_HOST') or DEFAULT_DOCKER_HOST, [])),
    timeout=dict(type='int', default=60),
)


class EngineError(Exception):
    pass


class Engine(object):
    """One Docker engine. Methods return Engine API dicts; missing objects are None."""

    def __init__(self, docker_host=None, timeout=60):
        try:
            self.api = docker.APIClient(base_url=docker_host or os.environ.get('DOCKER_HOST') or DEFAULT_DOCKER_HOST,
                                        version='auto', timeout=timeout, max_pool_size=16)
        except DockerException as exc:
            raise EngineError('cannot reach the Docker engine at %s: %s' % (docker_host, exc))
        self._info = None
        self._images = {}

    # ------------------------------------------------------------ reading

    def info(self):
        if self._info is None:
            self._info = self.api.info()
        return self._info

    def host_cpus(self):
        return int(self.info().get('NCPU') or 0) or None

    def inspect_container(self, name_or_id):
        try:
            return self.api.inspect_container(name_or_id)
        except NotFound:
            return None

    def managed_containers(self, service=None):
        """inspect data of every container the collection manages (running or not)."""
        labels = [policy.LABEL_MANAGED + '=true']
        if service:
            labels.append('%s=%s' % (policy.LABEL_SERVICE, service))
        return self.list_containers(filters={'label': labels})

    def list_containers(self, filters=None):
        ids = [summary['Id'] for summary in self.api.containers(all=True, filters=filters or {})]
        # None: removed between the list and the inspect
        return [inspect for inspect in self.inspect_containers(ids) if inspect is not None]

    def inspect_containers(self, refs):
        """The inspect of each name or id in refs (None where there is none), a few at a time."""
        return parallel(self.inspect_container, refs)

    def container_names(self):
        """[(name, id, labels)] of every container, running or not, from one listing."""
        return [(_primary_name(summary.get('Names')), summary['Id'], summary.get('Labels') or {})
                for summary in self.api.containers(all=True)]

    def inspect_image(self, ref):
        try:
            return self.api.inspect_image(ref)
        except NotFound:
            return None

    def resolve_image(self, ref, pull='missing'):
        """(image inspect, pulled) for ref. Cached per run: many services share an image."""
        key = (ref, pull)
        if key in self._images:
            return self._images[key], False
        pulled = False
        image = None if pull == 'always' else self.inspect_image(ref)
        if image is None and pull != 'never':
            repo, tag = _split_ref(ref)
            try:
                self.api.pull(repo, tag=tag)
            except APIError as exc:
                raise EngineError('cannot pull image %s: %s' % (ref, _explain(exc)))
            pulled = True
            image = self.inspect_image(ref)
        if image is None:
            raise EngineError('image %s is not on the engine and pull is %s' % (ref, pull))
        self._images[key] = image
        return image, pulled

    def logs_tail(self, container_id, lines=20):
        try:
            data = self.api.logs(container_id, tail=lines, stdout=True, stderr=True)
        except APIError:
            return []
        return data.decode('utf-8', 'replace').splitlines()[-lines:]

    # ------------------------------------------------------------ writing

    def missing_networks(self, names):
        """Those of the networks named that do not exist, from one listing."""
        if not names:
            return []
        # the listing's name filter also matches parts of names: compare whole names
        existing = set(net['Name'] for net in self.api.networks(names=list(names)))
        return [name for name in names if name not in existing]

    def create_network(self, name):
        """A user-defined bridge network, labelled as managed."""
        try:
            self.api.create_network(name, driver='bridge', check_duplicate=True, labels={policy.LABEL_MANAGED: 'true'})
        except APIError as exc:
            raise EngineError('the engine could not create network %s: %s' % (name, _explain(exc)))

    def remove_network_if_unused(self, name):
        for net in self.api.networks(names=[name]):
            if net['Name'] != name or (net.get('Labels') or {}).get(policy.LABEL_MANAGED) != 'true':
                continue
            detail = self.api.inspect_network(net['Id'])
            if not detail.get('Containers'):
                self.api.remove_network(net['Id'])
                return True
        return False

    def create(self, desired):
        """Create the container `desired` (inspect shape) describes; returns its id."""
        name = desired['Name'].lstrip('/')
        body = dict((k, v) for k, v in desired['Config'].items() if v is not None)
        body['HostConfig'] = desired['HostConfig']
        networks = sorted(desired['NetworkSettings']['Networks'])
        first = desired['HostConfig'].get('NetworkMode')
        if first in networks:
            body['NetworkingConfig'] = {'EndpointsConfig': {first: {'Aliases': [name]}}}
        try:
            container_id = self.api.create_container_from_config(body, name=name)['Id']
            for net in networks:
                if net != first:
                    self.api.connect_container_to_network(container_id, net, aliases=[name])
        except APIError as exc:
            raise EngineError('the engine refused to create %s: %s' % (name, _explain(exc)))
        return container_id

    def start(self, container_id):
        try:
            self.api.start(container_id)
        except APIError as exc:
            raise EngineError('the engine could not start %s: %s' % (container_id[:12], _explain(exc)))

    def stop(self, container_id, timeout=10):
        self.api.stop(container_id, timeout=timeout)

    def remove(self, container_id):
        try:
            self.api.remove_container(container_id, force=True)
        except NotFound:
            pass

    def rename(self, container_id, name):
        self.api.rename(container_id, name)


def parallel(call, items):
    """[call(item) for item in items], with up to PARALLEL_CALLS calls at a time."""
    items = list(items)
    if len(items) < 2:
        return [call(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(PARALLEL_CALLS, len(items))) as pool:
        return list(pool.map(call, items))


def _primary_name(names):
    """A container's own name from a listing's Names (links add /other/alias entries)."""
    for name in names or []:
        if name.count('/') == 1:
            return name.lstrip('/')
    return None


def _split_ref(ref):
    if '@' in ref:
        return ref, None
    name, sep, tag = ref.rpartition(':')
    if sep and '/' not in tag:
        return name, tag
    return ref, 'latest'


def _explain(exc):
    return getattr(exc, 'explanation', None) or str(exc)
