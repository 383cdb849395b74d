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

import importlib.util
import re
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

try:
    import docker
    from docker.errors import APIError, DockerException, NotFound
    import requests as _requests
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
    _CONNECTION_ERRORS = (_requests.exceptions.RequestException,)
    import urllib3 as _urllib3
    DOCKER_VERSION = getattr(docker, '__version__', None)
    REQUESTS_VERSION = getattr(_requests, '__version__', None)
    SDK = 'the Docker SDK for Python %s (requests %s, urllib3 %s)' % (DOCKER_VERSION, REQUESTS_VERSION,
                                                                      getattr(_urllib3, '__version__', '?'))
except ImportError:  # pragma: no cover - exercised by the missing-SDK test
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()
    DOCKER_VERSION = REQUESTS_VERSION = SDK = None

    class DockerException(Exception):
        pass

    class APIError(DockerException):
        pass

    class NotFound(APIError):
        pass

    _requests = None
    _CONNECTION_ERRORS = ()

# ssh:// engine URLs need paramiko (unless use_ssh_client): only whether it is there
HAS_PARAMIKO = importlib.util.find_spec('paramiko') is not None

from ansible.module_utils.basic import env_fallback

from ansible_collections.containment.docker.plugins.module_utils import _connection
from ansible_collections.containment.docker.plugins.module_utils import _policy as policy

DEFAULT_DOCKER_HOST = _connection.DEFAULT_DOCKER_HOST
PARALLEL_CALLS = _connection.PARALLEL_CALLS
# The oldest Engine API the collection speaks (the doc fragment's requirements).
MIN_API_VERSION = '1.41'

# Connection options shared by every module of the collection (see doc_fragments/docker.py),
# with the names and environment variables of the Docker CLI and community.docker.
CONNECTION_OPTIONS = dict(
    docker_host=dict(type='str', aliases=['docker_url'], default=DEFAULT_DOCKER_HOST, fallback=(env_fallback, ['DOCKER_HOST'])),
    tls=dict(type='bool', default=False),
    validate_certs=dict(type='bool', aliases=['tls_verify'], default=False, fallback=(env_fallback, ['DOCKER_TLS_VERIFY'])),
    ca_path=dict(type='path', aliases=['ca_cert']),
    client_cert=dict(type='path'),
    client_key=dict(type='path', no_log=False),
    tls_hostname=dict(type='str', fallback=(env_fallback, ['DOCKER_TLS_HOSTNAME'])),
    api_version=dict(type='str', aliases=['docker_api_version'], default='auto', fallback=(env_fallback, ['DOCKER_API_VERSION'])),
    use_ssh_client=dict(type='bool', default=False),
    allow_plaintext_tcp=dict(type='bool', default=False),
    timeout=dict(type='int', default=60),
)


# The error of every failed engine step, and the calls in flight at once: defined where pure logic
# (the converge, the host lock) can use them without importing the SDK.
EngineError = _connection.EngineError


_RAISE = object()


LOCK_NAME = policy.LOCK_CONTAINER
LOCK_IMAGE = 'containment-lock:1'


class Engine(object):
    """One Docker engine. Methods return Engine API dicts; missing objects are None. Every failure
    of the engine, or of the connection to it, is an EngineError naming the step."""

    def __init__(self, settings):
        """settings: _connection.resolve() of the module's options. Raises EngineError naming the
        cause (socket, user, certificate, host name, SDK) when the engine cannot be reached."""
        settings = dict(settings, sdk=SDK)
        self.url = settings['url']
        self._info = None
        self._images = {}
        self.calls = {}  # API calls made, per SDK method (the cost model of a run; reported by secure_stack)
        self._calls_lock = threading.Lock()
        self.api = None
        problem = _connection.socket_problem(settings) or _connection.ssh_problem(settings, HAS_PARAMIKO)
        if problem:
            raise EngineError(problem)
        try:
            self.api = _client(settings)
            self.info()
        except EngineError as exc:
            raise EngineError(_connection.diagnose(exc.cause, settings) or
                              'cannot reach the Docker engine at %s: %s' % (self.url, exc), exc.status)
        except (DockerException,) + _CONNECTION_ERRORS as exc:
            raise EngineError(_connection.diagnose(exc, settings) or
                              'cannot reach the Docker engine at %s: %s' % (self.url, explain(exc)))

    def _call(self, step, method, *args, **kwargs):
        """self.api.<method>(...), with any failure turned into EngineError('<step>: <what the engine said>').
        With missing=VALUE, a 404 of the engine returns VALUE instead."""
        missing = kwargs.pop('missing', _RAISE)
        with self._calls_lock:
            self.calls[method] = self.calls.get(method, 0) + 1
        try:
            return getattr(self.api, method)(*args, **kwargs)
        except NotFound as exc:
            if missing is not _RAISE:
                return missing
            raise EngineError('%s: %s' % (step, explain(exc)), 404, exc)
        except (DockerException,) + _CONNECTION_ERRORS as exc:
            raise EngineError('%s: %s' % (step, explain(exc)), getattr(exc, 'status_code', None), exc)

    # ------------------------------------------------------------ reading

    def info(self):
        if self._info is None:
            self._info = self._call('cannot read the engine information', 'info')
        return self._info

    def host_cpus(self):
        return int(self.info().get('NCPU') or 0) or None

    def inspect_container(self, name_or_id):
        return self._call('cannot inspect container %s' % name_or_id, 'inspect_container', name_or_id, missing=None)

    def managed_containers(self, service=None):
        """inspect data of every container the collection manages (running or not)."""
        labels = [policy.LABEL_MANAGED + '=true']
        if service:
            labels.append('%s=%s' % (policy.LABEL_SERVICE, service))
        return self.list_containers(filters={'label': labels})

    def list_containers(self, filters=None):
        summaries = self._call('cannot list containers', 'containers', all=True, filters=filters or {})
        # None: removed between the list and the inspect
        return [inspect for inspect in self.inspect_containers([s['Id'] for s in summaries]) if inspect is not None]

    def inspect_containers(self, refs):
        """The inspect of each name or id in refs (None where there is none), a few at a time."""
        return parallel(self.inspect_container, refs)

    def container_names(self):
        """[(name, id, labels)] of every container, running or not, from one listing."""
        return [(_primary_name(summary.get('Names')), summary['Id'], summary.get('Labels') or {})
                for summary in self._call('cannot list containers', 'containers', all=True)]

    def inspect_image(self, ref):
        return self._call('cannot inspect image %s' % ref, 'inspect_image', ref, missing=None)

    def inspect_network(self, name_or_id):
        return self._call('cannot inspect network %s' % name_or_id, 'inspect_network', name_or_id, missing=None)

    def resolve_image(self, ref, pull='missing', plan_only=False):
        """(image inspect, pulled) for ref. Cached per run: many services share an image. With plan_only
        (check mode) nothing is pulled, and a missing image is (None, False)."""
        key = (ref, 'plan' if plan_only else pull)
        if key in self._images:
            return self._images[key], False
        if plan_only:
            self._images[key] = self.inspect_image(ref)
            return self._images[key], False
        pulled = False
        image = None if pull == 'always' else self.inspect_image(ref)
        if image is None and pull != 'never':
            repo, tag = _split_ref(ref)
            self._call('cannot pull image %s' % ref, 'pull', repo, tag=tag)
            pulled = True
            image = self.inspect_image(ref)
        if image is None:
            raise EngineError('image %s is not on the engine and pull is %s' % (ref, pull))
        self._images[key] = image
        return image, pulled

    def logs_tail(self, container_id, lines=20):
        try:
            data = self._call('cannot read logs', 'logs', container_id, tail=lines, stdout=True, stderr=True)
        except EngineError:
            return []
        return data.decode('utf-8', 'replace').splitlines()[-lines:]

    # ------------------------------------------------------------ writing

    def missing_networks(self, names):
        """Those of the networks named that do not exist, from one listing."""
        if not names:
            return []
        # the listing's name filter also matches parts of names: compare whole names
        existing = set(net['Name'] for net in self._call('cannot list networks', 'networks', names=list(names)))
        return [name for name in names if name not in existing]

    def create_network(self, name):
        """A user-defined bridge network, labelled as managed."""
        self._call('the engine could not create network %s' % name, 'create_network', name, driver='bridge',
                   check_duplicate=True, labels={policy.LABEL_MANAGED: 'true'})

    def remove_network_if_unused(self, name):
        for net in self._call('cannot list networks', 'networks', names=[name]):
            if net['Name'] != name or (net.get('Labels') or {}).get(policy.LABEL_MANAGED) != 'true':
                continue
            detail = self._call('cannot inspect network %s' % name, 'inspect_network', net['Id'])
            if not detail.get('Containers'):
                self._call('the engine could not remove network %s' % name, 'remove_network', net['Id'])
                return True
        return False

    def volumes(self):
        """{name: volume inspect (Name, Driver, Options, Labels)} of every volume, from one listing."""
        listing = self._call('cannot list volumes', 'volumes') or {}
        return dict((v['Name'], v) for v in listing.get('Volumes') or [])

    def create_volume(self, name, driver, options):
        """A named volume with its driver and driver options, labelled as managed."""
        self._call('the engine could not create volume %s' % name, 'create_volume', name, driver=driver, driver_opts=options or None,
                   labels={policy.LABEL_MANAGED: 'true'})

    def remove_volume(self, name):
        self._call('the engine could not remove volume %s' % name, 'remove_volume', name, missing=None)

    def create(self, desired, name=None):
        """Create the container `desired` (inspect shape) describes, named `name` (default: its own
        name); returns its id. Each network's aliases and addresses are those of `desired` (the service's
        name first), whatever the container's name. A setting the engine accepts but discards (its warning
        says so, such as a blkio weight the kernel cannot apply) fails the create: the container would
        differ from its spec forever."""
        name = name or desired['Name'].lstrip('/')
        body = dict((k, v) for k, v in desired['Config'].items() if v is not None)
        body['HostConfig'] = desired['HostConfig']
        endpoints = desired['NetworkSettings']['Networks']
        first = desired['HostConfig'].get('NetworkMode')
        if first in endpoints:
            body['NetworkingConfig'] = {'EndpointsConfig': {first: _endpoint(endpoints[first])}}
        step = 'the engine refused to create %s' % name
        created = self._call(step, 'create_container_from_config', body, name=name)
        container_id = created['Id']
        try:
            discarded = [w for w in created.get('Warnings') or [] if 'discarded' in w.lower()]
            if discarded:
                raise EngineError('%s: %s' % (step, '; '.join(w.strip() for w in discarded)))
            for net in sorted(endpoints):
                if net != first:
                    endpoint = _endpoint(endpoints[net])
                    ipam = endpoint.get('IPAMConfig') or {}
                    self._call(step, 'connect_container_to_network', container_id, net, aliases=endpoint['Aliases'],
                               ipv4_address=ipam.get('IPv4Address'), ipv6_address=ipam.get('IPv6Address'))
        except EngineError:
            self.remove(container_id)
            raise
        return container_id

    def start(self, container_id):
        self._call('the engine could not start %s' % container_id[:12], 'start', container_id)

    def stop(self, container_id, timeout=10):
        self._call('the engine could not stop %s' % container_id[:12], 'stop', container_id, timeout=timeout)

    def remove(self, container_id):
        """Remove a container with its anonymous volumes (an image's VOLUME): a recreate would leave one
        behind each time. Named volumes are never removed by the engine here."""
        self._call('the engine could not remove %s' % container_id[:12], 'remove_container', container_id, force=True,
                   v=True, missing=None)

    def rename(self, container_id, name):
        self._call('the engine could not rename %s to %s' % (container_id[:12], name), 'rename', container_id, name)

    # ------------------------------------------------------------ the host lock (see _lock.py)

    def create_lock(self, labels):
        """Create the lock container; its name is the lock (names are unique on an engine, and
        reserved atomically). Returns its id, or None when another run holds the lock."""
        if self.inspect_image(LOCK_IMAGE) is None:
            # an image with nothing in it: the lock container is created, never started
            empty_tar = b'\0' * 10240
            self._call('cannot create the lock image %s' % LOCK_IMAGE, 'import_image_from_data', empty_tar,
                       repository=LOCK_IMAGE.partition(':')[0], tag=LOCK_IMAGE.partition(':')[2])
        body = {'Image': LOCK_IMAGE, 'Cmd': ['containment-lock'], 'Labels': labels,
                'HostConfig': {'NetworkMode': 'none'}}
        try:
            return self._call('cannot take the host lock', 'create_container_from_config', body, name=LOCK_NAME)['Id']
        except EngineError as exc:
            if exc.status == 409:  # the name is taken: another run holds the lock
                return None
            raise

    def lock_holder(self):
        """The lock container's inspect, or None when nobody holds the lock."""
        return self.inspect_container(LOCK_NAME)


def _endpoint(settings):
    """An EndpointsConfig entry from the desired NetworkSettings.Networks entry."""
    endpoint = {'Aliases': list((settings or {}).get('Aliases') or [])}
    if (settings or {}).get('IPAMConfig'):
        endpoint['IPAMConfig'] = dict(settings['IPAMConfig'])
    return endpoint


def _client(settings):
    """The SDK's APIClient for the settings, with the engine's CA winning over the environment."""
    kwargs = dict(base_url=settings['url'], version=settings['api_version'], timeout=settings['timeout'])
    accepted = _parameters(docker.APIClient.__init__)
    if 'max_pool_size' in accepted:  # a pool per concurrent call (PARALLEL_CALLS and the watches)
        kwargs['max_pool_size'] = 16
    if settings['use_ssh_client']:
        kwargs['use_ssh_client'] = True
    tls = settings['tls']
    if tls:
        kwargs['tls'] = docker.tls.TLSConfig(client_cert=tls['client_cert'], ca_cert=tls['ca_cert'], verify=tls['verify'])
    if not (tls and settings['tls_hostname']):
        return _APIClient(**kwargs)
    # The certificate is checked against tls_hostname instead of the URL's host: the client is
    # made with a fixed API version (so no request yet), given an adapter that checks that
    # name, and only then negotiates the version as version='auto' does.
    api = _APIClient(**dict(kwargs, version=MIN_API_VERSION if settings['api_version'] == 'auto' else settings['api_version']))
    api.mount('https://', _HostnameAdapter(settings['tls_hostname']))
    if settings['api_version'] == 'auto':
        api._version = api._retrieve_server_version()
    return api


def _parameters(function):
    code = getattr(function, '__code__', None)
    return code.co_varnames[:code.co_argcount] if code else ()


if HAS_DOCKER:
    class _APIClient(docker.APIClient):
        """The SDK's client, except that a CA given for the engine (ca_path) is the one used: a
        requests Session otherwise lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE of the environment
        replace it per request, and a correct mutual-TLS setup fails with CERTIFICATE_VERIFY_FAILED.
        Proxies and the rest of the environment still apply."""

        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            merged = super(_APIClient, self).merge_environment_settings(url, proxies, stream, verify, cert)
            if self.verify is not True:  # a CA file, or no check at all: the engine's own settings
                merged['verify'] = self.verify
            return merged

    class _HostnameAdapter(_requests.adapters.HTTPAdapter):
        """TLS that checks the certificate against a given name (tls_hostname), also sent as SNI."""

        def __init__(self, hostname, **kwargs):
            self._hostname = hostname
            super(_HostnameAdapter, self).__init__(**kwargs)

        def init_poolmanager(self, *args, **kwargs):
            kwargs['assert_hostname'] = self._hostname
            kwargs['server_hostname'] = self._hostname
            return super(_HostnameAdapter, self).init_poolmanager(*args, **kwargs)


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


_URL = re.compile(r'\s*(for url:\s*)?\(?(http\+docker|https?|unix|http\+unix)://\S+')


def explain(exc):
    """What went wrong, in the engine's words where it gave any; no request URLs or library names."""
    if isinstance(exc, APIError) and getattr(exc, 'explanation', None):
        text = exc.explanation
        if isinstance(text, bytes):
            text = text.decode('utf-8', 'replace')
        return str(text).strip()
    if _requests and isinstance(exc, _requests.exceptions.Timeout):
        return 'the engine did not answer in time'
    if _requests and isinstance(exc, _requests.exceptions.ConnectionError):
        return 'the connection to the engine failed (%s)' % _URL.sub('', str(exc.args[0] if exc.args else exc)).strip(' :')
    return _URL.sub('', str(exc)).strip() or type(exc).__name__
