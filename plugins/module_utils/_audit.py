# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# The audit of one engine: pick the containers (running or not), then run the one
# policy table (_policy.evaluate) over each container's `docker inspect` data. There is
# no control logic here, so what the modules enforce and what the audit reports cannot
# disagree. The daemon under the containers is audited the same way: its facts (docker info,
# the default bridge, and on the engine host its daemon.json and dockerd command line) go
# through _policy.DAEMON_CONTROLS. Everything but collect(), daemon_facts(), kernel_state()
# and run() is pure.

from __future__ import annotations

import fnmatch
import json
import os

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy

_CONTROLS_BY_ID = dict((c.id, c) for c in policy.AUDIT_CONTROLS)
# Worst first: a container's status is the worst status among its findings.
_SEVERITY = (policy.FAIL, policy.EXCEPTED, policy.WARN, policy.PASS)


def docker_filters(labels=None, managed_only=False):
    """The Engine API `filters` for a container listing (label filters are ANDed by Docker)."""
    wanted = list(labels or [])
    if managed_only:
        wanted.append(policy.LABEL_MANAGED + '=true')
    return {'label': wanted} if wanted else {}


def container_name(inspect):
    return (inspect.get('Name') or '').lstrip('/')


def service_of(inspect):
    """The service a container belongs to: its containment.service label, else its name."""
    return policy.labels_of(inspect).get(policy.LABEL_SERVICE) or container_name(inspect)


def name_matches(inspect, patterns):
    """True when no patterns are given or the name matches one (shell-style: 'web-*')."""
    if not patterns:
        return True
    name = container_name(inspect)
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def uid_owners(inspects):
    """{uid: set(services)} over the audited containers, for the unique_uid control."""
    return policy.uid_owners((_config_user(inspect), service_of(inspect)) for inspect in inspects)


def _config_user(inspect):
    return (inspect.get('Config') or {}).get('User')


def container_status(findings):
    statuses = {f['status'] for f in findings}
    return next((s for s in _SEVERITY if s in statuses), policy.PASS)


def audit(inspects, host_cpus=None, image_labels=None, daemon=None, kernel=None, volumes=None):
    """Evaluate every control over every container. Returns the module's result shape:
    {'containers': [...], 'findings': [...], 'summary': {...}}.

    image_labels ({image id: labels}) lets the policy ignore containment.* labels a container
    only inherited from its image: an image cannot grant itself exceptions. daemon is
    _policy.daemon_context() of the engine; kernel ({container id: kernel_state()}) what the
    kernel shows of the running containers when the audit runs on the engine host; volumes ({name: volume
    inspect}) the engine's named volumes, since a local volume can bind a host path."""
    ctx = {'host_cpus': host_cpus, 'uid_owners': uid_owners(inspects), 'daemon': daemon or {}, 'volumes': volumes or {}}
    kernel = kernel or {}
    image_labels = image_labels or {}
    containers, findings = [], []
    for inspect in sorted(inspects, key=container_name):
        labels = policy.labels_of(inspect)
        state = inspect.get('State') or {}
        about = {
            'container': container_name(inspect),
            'container_id': inspect.get('Id', ''),
            'image': (inspect.get('Config') or {}).get('Image', ''),
        }
        managed = labels.get(policy.LABEL_MANAGED) == 'true'
        own = []
        own_ctx = dict(ctx, image_labels=image_labels.get(inspect.get('Image')), kernel=kernel.get(inspect.get('Id')))
        for finding in policy.evaluate(inspect, own_ctx) + policy.evaluate_kernel(inspect, own_ctx):
            entry = dict(about)
            entry.update(finding)
            entry['fix'] = _CONTROLS_BY_ID[finding['control']].fix_for(managed)
            entry.setdefault('reason', None)
            own.append(entry)
        findings.extend(own)
        containers.append(dict(
            name=about['container'], id=about['container_id'], image=about['image'],
            image_id=inspect.get('Image', ''), state=state.get('Status', ''),
            service=service_of(inspect), managed=managed,
            status=container_status(own), counts=policy.summarize(own),
            failing_controls=[f['control'] for f in own if f['status'] == policy.FAIL],
        ))
    return {'containers': containers, 'findings': findings, 'summary': summarize(containers, findings)}


def summarize(containers, findings):
    """Counts per status and per control, and the names of the containers that fail."""
    by_control = dict((c.id, dict((s, 0) for s in policy.STATUSES)) for c in policy.AUDIT_CONTROLS)
    for finding in findings:
        by_control.setdefault(finding['control'], dict((s, 0) for s in policy.STATUSES))
        by_control[finding['control']][finding['status']] += 1
    return {
        'containers': len(containers),
        'by_status': policy.summarize(findings),
        'by_control': by_control,
        'failing_containers': [c['name'] for c in containers if c['status'] == policy.FAIL],
    }


def collect(engine, names=None, labels=None, managed_only=False):
    """inspect data of the containers to audit (running and stopped) on `engine`."""
    inspects = engine.list_containers(filters=docker_filters(labels, managed_only))
    return [i for i in inspects if name_matches(i, names)
            and ((i.get('Config') or {}).get('Labels') or {}).get(policy.LABEL_LOCK) != 'true']


def engine_facts(engine, docker_host):
    info = engine.info()
    return {'docker_host': docker_host, 'name': info.get('Name', ''),
            'server_version': info.get('ServerVersion', ''), 'host_cpus': engine.host_cpus()}


# ---------------------------------------------------------------- the daemon and the kernel (impure)

DEFAULT_DAEMON_CONFIG = '/etc/docker/daemon.json'
DEFAULT_DATA_ROOT = '/var/lib/docker'
# What the secure_engine role records beside daemon.json: {"exceptions": {control: reason}}.
ENGINE_RECORD = 'containment-engine.json'


def _read_json(path):
    """(data, None) or (None, why); ({}, None) when there is no file (dockerd's defaults)."""
    try:
        with open(path) as handle:
            return json.load(handle), None
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as exc:
        return None, '%s cannot be read: %s' % (path, exc.__class__.__name__)


def _same_path(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def local_dockerd(info, daemon_config, file_settings, proc='/proc'):
    """The command line (argv) of the dockerd on this host that serves the engine `info` came from
    and reads `daemon_config`, or None: the same config file, and the same data root as the
    engine reports (DockerRootDir)."""
    root = info.get('DockerRootDir') or ''
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(os.path.join(proc, pid, 'comm')) as handle:
                if handle.read().strip() != 'dockerd':
                    continue
            with open(os.path.join(proc, pid, 'cmdline'), 'rb') as handle:
                argv = [a.decode('utf-8', 'replace') for a in handle.read().split(b'\0') if a]
        except OSError:
            continue
        flags = policy.parse_dockerd_args(argv)
        if not _same_path(flags.get('config-file', DEFAULT_DAEMON_CONFIG), daemon_config):
            continue
        data_root = flags.get('data-root') or (file_settings or {}).get('data-root') or DEFAULT_DATA_ROOT
        if root and _same_path(data_root, root):
            return argv
    return None


def daemon_facts(engine, daemon_config=DEFAULT_DAEMON_CONFIG, proc='/proc'):
    """(facts for _policy.DAEMON_CONTROLS, the exceptions the secure_engine role recorded).
    daemon.json and the command line are read only when a dockerd on this host serves this engine."""
    info = engine.info()
    facts = {'info': info}
    bridge = engine.inspect_network('bridge')
    options = (bridge or {}).get('Options') or {}
    facts['bridge'] = options if options.get('com.docker.network.bridge.default_bridge') == 'true' else None
    file_settings, why = _read_json(daemon_config)
    exceptions = {}
    argv = local_dockerd(info, daemon_config, file_settings, proc) if file_settings is not None else None
    if file_settings is None:
        facts.update(settings=None, settings_source=why)
    elif argv is None:
        facts.update(settings=None, settings_source='no dockerd on this host serves this engine with %s' % daemon_config)
    else:
        flags = policy.parse_dockerd_args(argv)
        flags.pop('config-file', None)
        facts.update(settings=policy.effective_daemon_settings(file_settings, flags),
                     settings_source='%s and the dockerd command line' % daemon_config)
        record, _why = _read_json(os.path.join(os.path.dirname(daemon_config), ENGINE_RECORD))
        exceptions = dict((k, str(v)) for k, v in ((record or {}).get('exceptions') or {}).items() if str(v).strip())
    return facts, exceptions


def daemon_result(facts, exceptions=None):
    """The daemon's part of the module's result: findings of every daemon control, its status."""
    findings = policy.evaluate_daemon(facts, exceptions)
    for finding in findings:
        finding.setdefault('reason', None)
    return {'settings_source': facts.get('settings_source'), 'findings': findings,
            'status': container_status(findings), 'counts': policy.summarize(findings),
            'failing_controls': [f['control'] for f in findings if f['status'] == policy.FAIL]}


def kernel_state(inspect, proc='/proc'):
    """{'pid', 'status'} of a running container's process as this host's kernel shows it, or
    {'why'} when it cannot be read: not running, or its pid here is not the container's (the engine
    runs elsewhere, or in another pid namespace). The container's id must be in the pid's cgroup."""
    state = inspect.get('State') or {}
    pid = state.get('Pid') or 0
    if not state.get('Running') or pid <= 0:
        return {'why': 'the container is not running'}
    base = os.path.join(proc, str(pid))
    try:
        with open(os.path.join(base, 'status')) as handle:
            status = handle.read()
        with open(os.path.join(base, 'cgroup')) as handle:
            cgroup = handle.read()
    except OSError:
        return {'why': 'pid %d is not on the host the audit runs on' % pid}
    if not inspect.get('Id') or inspect['Id'] not in cgroup:
        return {'why': "pid %d on the host the audit runs on is not the container's process" % pid}
    return {'pid': pid, 'status': policy.parse_proc_status(status)}


def run(engine, docker_host, names=None, labels=None, managed_only=False, daemon_config=DEFAULT_DAEMON_CONFIG,
        audit_daemon=True):
    """The whole audit of one engine, as the module returns it."""
    inspects = collect(engine, names, labels, managed_only)
    image_labels = {}
    for image_id in set(i.get('Image') for i in inspects):
        image = engine.inspect_image(image_id) if image_id else None
        image_labels[image_id] = ((image or {}).get('Config') or {}).get('Labels') or {}
    facts, exceptions = daemon_facts(engine, daemon_config) if audit_daemon else ({'info': engine.info()}, {})
    kernel = dict((i.get('Id'), kernel_state(i)) for i in inspects)
    volumes = engine.volumes() if any(m.get('Type') == 'volume' for i in inspects for m in i.get('Mounts') or []) else {}
    result = audit(inspects, engine.host_cpus(), image_labels, policy.daemon_context(facts), kernel, volumes)
    result['engine'] = engine_facts(engine, docker_host)
    result['daemon'] = daemon_result(facts, exceptions) if audit_daemon else None
    result['policy_version'] = policy.POLICY_VERSION
    return result
