# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# A service spec, from the module's options to the container Docker would run:
#   normalize_spec()  checks types and units and returns a canonical spec (stable, hashable);
#   desired_inspect() turns it into the shape of `docker inspect`, the one shape the
#                     policy controls, the comparison and the engine all read;
#   validate_spec()   runs the policy over that shape and refuses with every breach named.
# Nothing here imports Docker or talks to an engine.

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import math
import re
import shlex

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy
from ansible_collections.containment.docker.plugins.module_utils import _secrets as secrets

# The module options that describe a service. The modules' argument specs are built from
# this table, so the modules, the stack and the role accept exactly the same keys.
SERVICE_OPTIONS = dict(
    name=dict(type='str', required=True),
    image=dict(type='str', required=True),
    command=dict(type='raw'),
    entrypoint=dict(type='raw'),
    env=dict(type='dict', default={}),
    # Secret-ness is declared here, once: Ansible masks no_log options, and every text the
    # collection prints (diff, reasons, messages) hides the values of secret_env and env_file.
    secret_env=dict(type='dict', default={}, no_log=True),
    env_file=dict(type='list', elements='str', default=[]),
    secrets=dict(type='list', elements='dict', options=dict(
        name=dict(type='str', required=True),
        source=dict(type='str', required=True),
        target=dict(type='str'),
    ), default=[], no_log=False),  # names and paths of secret files, never their content
    user=dict(type='str', required=True),
    memory=dict(type='str', required=True),
    memory_swap=dict(type='str'),
    cpus=dict(type='float', required=True),
    pids_limit=dict(type='int', default=256),
    tmpfs=dict(type='list', elements='dict', options=dict(
        path=dict(type='str', required=True),
        size=dict(type='str'),
        mode=dict(type='str', default='1777'),
        exec_reason=dict(type='str'),
    ), default=[dict(path='/tmp', size='64m', mode='1777')]),
    ports=dict(type='list', elements='str', default=[]),
    volumes=dict(type='list', elements='str', default=[]),
    networks=dict(type='list', elements='str'),
    network_mode=dict(type='str'),
    pid_mode=dict(type='str'),
    cap_add=dict(type='list', elements='str', default=[]),
    security_opts=dict(type='list', elements='str', default=[]),
    devices=dict(type='list', elements='str', default=[]),
    exceptions=dict(type='dict', default={}),
    restart_policy=dict(type='str', default='always', choices=['no', 'on-failure', 'always', 'unless-stopped']),
    restart_retries=dict(type='int', default=5),
    healthcheck=dict(type='dict', options=dict(
        test=dict(type='raw', required=True),
        interval=dict(type='str', default='30s'),
        timeout=dict(type='str', default='30s'),
        retries=dict(type='int', default=3),
        start_period=dict(type='str', default='0s'),
    )),
    labels=dict(type='dict', default={}),
    stop_timeout=dict(type='int', default=10),
    # TEMPORARY declaration (issue 10, item 4) until branch `options` declares it in its table; the
    # normalised shape is fixed: a sorted list of {'service', 'condition'}, not in the hash or the diff.
    depends_on=dict(type='raw'),
)

# Options that say how to converge, not what to run: they do not enter the spec hash.
OPERATION_OPTIONS = dict(
    state=dict(type='str', default='started', choices=['started', 'stopped', 'absent']),
    pull=dict(type='str', default='missing', choices=['missing', 'always', 'never']),
    grace_period=dict(type='float', default=3),
    healthy_timeout=dict(type='float', default=60),
    # TEMPORARY declarations (issue 10, item 5) until branch `options` declares them in its table.
    recreate=dict(type='bool', default=False),
    restart=dict(type='bool', default=False),
)

DEFAULT_NETWORK_PREFIX = 'containment_'

# The engine's own rules, checked here so that a spec the engine would refuse (or misread) is refused
# before the first engine call of a run. Every pattern is ASCII and matched whole (re.fullmatch): Python's
# \d also matches other scripts' digits and its $ matches before a final newline, Go's do neither.
INT64_MAX = 2 ** 63 - 1  # engine fields (Memory, MemorySwap, PidsLimit, durations in ns, ...) are Go int64
MIN_DURATION_NS = 10 ** 6  # moby api/types/container: MinimumDuration = 1 * time.Millisecond (0 means the default)
MIN_NANO_CPUS = 10 ** 7  # moby daemon_unix.go: "Range of CPUs is from 0.01"; below, the CFS quota is under the kernel's 1 ms
MAX_ID = 2 ** 31 - 1  # runc libcontainer/user: uid and gid are 0 .. 1<<31 - 1
MAX_STOP_TIMEOUT = 2 ** 31 - 1  # seconds; Go's time.Duration(seconds) * time.Second and the SDK's socket timeout overflow beyond
MAX_WAIT = 86400.0  # grace_period and healthy_timeout, in seconds: a watch of more than a day is a typo
# The names a replace moves containers through (see _converge.Converger): NAME__next is a new container
# not yet proven, NAME__previous the old one set aside until its successor is proven.
NEXT_SUFFIX = '__next'
PREVIOUS_SUFFIX = '__previous'
RESERVED_SUFFIXES = (NEXT_SUFFIX, PREVIOUS_SUFFIX)

_SIZE = re.compile(r'\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(?:i?b)?\s*', re.IGNORECASE | re.ASCII)
_DURATION = re.compile(r'\s*([0-9]+(?:\.[0-9]+)?)\s*(ns|us|ms|s|m|h)?\s*', re.ASCII)
_INTEGER = re.compile(r'\s*[-+]?[0-9]+\s*', re.ASCII)
_DECIMAL = re.compile(r'\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*', re.ASCII)
# moby daemon/names: RestrictedNamePattern = ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$, for container and volume names.
_NAME = re.compile(r'[a-zA-Z0-9][a-zA-Z0-9_.-]+', re.ASCII)
_NETWORK_NAME = re.compile(r'[a-zA-Z0-9][a-zA-Z0-9_.-]*', re.ASCII)
_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*', re.ASCII)
_USER_IDS = re.compile(r'([0-9]+)(?::([0-9]+))?', re.ASCII)
_UID_GID = re.compile(r'([0-9]+):([0-9]+)', re.ASCII)
# CONTAINER_PORT, HOST_PORT:CONTAINER_PORT or HOST_IP:[HOST_PORT]:CONTAINER_PORT, as the docker CLI reads them.
_PORT = re.compile(r'(?:(?:(?:(?:\[(?P<ip6>[0-9a-fA-F:.]*)\]|(?P<ip>(?:[0-9]{1,3}\.){3}[0-9]{1,3})?):(?P<hport>[0-9]*))'
                   r'|(?P<hport_only>[0-9]+)):)?(?P<cport>[0-9]+)(?:/(?P<proto>tcp|udp|sctp))?', re.ASCII)
# An image reference as the engine parses it (distribution/reference: [DOMAIN[:PORT]/]PATH[:TAG][@DIGEST],
# path components lowercase), or an image id.
_DOMAIN_PART = r'(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
_PATH_PART = r'[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
_IMAGE = re.compile(r'(?:%s(?:\.%s)*(?::[0-9]+)?/)?%s(?:/%s)*(?::[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?'
                    r'(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?'
                    % (_DOMAIN_PART, _DOMAIN_PART, _PATH_PART, _PATH_PART), re.ASCII)
_IMAGE_ID = re.compile(r'sha256:[0-9a-f]{64}', re.ASCII)
# moby daemon/daemon_unix.go parseSecurityOpt takes these keys (no-new-privileges also bare); systempaths
# is a docker CLI option the engine API does not take (the CLI turns it into MaskedPaths).
_SECURITY_OPT_KEYS = ('apparmor', 'label', 'no-new-privileges', 'seccomp')
# go-selinux InitLabels: 'disable' or one of these followed by ':' and a value.
_LABEL_OPT_KEYS = ('user', 'role', 'type', 'level', 'filetype')
# moby oci/caps (syndtr/gocapability): the capabilities the engine knows; ALL is valid Docker, the policy forbids it.
KNOWN_CAPS = frozenset((
    'ALL', 'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
    'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
    'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
    'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
    'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
    'CHECKPOINT_RESTORE'))
# moby runconfig IsPreDefinedNetwork: these cannot be created or listed as networks; they are network modes.
PREDEFINED_NETWORKS = ('bridge', 'host', 'none', 'default')
_UNITS = {'': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4}
_NS = {'ns': 1, 'us': 1000, 'ms': 10 ** 6, 's': 10 ** 9, 'm': 60 * 10 ** 9, 'h': 3600 * 10 ** 9}
# secure_stack passes services Ansible did not type-check: a list or dict option must be one.
_CONTAINER_TYPES = {'list': (list, tuple), 'dict': (dict,)}
# Options whose values a format error must not repeat (they hold secrets, or may).
_UNECHOED = ('env', 'secret_env', 'secrets', 'env_file')


class SpecError(Exception):
    """A spec that cannot run. `problems` holds dicts: service, field, rule, message, fix."""

    def __init__(self, problems):
        self.problems = problems
        super(SpecError, self).__init__('\n'.join(format_problem(p) for p in problems))


def format_problem(problem):
    return "service %r: field %r: %s: %s. Fix: %s." % (
        problem.get('service') or '?', problem['field'], problem['rule'],
        problem['message'].rstrip('.'), problem['fix'].rstrip('.'))


class _Collector(object):
    def __init__(self, service):
        self.service = service
        self.problems = []

    def add(self, field, rule, message, fix):
        self.problems.append(dict(service=self.service, field=field, rule=rule, message=message, fix=fix))


# ---------------------------------------------------------------- units

def parse_size(value):
    """'128m', '1g', '64MiB', '512k', 1048576 -> bytes. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError('not a size')
    if isinstance(value, int):
        if value < 0:
            raise ValueError('not a size')
        return value
    match = _SIZE.fullmatch(str(value))
    if not match:
        raise ValueError('not a size')
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def format_size(value):
    if not isinstance(value, int) or value <= 0:
        return value
    for unit in ('t', 'g', 'm', 'k'):
        if value % _UNITS[unit] == 0:
            return '%d%s' % (value // _UNITS[unit], unit)
    return str(value)


def parse_duration(value):
    """'30s', '1m', '500ms', 10 (seconds) -> nanoseconds. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError('not a duration')
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ValueError('not a duration')
        return int(value * 10 ** 9)
    match = _DURATION.fullmatch(str(value))
    if not match:
        raise ValueError('not a duration')
    return int(float(match.group(1)) * _NS[match.group(2) or 's'])


def parse_port(text):
    """'127.0.0.1:8080:80/tcp' -> {'host_ip', 'host_port', 'container_port', 'proto'}. Raises ValueError."""
    match = _PORT.fullmatch(str(text).strip())
    if not match:
        raise ValueError('not a port')
    ip = match.group('ip6') if match.group('ip6') is not None else (match.group('ip') or '')
    if match.group('ip6') is not None:
        ip = '::' if ip == '' else ip
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError('host IP %r is not an IP address' % ip)
    host_port = match.group('hport') or match.group('hport_only') or ''
    for port in (host_port, match.group('cport')):
        if port and not 0 < int(port) < 65536:
            raise ValueError('port out of range')
    return dict(host_ip=ip, host_port=host_port, container_port=int(match.group('cport')),
                proto=match.group('proto') or 'tcp')


def parse_volume(text):
    """'SOURCE:TARGET[:ro|rw]' -> {'type', 'source', 'target', 'mode', 'explicit'}. Raises ValueError."""
    parts = str(text).strip().split(':')
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError('not SOURCE:TARGET[:ro|rw]')
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else None
    if mode not in (None, 'ro', 'rw'):
        raise ValueError('mode %r is neither ro nor rw' % mode)
    if not target.startswith('/'):
        raise ValueError('target %r is not an absolute path' % target)
    if target.rstrip('/') == '':
        raise ValueError("target is '/': Docker cannot mount over the root filesystem")  # moby volume/mounts: destination can't be '/'
    if _has_control(text):
        raise ValueError('it holds a control character (such as a newline or NUL)')
    if source.startswith('/'):
        kind = 'bind'
    elif _NAME.fullmatch(source):
        kind = 'volume'
    else:
        # moby volume/local: a local volume name matches [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two characters at least)
        raise ValueError('source %r is neither an absolute path nor a volume name of two or more letters, digits, _ . -' % source)
    default = 'ro' if kind == 'bind' else 'rw'
    return dict(type=kind, source=source.rstrip('/') or '/', target=target.rstrip('/') or '/',
                mode=mode or default, explicit=mode is not None)


def _has_control(text):
    """NUL, newline and the other control characters: the kernel, runc or the engine refuse or cut them."""
    return any(ord(c) < 32 or ord(c) == 127 for c in str(text))


def _scalar_text(value):
    """A string, or a number written as one; None for what would be misread (None, booleans, lists, dicts, nan)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def _command(errors, field, value):
    """A command or entrypoint: a string split as a shell would, or a list of strings."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        words = [_scalar_text(v) for v in value]
        if any(w is None for w in words):
            errors.add(field, 'format', '%s %r has an item that is not a string' % (field, list(value)),
                       "write each item as a string, such as ['sleep', '60']")
            return None
    elif _scalar_text(value) is not None:
        try:
            words = shlex.split(_scalar_text(value))
        except ValueError as exc:  # shlex: 'No closing quotation', 'No escaped character'
            errors.add(field, 'format', '%s %r cannot be split into words: %s' % (field, value, str(exc).lower()),
                       'close every quote and escape, or give %s as a list of strings' % field)
            return None
    else:
        errors.add(field, 'format', '%s must be a string or a list of strings, not the %s %r' % (
            field, type(value).__name__, value), "give %s as a string such as 'sleep 60' or a list such as ['sleep', '60']" % field)
        return None
    if any('\x00' in w for w in words):
        errors.add(field, 'format', '%s holds a NUL character, which no program can receive' % field, 'remove the NUL')
        return None
    return words


# ---------------------------------------------------------------- normalisation

def normalize_spec(raw, service=None):
    """Check types, keys and units of one service and return its canonical spec.

    `raw` may come from the module's argument parsing (defaults filled in) or straight from
    a list of services (defaults missing). The operation options (state, pull, ...) are checked
    too, but not kept. Raises SpecError naming every problem."""
    service = service or (raw.get('name') if isinstance(raw, dict) else None)
    errors = _Collector(service)
    if not isinstance(raw, dict):
        errors.add('(service)', 'format', 'a service must be a mapping, got %s' % type(raw).__name__,
                   'write the service as a dict of options')
        raise SpecError(errors.problems)
    unknown = sorted(set(str(k) for k in raw) - set(SERVICE_OPTIONS) - set(OPERATION_OPTIONS))
    for key in unknown:
        errors.add(key, 'unknown option', 'there is no option %r' % key,
                   'remove it or correct the spelling; options are: %s' % ', '.join(sorted(SERVICE_OPTIONS)))
    values = {}
    for key, option in SERVICE_OPTIONS.items():
        value = raw.get(key)
        expected = _CONTAINER_TYPES.get(option['type'])
        if key == 'env_file' and isinstance(value, str):
            value = [value]
        if value is not None and expected and not isinstance(value, expected):
            given = type(value).__name__ if key in _UNECHOED else '%s %r' % (type(value).__name__, value)
            errors.add(key, 'format', '%s must be a %s, not the %s' % (key, option['type'], given),
                       'give %s as a %s' % (key, option['type']))
            value = None
        elif value is not None and option['type'] == 'str' and isinstance(value, (dict, list, tuple)):
            errors.add(key, 'format', '%s must be a string, not the %s %r' % (key, type(value).__name__, value),
                       'give %s as a string' % key)
            value = None
        elif value is not None and option.get('elements') == 'str' and any(_scalar_text(v) is None for v in value):
            errors.add(key, 'format', '%s %r has an item that is not a string' % (key, list(value)),
                       'write each item of %s as a string' % key)
            value = None
        if value is None:
            value = copy.deepcopy(option.get('default'))
        if value is None and option.get('required'):
            errors.add(key, 'required', 'the option is missing', 'set %s' % key)
        values[key] = value

    spec = {}
    name = values['name']
    if name is not None and not _NAME.fullmatch(str(name)):
        errors.add('name', 'format', 'name %r is not a valid container name' % name,
                   'use two or more letters, digits, _ . - starting with a letter or digit (the engine\'s rule)')
    elif name is not None and str(name).endswith(RESERVED_SUFFIXES):
        errors.add('name', 'format', 'name %r ends with %s, which a replace gives its old and new containers' % (
            name, ' or '.join(RESERVED_SUFFIXES)), 'choose a name without that ending')
    elif name == policy.LOCK_CONTAINER:
        errors.add('name', 'format', 'name %r is the container of the host lock' % name, 'choose another name')
    spec['name'] = str(name) if name is not None else None
    spec['image'] = _image(errors, values['image'])
    spec['command'] = _command(errors, 'command', values['command'])
    spec['entrypoint'] = _command(errors, 'entrypoint', values['entrypoint'])

    spec['env'] = _env_values(errors, 'env', values['env'])

    spec['user'] = str(values['user']).strip() if values['user'] is not None else None
    _check_user(errors, spec['user'])

    spec['memory'] = _size_field(errors, 'memory', values['memory'])  # below 6 MiB: the policy's memory_limit floor
    spec['memory_swap'] = _size_field(errors, 'memory_swap', values['memory_swap'])
    if spec['memory_swap'] and spec['memory'] is not None and spec['memory_swap'] < spec['memory']:
        # moby daemon_unix.go: "Minimum memoryswap limit should be larger than memory limit"
        errors.add('memory_swap', 'engine rule', 'memory_swap %r is less than memory %r' % (values['memory_swap'], values['memory']),
                   'leave memory_swap unset (it then equals memory) or make it at least memory')
    spec['cpus'] = _cpus(errors, values['cpus'])
    spec['pids_limit'] = _int_field(errors, 'pids_limit', values['pids_limit'], -INT64_MAX - 1, INT64_MAX)

    spec['tmpfs'] = []
    for item in values['tmpfs'] or []:
        spec['tmpfs'].append(_tmpfs_item(errors, item))
    paths = [t['path'] for t in spec['tmpfs']]
    for path in sorted(set(p for p in paths if paths.count(p) > 1)):
        errors.add('tmpfs', 'format', 'tmpfs %s is listed twice' % path, 'list each path once')

    spec['ports'] = []
    for text in values['ports'] or []:
        try:
            spec['ports'].append(parse_port(text))
        except ValueError as exc:
            errors.add('ports', 'format', 'port %r: %s' % (text, exc),
                       "write ports as 'HOST_IP:HOST_PORT:CONTAINER_PORT[/PROTO]' in ASCII digits, such as '127.0.0.1:8080:80'")
    published = [(p['host_ip'], p['host_port'], p['proto']) for p in spec['ports'] if p['host_port']]
    for ip, port, proto in sorted(set(b for b in published if published.count(b) > 1)):
        errors.add('ports', 'format', 'host port %s:%s/%s is published twice' % (ip, port, proto),
                   'publish each host address and port once')
    spec['volumes'] = []
    for text in values['volumes'] or []:
        try:
            spec['volumes'].append(parse_volume(text))
        except ValueError as exc:
            errors.add('volumes', 'format', 'volume %r: %s' % (text, exc),
                       "write volumes as 'SOURCE:TARGET[:ro|rw]' with an absolute TARGET")
    targets = [v['target'] for v in spec['volumes']]
    for target in sorted(set(t for t in targets if targets.count(t) > 1 or t in paths)):
        errors.add('volumes', 'format', '%s is mounted twice (by volumes or tmpfs)' % target,
                   'mount one volume or tmpfs per path')
    _secret_fields(errors, spec, values, set(targets) | set(paths))

    spec['network_mode'] = _namespace_mode(errors, 'network_mode', values['network_mode'], ('none', 'bridge', 'host', 'default'))
    spec['pid_mode'] = _namespace_mode(errors, 'pid_mode', values['pid_mode'], ('host',))
    networks = values['networks']
    if networks is None:
        networks = [] if spec['network_mode'] else [DEFAULT_NETWORK_PREFIX + (spec['name'] or '')]
    elif spec['network_mode'] and networks:
        errors.add('networks', 'format', 'networks and network_mode are both set', 'use one of them')
    for net in networks:
        if not _NETWORK_NAME.fullmatch(str(net)):
            errors.add('networks', 'format', 'network name %r is invalid' % net, 'use ASCII letters, digits, _ . -')
        elif str(net) in PREDEFINED_NETWORKS:
            errors.add('networks', 'format', '%r is one of the engine\'s predefined networks, not one to create or join' % net,
                       "set network_mode: %s instead (network_mode 'default' is bridge)" % ('bridge' if net == 'default' else net))
    spec['networks'] = [str(n) for n in networks]
    for net in sorted(set(n for n in spec['networks'] if spec['networks'].count(n) > 1)):
        errors.add('networks', 'format', 'network %s is listed twice' % net, 'list each network once')

    spec['cap_add'] = policy.normalize_caps(values['cap_add'])
    for cap in spec['cap_add']:
        if cap not in KNOWN_CAPS:
            errors.add('cap_add', 'format', 'capability %r is not one the engine knows' % cap,
                       'name a Linux capability such as NET_BIND_SERVICE (see capabilities(7))')
    spec['security_opts'] = sorted(str(o).strip() for o in values['security_opts'] or [])
    for opt in spec['security_opts']:
        _check_security_opt(errors, opt)
    spec['devices'] = []
    for text in values['devices'] or []:
        device = _device(str(text))
        if device is None:
            errors.add('devices', 'format', 'device %r' % text,
                       "write devices as '/dev/HOST[:/dev/CONTAINER][:PERMISSIONS]' with PERMISSIONS made of r, w and m")
            continue
        spec['devices'].append(device)

    spec['exceptions'] = {}
    for control_id, reason in sorted((values['exceptions'] or {}).items(), key=lambda kv: str(kv[0])):
        control = policy.CONTROLS_BY_ID.get(control_id) if isinstance(control_id, str) else None
        if control is None:
            errors.add('exceptions', 'unknown control', 'there is no control %r' % (control_id,),
                       'name one of the baseline controls: %s' % ', '.join(policy.BASELINE_IDS))
        elif control.tier == policy.FLOOR:
            errors.add('exceptions', '%s (floor)' % control_id,
                       'floor control %s cannot be excepted' % control_id, control.fix)
        elif not isinstance(reason, str) or not reason.strip():
            errors.add('exceptions', '%s (baseline)' % control_id,
                       'the exception for %s has no reason' % control_id,
                       'write why this service needs it, as a non-empty string')
        elif _has_control(reason.strip()):
            errors.add('exceptions', 'format', 'the reason for %s holds a control character (such as a newline)' % control_id,
                       'write the reason on one line')
        spec['exceptions'][str(control_id)] = str(reason).strip() if reason is not None else ''

    spec['restart_policy'] = values['restart_policy']
    # moby daemon/container.go validateRestartPolicy: "maximum retry count cannot be negative"; Go int
    spec['restart_retries'] = _int_field(errors, 'restart_retries', values['restart_retries'], 0, INT64_MAX)
    if spec['restart_policy'] not in SERVICE_OPTIONS['restart_policy']['choices']:
        errors.add('restart_policy', 'format', 'restart policy %r' % (spec['restart_policy'],),
                   'use one of %s' % ', '.join(SERVICE_OPTIONS['restart_policy']['choices']))
    spec['healthcheck'] = _healthcheck(errors, values['healthcheck'])

    spec['labels'] = {}
    for key, value in sorted((values['labels'] or {}).items(), key=lambda kv: str(kv[0])):
        if not isinstance(key, str) or not key.strip() or _has_control(key):
            errors.add('labels', 'format', 'label name %r is not a non-empty string' % (key,),
                       'quote label names, such as "1": ...')
        elif key.startswith(policy.LABEL_PREFIX):
            errors.add('labels', 'format', 'label %r uses the reserved prefix %r' % (key, policy.LABEL_PREFIX),
                       'choose another label name')
        if isinstance(value, (dict, list)) or value is None:
            errors.add('labels', 'format', 'value of label %s is %s' % (key, 'null' if value is None else 'a ' + type(value).__name__),
                       "give a string (write '' for an empty value)")
        elif '\x00' in str(value):
            errors.add('labels', 'format', 'value of label %s holds a NUL character' % key, 'remove the NUL')
        spec['labels'][str(key)] = _label_text(value)
    # Config.StopTimeout is a Go int of seconds; the engine waits forever for a negative one.
    spec['stop_timeout'] = _int_field(errors, 'stop_timeout', values['stop_timeout'], 0, MAX_STOP_TIMEOUT)
    spec['depends_on'] = _depends_on(errors, values['depends_on'])

    _operation_values(errors, raw)
    if errors.problems:
        raise SpecError(errors.problems)
    return spec


def _env_values(errors, field, mapping):
    """env or secret_env as {name: text}; a problem names the variable, never its value."""
    result = {}
    for key, value in sorted((mapping or {}).items(), key=lambda kv: str(kv[0])):
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            errors.add(field, 'format', 'environment variable name %r is invalid' % (key,),
                       'use ASCII letters, digits and _, not starting with a digit')
        if isinstance(value, (dict, list)) or value is None:
            errors.add(field, 'format', 'value of %s is %s' % (key, 'null' if value is None else 'a ' + type(value).__name__),
                       "give a string (write '' for an empty value)")
        elif '\x00' in str(value):
            errors.add(field, 'format', 'value of %s holds a NUL character' % key, 'remove the NUL')
        result[str(key)] = _label_text(value)
    return result


def _secret_fields(errors, spec, values, mounted):
    """secret_env, env_file and secrets: the values are read here, on the host the module runs on,
    and kept in memory only (never in a label, a hash, a diff or a message)."""
    spec['secret_env'] = _env_values(errors, 'secret_env', values['secret_env'])
    for key in sorted(set(spec['env']) & set(spec['secret_env'])):
        errors.add('secret_env', 'format', '%s is set in both env and secret_env' % key, 'set it in one of them')

    # As with `docker run --env-file F -e K=V` and Compose's env_file beside environment:
    # env and secret_env win over a file, a later file wins over an earlier one.
    spec['env_file'] = []
    from_files = {}
    for path in values['env_file'] or []:
        path = str(path)
        spec['env_file'].append(path)
        if not path.startswith('/'):
            errors.add('env_file', 'format', 'env file %s is not an absolute path' % path,
                       'give the absolute path of the file on the managed host')
            continue
        parsed, problem = secrets.read_env_file(path)
        if problem:
            errors.add('env_file', 'env file', problem,
                       'write the file on the managed host first (ansible.builtin.copy with no_log) and make it readable by the module')
            continue
        for key, value in parsed.items():
            if not _ENV_NAME.fullmatch(key):
                errors.add('env_file', 'format', 'env file %s: environment variable name %r is invalid' % (path, key),
                           'use letters, digits and _')
            from_files[key] = value
    for key, value in from_files.items():
        if key not in spec['env'] and key not in spec['secret_env']:
            spec['secret_env'][key] = value
    spec['secret_env'] = dict(sorted(spec['secret_env'].items()))

    spec['secrets'] = []
    user = _UID_GID.fullmatch(spec['user'] or '')
    for item in values['secrets'] or []:
        spec['secrets'].append(_secret_item(errors, item, user))
    names = [s['name'] for s in spec['secrets']]
    for name in sorted(set(n for n in names if names.count(n) > 1)):
        errors.add('secrets', 'format', 'secret %s is listed twice' % name, 'list each secret once')
    targets = [s['target'] for s in spec['secrets']]
    for target in sorted(set(t for t in targets if targets.count(t) > 1 or t in mounted)):
        errors.add('secrets', 'format', '%s is mounted twice (by secrets, volumes or tmpfs)' % target,
                   'mount one secret, volume or tmpfs per path')


def _secret_item(errors, item, user):
    if not isinstance(item, dict):
        item = {}
        errors.add('secrets', 'format', 'a secret must be a mapping', 'give name, source and, if needed, target')
    for key in sorted(set(item) - set(SERVICE_OPTIONS['secrets']['options'])):
        errors.add('secrets', 'unknown option', 'secrets have no option %r' % key, 'use name, source and target')
    name, source = str(item.get('name') or ''), str(item.get('source') or '')
    if not secrets.SECRET_NAME.fullmatch(name):
        errors.add('secrets', 'format', 'secret name %r is not a file name' % name,
                   'use letters, digits, _ . - and start with a letter or digit')
    target = str(item.get('target') or '%s/%s' % (secrets.DEFAULT_SECRETS_DIR, name))
    if not target.startswith('/'):
        errors.add('secrets', 'format', 'secret %s: target %r is not an absolute path' % (name, target),
                   'give an absolute path, or leave target out for %s/%s' % (secrets.DEFAULT_SECRETS_DIR, name))
    result = dict(name=name, source=source, target=target.rstrip('/') or '/', sha256=None, content=None)
    if not source.startswith('/'):
        errors.add('secrets', 'format', 'secret %s: source %r is not an absolute path' % (name, source),
                   'give the absolute path of the file on the managed host')
        return result
    info, problem = secrets.read_secret_file(source)
    if problem:
        errors.add('secrets', 'secret file', 'secret %s: %s' % (name, problem),
                   'write the file on the managed host first (ansible.builtin.copy with no_log) and run the module as a user '
                   'that may read it (become)')
        return result
    result.update(sha256=info['sha256'], content=info['content'])
    if user and not secrets.readable_by(int(user.group(1)), int(user.group(2)), info['uid'], info['gid'], info['mode']):
        errors.add('secrets', 'secret file', 'secret %s: %s (owner %d:%d, mode %04o) is not readable by the container\'s user %s' % (
            name, source, info['uid'], info['gid'], info['mode'], user.group(0)),
            "write it with ansible.builtin.copy owner: '%s' group: '%s' mode: '0400'" % (user.group(1), user.group(2)))
    return result


def operations(raw):
    """The operation options of one service (state, pull, grace_period, healthy_timeout) with their
    defaults, checked as normalize_spec checks them. Raises SpecError."""
    errors = _Collector(raw.get('name') if isinstance(raw, dict) else None)
    ops = _operation_values(errors, raw if isinstance(raw, dict) else {})
    if errors.problems:
        raise SpecError(errors.problems)
    return ops


def _operation_values(errors, raw):
    """secure_stack hands over services Ansible did not type-check: the operation options get the
    checks the module's argument spec would make, and the ranges the watch needs."""
    ops = {}
    for key, option in OPERATION_OPTIONS.items():
        value = raw.get(key)
        if value is None:
            ops[key] = option.get('default')
        elif option['type'] == 'bool':
            try:
                ops[key] = boolean(value, strict=True)
            except TypeError:
                errors.add(key, 'format', '%s %r is not a boolean' % (key, value), 'set %s to true or false' % key)
                ops[key] = option.get('default')
        elif 'choices' in option:
            if value not in option['choices']:
                errors.add(key, 'format', '%s %r is not one of %s' % (key, value, ', '.join(option['choices'])),
                           'set %s to one of %s' % (key, ', '.join(option['choices'])))
            ops[key] = value
        else:
            number = _finite(value)
            if number is None or not 0 <= number <= MAX_WAIT:
                errors.add(key, 'format', '%s %r is not a number of seconds from 0 to %d' % (key, value, MAX_WAIT),
                           'give %s in seconds, such as 3 or 0.5' % key)
            ops[key] = number
    return ops


DEPENDENCY_CONDITIONS = ('service_started', 'service_healthy')


def _depends_on(errors, value):
    """Compose's depends_on: a list of names, a mapping of name -> {condition}, or a list of those items
    and of {service, condition} dicts. Returns a sorted list of {'service', 'condition'}."""
    fix = "write depends_on as a list of service names, or as {db: {condition: service_healthy}}"
    if value is None:
        return []
    if isinstance(value, dict):
        items = [{k: v} for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        errors.add('depends_on', 'format', 'depends_on must be a list or a mapping, not the %s %r' % (type(value).__name__, value), fix)
        return []
    result = {}
    for item in items:
        options = {}
        if isinstance(item, dict) and 'service' in item:
            options = dict(item)
            name = options.pop('service')
        elif isinstance(item, dict) and len(item) == 1:
            name, options = list(item.items())[0]
            options = {} if options is None else options
        else:
            name = item
        if not isinstance(name, str) or not name.strip() or not isinstance(options, dict):
            errors.add('depends_on', 'format', 'depends_on item %r is not a service name or {NAME: {condition: ...}}' % (item,), fix)
            continue
        unknown = sorted(str(k) for k in options if k not in ('condition', 'required'))
        condition = options.get('condition') or 'service_started'
        if unknown:
            errors.add('depends_on', 'format', 'depends_on %s: %s not supported' % (name, ', '.join(unknown)),
                       'give only condition (%s)' % ' or '.join(DEPENDENCY_CONDITIONS))
        elif options.get('required', True) is not True:
            errors.add('depends_on', 'format', 'depends_on %s: required %r is not supported: every dependency is required' % (
                name, options['required']), 'remove required, or the dependency')
        elif condition not in DEPENDENCY_CONDITIONS:
            errors.add('depends_on', 'format', 'depends_on %s: condition %r is not one of %s' % (
                name, condition, ', '.join(DEPENDENCY_CONDITIONS)),
                'use service_started (it runs) or service_healthy (its healthcheck passes); services here are long-running, '
                'so service_completed_successfully has no meaning')
        elif name in result:
            errors.add('depends_on', 'format', 'depends_on names %s twice' % name, 'name each dependency once')
        else:
            result[name] = condition
    return [{'service': name, 'condition': result[name]} for name in sorted(result)]


def _finite(value):
    """A finite float from a number or a decimal string in ASCII digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            return None
    elif not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _label_text(value):
    return 'true' if value is True else 'false' if value is False else str(value)


def _image(errors, value):
    if value is None:
        return None
    text = str(value)
    if not text.strip():
        errors.add('image', 'format', 'the image is empty', "name an image, such as 'containment-test/busybox:1'")
    elif not (_IMAGE.fullmatch(text) or _IMAGE_ID.fullmatch(text)) or len(_image_name(text)) > 255:
        # distribution/reference: a lowercase path, an optional domain, tag and digest; 255 characters at most.
        errors.add('image', 'format', 'image %r is not a reference the engine accepts' % text,
                   "write [REGISTRY[:PORT]/]NAME[:TAG][@DIGEST] with a lowercase NAME, such as 'registry.local:5000/app:1.2'")
    return text


def _image_name(reference):
    """The name of a reference, without its tag and digest."""
    name = reference.split('@', 1)[0]
    return name.rsplit(':', 1)[0] if ':' in name.rsplit('/', 1)[-1] else name


def _check_user(errors, user):
    if user is None:
        return
    if _has_control(user) or any(c.isdigit() and c not in '0123456789' for c in user):
        errors.add('user', 'format', 'user %r holds a control character or a non-ASCII digit' % user,
                   "write the user in ASCII digits, such as '1500:1500'")
        return
    match = _USER_IDS.fullmatch(user)
    if match and any(int(i) > MAX_ID for i in match.groups() if i is not None):
        errors.add('user', 'format', 'user %r has an id above %d, which runc refuses' % (user, MAX_ID),
                   'use a uid and gid from 1 to %d' % MAX_ID)


def _cpus(errors, value):
    if value is None:
        return None
    cpus = _finite(value)
    if cpus is None:
        errors.add('cpus', 'format', 'cpus %r is not a number (finite, in ASCII digits)' % (value,), 'give a number such as 0.5 or 2')
    elif cpus <= 0:
        errors.add('cpus', 'cpu_limit (floor)', 'cpus is %s' % value, policy.CONTROLS_BY_ID['cpu_limit'].fix)
    elif cpus < MIN_NANO_CPUS / 10 ** 9 or cpus * 10 ** 9 > INT64_MAX:
        errors.add('cpus', 'engine range', 'cpus %s is outside the engine\'s range (0.01 up to the host\'s CPUs)' % value,
                   'give at least 0.01, such as 0.5')
    return cpus


def _namespace_mode(errors, field, value, modes):
    """network_mode / pid_mode: one of `modes` or container:NAME (moby PidMode.Valid, NetworkMode). A
    user-defined network goes in `networks`, where the collection creates it."""
    if value is None or value == '':
        return None
    text = str(value)
    kind, _sep, target = text.partition(':')
    if text in modes or (kind == 'container' and _NAME.fullmatch(target)):
        return text
    extra = '; to join a network, list it in networks' if field == 'network_mode' else ''
    errors.add(field, 'format', '%s %r is not a mode the engine runs' % (field, text),
               'use %s or container:NAME, or leave it unset%s' % (', '.join(modes), extra))
    return None


def _check_security_opt(errors, opt):
    """KEY, KEY=VALUE or KEY:VALUE, as moby parseSecurityOpt reads them; a seccomp profile is the JSON itself."""
    fix = ("use no-new-privileges[=true|false], seccomp=unconfined|PROFILE_JSON, apparmor=PROFILE, "
           "label=disable|user:...|role:...|type:...|level:...|filetype:...")
    if _has_control(opt):
        errors.add('security_opts', 'format', 'security option %r holds a control character' % opt, fix)
        return
    if opt in ('no-new-privileges', 'disable'):
        return
    sep = '=' if '=' in opt else ':' if ':' in opt else None  # the engine splits on the first '=', else ':'
    key, value = opt.split(sep, 1) if sep else (opt, None)
    if key not in _SECURITY_OPT_KEYS or value is None:
        why = ('systempaths is a docker CLI option the engine API does not take' if key.strip().lower() == 'systempaths'
               else 'the engine takes %s' % ', '.join(k + '=VALUE' for k in _SECURITY_OPT_KEYS))
        errors.add('security_opts', 'format', 'security option %r is not one the engine accepts: %s' % (opt, why), fix)
        return
    problem = None
    if key == 'no-new-privileges' and value not in ('true', 'false'):
        # the engine reads any strconv.ParseBool spelling; the policy reads true and false: one spelling for both
        problem = 'no-new-privileges takes true or false'
    elif key == 'apparmor' and not value.strip():
        problem = 'apparmor names no profile'
    elif key == 'label' and value != 'disable' and value.split(':', 1)[0] not in _LABEL_OPT_KEYS:
        problem = "label takes disable or one of %s followed by ':' and a value" % ', '.join(_LABEL_OPT_KEYS)
    elif key == 'seccomp' and value != 'unconfined':
        try:
            profile = json.loads(value)
        except ValueError:
            profile = None
        if not isinstance(profile, dict):
            problem = 'the engine takes seccomp=unconfined or the profile\'s JSON itself, not a file name'
    if problem:
        errors.add('security_opts', 'format', 'security option %r: %s' % (opt if key != 'seccomp' else opt[:60], problem), fix)


def _device(text):
    """'/dev/HOST[:/dev/CONTAINER][:PERMISSIONS]' as the docker CLI's parseDevice reads it, or None."""
    parts = text.split(':')
    if not parts[0].startswith('/') or len(parts) > 3 or _has_control(text):
        return None
    host, container, permissions = parts[0], parts[0], 'rwm'
    if len(parts) == 3:
        container, permissions = parts[1], parts[2]
    elif len(parts) == 2:
        if _device_mode(parts[1]):
            permissions = parts[1]
        else:
            container = parts[1]
    if not container.startswith('/') or not _device_mode(permissions):
        return None
    return dict(host=host, container=container, permissions=permissions)


def _device_mode(mode):
    """docker CLI validDeviceMode: a non-empty mix of r, w and m, each at most once."""
    return bool(mode) and set(mode) <= set('rwm') and len(set(mode)) == len(mode)


def _size_field(errors, field, value):
    if value is None:
        return None
    try:
        size = parse_size(value)
    except ValueError:
        errors.add(field, 'format', '%r is not a size' % (value,),
                   "give a number with a unit b, k, m or g, such as '128m' or '1g'")
        return None
    if size > INT64_MAX:
        errors.add(field, 'engine range', '%r is more than the engine\'s 64-bit limit' % (value,), "give a size such as '128m' or '1g'")
        return None
    return size


def _int_field(errors, field, value, low=None, high=INT64_MAX, label=None):
    """A whole number (an int, or a string of ASCII digits) within [low, high]; booleans are refused."""
    if value is None:
        return None
    label = label or field
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value == int(value):
        number = int(value)
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        number = int(value)
    if number is None:
        errors.add(field, 'format', '%s %r is not a whole number' % (label, value), 'give a whole number in ASCII digits')
        return None
    if (low is not None and number < low) or number > high:
        errors.add(field, 'engine range', '%s %r is outside %s..%s' % (label, value, low, high),
                   'give a whole number from %s to %s' % (low, high))
        return None
    return number


def _tmpfs_item(errors, item):
    if not isinstance(item, dict):
        item = {'path': item} if isinstance(item, str) else {}
    for key in sorted(set(str(k) for k in item) - set(SERVICE_OPTIONS['tmpfs']['options'])):
        errors.add('tmpfs', 'unknown option', 'tmpfs has no option %r' % key, 'use path, size, mode and exec_reason')
    path = str(item.get('path') or '')
    if not path.startswith('/') or _has_control(path):
        errors.add('tmpfs', 'format', 'tmpfs path %r is not absolute' % path, 'give an absolute path such as /tmp')
    elif path.rstrip('/') == '':
        errors.add('tmpfs', 'format', "tmpfs path is '/', the root filesystem", 'mount the tmpfs on a directory such as /tmp')
    mode = str(item.get('mode') or '1777')
    if not re.fullmatch(r'[0-7]{3,4}', mode, re.ASCII):
        errors.add('tmpfs', 'format', 'tmpfs %s mode %r is not octal' % (path, mode), "give an octal mode such as '1777'")
    size = item.get('size')
    if size is not None:
        size = _size_field(errors, 'tmpfs', size)
    reason = item.get('exec_reason')
    if reason is not None and not str(reason).strip():
        errors.add('tmpfs', 'tmpfs_hardened (floor)', 'tmpfs %s exec_reason is empty' % path,
                   'write why this mount needs exec, or drop exec_reason')
    return dict(path=path.rstrip('/') or '/', size=size, mode=mode, exec_reason=str(reason).strip() if reason else None)


def _healthcheck(errors, value):
    if not value:
        return None
    options = SERVICE_OPTIONS['healthcheck']['options']
    for key in sorted(set(str(k) for k in value) - set(options)):
        errors.add('healthcheck', 'unknown option', 'healthcheck has no option %r' % key,
                   'use %s' % ', '.join(sorted(options)))
    test = _healthcheck_test(errors, value.get('test'))
    retries = value.get('retries')
    # moby daemon/container.go validateHealthCheck: "Retries in Healthcheck cannot be negative"; Go int
    result = {'test': test, 'retries': _int_field(errors, 'healthcheck', 3 if retries is None else retries, 0, INT64_MAX,
                                                  label='retries')}
    for key, default in (('interval', '30s'), ('timeout', '30s'), ('start_period', '0s')):
        given = value.get(key) if value.get(key) is not None else default
        try:
            result[key] = parse_duration(given)
        except ValueError:
            errors.add('healthcheck', 'format', '%s %r is not a duration' % (key, value.get(key)),
                       "give a duration such as '10s' or '1m'")
            continue
        # moby validateHealthCheck: a duration is 0 (the default) or at least MinimumDuration (1 ms); int64 ns
        if 0 < result[key] < MIN_DURATION_NS or result[key] > INT64_MAX:
            errors.add('healthcheck', 'engine range', '%s %r is outside the engine\'s range (0, or 1ms up to 292 years)' % (key, given),
                       "give at least '1ms', such as '10s'")
    if test is None:
        return None
    return result


def _healthcheck_test(errors, test):
    """A shell string becomes CMD-SHELL; a list is CMD ARGS..., CMD-SHELL COMMAND or NONE (moby HealthConfig.Test)."""
    fix = "give test as a shell string such as 'wget -q -O- http://127.0.0.1:8080/' or a list such as ['CMD', 'true']"
    if test is None or test == [] or test == '':
        errors.add('healthcheck', 'format', 'healthcheck test is missing', fix)
        return None
    if isinstance(test, str):
        test = ['CMD-SHELL', test]
    elif isinstance(test, (list, tuple)) and all(_scalar_text(t) is not None for t in test):
        test = [_scalar_text(t) for t in test]
        if test[0] not in ('CMD', 'CMD-SHELL', 'NONE'):
            test = ['CMD'] + test
    else:
        errors.add('healthcheck', 'format', 'healthcheck test %r is neither a string nor a list of strings' % (test,), fix)
        return None
    if any('\x00' in t for t in test):
        problem = 'holds a NUL character'
    elif test[0] == 'NONE' and len(test) > 1:
        problem = 'NONE takes nothing after it'
    elif test[0] == 'CMD' and len(test) < 2:
        problem = 'CMD names no program'
    elif test[0] == 'CMD-SHELL' and (len(test) != 2 or not test[1].strip()):
        problem = 'CMD-SHELL takes one non-empty command string'
    else:
        return test
    errors.add('healthcheck', 'format', 'healthcheck test %r: %s' % (test, problem), fix)
    return None


# ---------------------------------------------------------------- the container it would be

def tmpfs_options(item):
    opts = ['rw', 'nosuid', 'nodev']
    if not item.get('exec_reason'):
        opts.append('noexec')
    if item.get('size') is not None:
        opts.append('size=%d' % item['size'])
    opts.append('mode=%s' % item['mode'])
    return ','.join(opts)


def managed_labels(spec, spec_hash=None):
    labels = dict(spec['labels'])
    labels[policy.LABEL_MANAGED] = 'true'
    labels[policy.LABEL_SERVICE] = spec['name']
    labels[policy.LABEL_POLICY] = policy.POLICY_VERSION
    if spec_hash:
        labels[policy.LABEL_SPEC_HASH] = spec_hash
    for control_id, reason in spec['exceptions'].items():
        labels[policy.LABEL_EXCEPTION + control_id] = reason
    rw_binds = sorted(v['target'] for v in spec['volumes'] if v['type'] == 'bind' and v['mode'] == 'rw' and v['explicit'])
    if rw_binds:
        labels[policy.LABEL_RW_BINDS] = ','.join(rw_binds)
    for item in spec['tmpfs']:
        if item['exec_reason']:
            labels[policy.LABEL_TMPFS_EXEC + item['path']] = item['exec_reason']
    if spec['secret_env']:  # names only: what the outputs (and the audit) hide
        labels[LABEL_SECRET_ENV] = ','.join(sorted(spec['secret_env']))
    return labels


# The names of the env variables given as secret_env or env_file; and per secret file, the
# salted digest of its content (see _secrets.file_digest), set when the service is planned.
LABEL_SECRET_ENV = policy.LABEL_SECRET_ENV
LABEL_SECRET_FILE = policy.LABEL_SECRET_FILE


def hashable(spec):
    """The spec without secret values, for the spec hash: secret_env by its names (its values are
    compared with the live Config.Env), secret files by name, source and target (their contents by the
    salted digest labels). No value of a secret is hashed where a label reader could guess it back."""
    view = dict(spec)
    view['secret_env'] = sorted(spec.get('secret_env') or {})
    view['secrets'] = [dict((k, v) for k, v in s.items() if k not in ('sha256', 'content')) for s in spec.get('secrets') or []]
    view.pop('depends_on', None)  # the start order of a stack: no property of the container
    # unused, these options leave the hash as it was before they existed: no recreate on upgrade
    for key in ('secret_env', 'env_file', 'secrets'):
        if not view.get(key):
            view.pop(key, None)
    return view


def spec_hash(spec, image_id):
    payload = json.dumps({'spec': hashable(spec), 'image_id': image_id, 'policy': policy.POLICY_VERSION},
                         sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(payload.encode('utf-8')).hexdigest()


def settle_secret_digests(spec, labels, live):
    """Add each secret file's digest label to the desired `labels`: the live container's own label
    when it still matches the file (so an unchanged secret compares equal), else a new salted digest."""
    live_labels = ((live or {}).get('Config') or {}).get('Labels') or {}
    for item in spec.get('secrets') or []:
        if not item.get('sha256'):
            continue
        key = LABEL_SECRET_FILE + item['name']
        have = live_labels.get(key)
        labels[key] = have if have and secrets.digest_matches(item['sha256'], have) else secrets.file_digest(item['sha256'])
    return labels


def desired_inspect(spec, image_id=None, image_config=None):
    """The container this spec creates, in the shape of `docker inspect`.

    `image_config` (the image's `Config`) fills in what the image decides when the
    spec is silent (its healthcheck), so the advisory check sees the truth."""
    ports = spec['ports']
    healthcheck = None
    if spec['healthcheck']:
        hc = spec['healthcheck']
        healthcheck = {'Test': hc['test'], 'Interval': hc['interval'], 'Timeout': hc['timeout'],
                       'Retries': hc['retries'], 'StartPeriod': hc['start_period']}
    elif image_config and image_config.get('Healthcheck'):
        healthcheck = image_config['Healthcheck']
    digest = spec_hash(spec, image_id) if image_id else None
    config = {
        'Image': spec['image'],
        'User': spec['user'],
        'Env': ['%s=%s' % kv for kv in sorted(dict(spec['env'], **spec['secret_env']).items())],
        'Cmd': spec['command'],
        'Entrypoint': spec['entrypoint'],
        'Labels': managed_labels(spec, digest),
        'ExposedPorts': dict(('%d/%s' % (p['container_port'], p['proto']), {}) for p in ports),
        'Healthcheck': healthcheck,
        'StopTimeout': spec['stop_timeout'],
    }
    bindings = {}
    for p in ports:
        bindings.setdefault('%d/%s' % (p['container_port'], p['proto']), []).append(
            {'HostIp': p['host_ip'], 'HostPort': p['host_port']})
    memory = spec['memory'] or 0
    security_opts = ['no-new-privileges:true'] + [o for o in spec['security_opts']
                                                  if policy.split_security_opt(o)[0] != 'no-new-privileges' or
                                                  policy.no_new_privileges_state([o]) is False]
    host_config = {
        'Memory': memory,
        'MemorySwap': spec['memory_swap'] if spec['memory_swap'] is not None else memory,
        'NanoCpus': int(round((spec['cpus'] or 0) * 10 ** 9)),
        'PidsLimit': spec['pids_limit'],
        'ReadonlyRootfs': True,
        'Tmpfs': dict((t['path'], tmpfs_options(t)) for t in spec['tmpfs']),
        'SecurityOpt': security_opts,
        'CapDrop': ['ALL'],
        'CapAdd': list(spec['cap_add']) or None,
        'Privileged': False,
        'Binds': (['%s:%s:%s' % (v['source'], v['target'], v['mode']) for v in spec['volumes']]
                  + ['%s:%s:ro' % (s['source'], s['target']) for s in spec['secrets']]),
        'PortBindings': bindings,
        'RestartPolicy': {'Name': spec['restart_policy'],
                          'MaximumRetryCount': spec['restart_retries'] if spec['restart_policy'] == 'on-failure' else 0},
        'NetworkMode': spec['network_mode'] or (spec['networks'][0] if spec['networks'] else 'none'),
        'PidMode': spec['pid_mode'] or '',
        'Devices': [{'PathOnHost': d['host'], 'PathInContainer': d['container'], 'CgroupPermissions': d['permissions']}
                    for d in spec['devices']],
    }
    mounts = [{'Type': v['type'], 'Source': v['source'], 'Destination': v['target'], 'RW': v['mode'] == 'rw',
               'Propagation': ''} for v in spec['volumes']]
    # Secret files: read-only binds of one file each, so they pass no_sensitive_mounts as any such bind does.
    mounts += [{'Type': 'bind', 'Source': s['source'], 'Destination': s['target'], 'RW': False, 'Propagation': ''}
               for s in spec['secrets']]
    return {
        'Name': '/' + spec['name'],
        'Image': image_id,
        'Config': config,
        'HostConfig': host_config,
        'Mounts': mounts,
        'NetworkSettings': {'Networks': dict((n, {}) for n in spec['networks'])},
    }


def validate_spec(spec, ctx=None, image_config=None):
    """Refuse a spec that breaks the policy. Returns the findings of the container it would be."""
    desired = desired_inspect(spec, None, image_config)
    findings = policy.evaluate(desired, ctx, spec['exceptions'])
    errors = _Collector(spec['name'])
    for finding in findings:
        if finding['status'] == policy.FAIL:
            errors.add(finding['field'], '%s (%s)' % (finding['control'], finding['tier']),
                       finding['message'], finding['fix'])
    if errors.problems:
        raise SpecError(errors.problems)
    return findings


def load_spec(raw, ctx=None, image_config=None):
    """normalize_spec then validate_spec: the one door every spec goes through."""
    spec = normalize_spec(raw)
    validate_spec(spec, ctx, image_config)
    return spec


# ---------------------------------------------------------------- comparing with a live container

def _env_dict(inspect):
    env = {}
    for item in (inspect.get('Config') or {}).get('Env') or []:
        key, value = item.split('=', 1) if '=' in item else (item, '')
        env[key] = value
    return env


def _tmpfs_dict(inspect):
    tmpfs = (inspect.get('HostConfig') or {}).get('Tmpfs') or {}
    return dict((path, policy.parse_tmpfs_options(opts)) for path, opts in tmpfs.items())


def _ports(inspect):
    result = []
    for port, bindings in ((inspect.get('HostConfig') or {}).get('PortBindings') or {}).items():
        for b in bindings or []:
            result.append('%s:%s:%s' % (b.get('HostIp') or '', b.get('HostPort') or '', port))
    return sorted(result)


def _healthcheck_view(inspect):
    """Config.Healthcheck with Docker's omissions filled in: inspect leaves out zero durations."""
    health = (inspect.get('Config') or {}).get('Healthcheck')
    if health is None:
        return None
    view = dict((key, health.get(key) or 0) for key in ('Interval', 'Timeout', 'Retries', 'StartPeriod'))
    view['Test'] = health.get('Test')
    return view


BUILTIN_NETWORKS = ('bridge', 'host', 'none')


def _user_networks(inspect):
    """The user-defined networks a container is attached to; docker inspect also lists the built-in
    network of a mode such as 'none', which no spec names."""
    networks = (inspect.get('NetworkSettings') or {}).get('Networks') or {}
    return sorted(n for n in networks if n not in BUILTIN_NETWORKS)


def _host_field(name, default=None, transform=None):
    def get(inspect):
        value = (inspect.get('HostConfig') or {}).get(name, default)
        if value is None:
            value = default
        return transform(value) if transform else value
    return get


def _config_field(name):
    return lambda inspect: (inspect.get('Config') or {}).get(name)


# (field shown in the diff, extractor over inspect, compare only when the spec sets it)
COMPARED_FIELDS = (
    ('image_id', lambda i: i.get('Image'), False),
    ('user', _config_field('User'), False),
    ('command', _config_field('Cmd'), True),
    ('entrypoint', _config_field('Entrypoint'), True),
    ('healthcheck', _healthcheck_view, True),
    ('stop_timeout', _config_field('StopTimeout'), False),
    ('memory', _host_field('Memory', 0, format_size), False),
    ('memory_swap', _host_field('MemorySwap', 0, format_size), False),
    ('cpus', _host_field('NanoCpus', 0, lambda v: v / 10 ** 9), False),
    ('pids_limit', _host_field('PidsLimit', 0), False),
    ('read_only', _host_field('ReadonlyRootfs', False), False),
    ('tmpfs', _tmpfs_dict, False),
    ('security_opts', _host_field('SecurityOpt', [], sorted), False),
    ('cap_drop', _host_field('CapDrop', [], policy.normalize_caps), False),
    ('cap_add', _host_field('CapAdd', [], policy.normalize_caps), False),
    ('privileged', _host_field('Privileged', False), False),
    ('group_add', _host_field('GroupAdd', [], sorted), False),
    ('volumes', _host_field('Binds', [], sorted), False),
    ('ports', _ports, False),
    ('restart', _host_field('RestartPolicy', {}, lambda r: '%s:%s' % (r.get('Name') or 'no', r.get('MaximumRetryCount') or 0)), False),
    ('network_mode', _host_field('NetworkMode', ''), False),
    ('networks', _user_networks, False),
    ('pid_mode', _host_field('PidMode', ''), False),
    ('ipc_mode', _host_field('IpcMode', '', lambda v: 'host' if v == 'host' else ''), False),
    ('uts_mode', _host_field('UTSMode', ''), False),
    ('userns_mode', _host_field('UsernsMode', ''), False),
    ('devices', _host_field('Devices', [], lambda d: sorted(
        '%s:%s:%s' % (x.get('PathOnHost'), x.get('PathInContainer'), x.get('CgroupPermissions')) for x in d)), False),
    ('device_requests', _host_field('DeviceRequests', [], len), False),
)


def compare(desired, live):
    """Fields that differ between the container a spec wants and a live one: {field: (live, wanted)}.

    Security fields are compared strictly (an extra capability or security option on the live
    container is a difference). Environment and labels are compared for the keys the spec
    sets, plus every containment.* label, since the image adds its own."""
    differences = {}
    for field, extract, only_if_set in COMPARED_FIELDS:
        wanted = extract(desired)
        if only_if_set and wanted is None:
            continue
        have = extract(live)
        if have != wanted:
            differences[field] = (have, wanted)
    want_env, have_env = _env_dict(desired), _env_dict(live)
    have_env = dict((k, have_env[k]) for k in want_env if k in have_env)
    if have_env != want_env:
        differences['env'] = (have_env, want_env)
    want_labels = (desired.get('Config') or {}).get('Labels') or {}
    live_labels = (live.get('Config') or {}).get('Labels') or {}
    have_labels = dict((k, v) for k, v in live_labels.items() if k in want_labels or k.startswith(policy.LABEL_PREFIX))
    if have_labels != want_labels:
        differences['labels'] = (have_labels, want_labels)
    return differences


def diff_view(spec, desired, live):
    """Ansible's diff: before/after of the normalised fields that differ (all fields on create/remove).
    Secret values show as '(secret)' and '(secret changed)', never as themselves."""
    if live is None and desired is None:
        return {'before': {}, 'after': {}}
    if live is None:
        return {'before': {}, 'after': dict((f, e(desired)) for f, e, _only_if_set in COMPARED_FIELDS)}
    if desired is None:
        return {'before': dict((f, e(live)) for f, e, _only_if_set in COMPARED_FIELDS), 'after': {}}
    differences = masked_differences(spec, desired, live)
    return {'before': dict((k, v[0]) for k, v in differences.items()),
            'after': dict((k, v[1]) for k, v in differences.items())}


def secret_env_names(spec, live):
    """Env names whose values are never shown: the spec's secret_env (and env_file) names, those the
    live container was given as secrets (its label), and names that look like secrets."""
    declared = set((spec or {}).get('secret_env') or {})
    label = (((live or {}).get('Config') or {}).get('Labels') or {}).get(LABEL_SECRET_ENV) or ''
    declared.update(n for n in label.split(',') if n)
    names = set(_env_dict(live or {})) | set((spec or {}).get('env') or {}) | declared
    return secrets.secret_names(names, declared)


def _mask_pairs(have, want, hidden):
    """(have, want) dicts with the values of the `hidden` keys replaced by what may be shown."""
    have, want = dict(have or {}), dict(want or {})
    for key in hidden:
        if key in have and key in want:
            have[key], want[key] = secrets.HIDDEN, secrets.HIDDEN if have[key] == want[key] else secrets.CHANGED
        elif key in have:
            have[key] = secrets.HIDDEN
        elif key in want:
            want[key] = secrets.HIDDEN
    return have, want


def masked_differences(spec, desired, live):
    """compare(), with every secret value (env values, secret file digests) masked."""
    differences = compare(desired, live)
    if 'env' in differences:
        differences['env'] = _mask_pairs(differences['env'][0], differences['env'][1], secret_env_names(spec, live))
    if 'labels' in differences:
        have, want = differences['labels']
        digests = set(k for k in set(have or {}) | set(want or {}) if k.startswith(LABEL_SECRET_FILE))
        differences['labels'] = _mask_pairs(have, want, digests)
    return differences


def env_change(have, want, hidden):
    """'NAME: (secret changed), OTHER: live 'a', wanted 'b'' for the env variables that differ."""
    parts = []
    for key in sorted(set(have or {}) | set(want or {})):
        old, new = (have or {}).get(key), (want or {}).get(key)
        if old == new:
            continue
        if key in hidden:
            parts.append('%s: %s' % (key, secrets.CHANGED if old is not None else secrets.HIDDEN + ' added'))
        else:
            parts.append('%s: live %r, wanted %r' % (key, old, new))
    return ', '.join(parts)


def secret_file_changes(have_labels, want_labels):
    """The names of the secret files whose digest label differs (added, changed or removed)."""
    keys = set(k for k in set(have_labels or {}) | set(want_labels or {}) if k.startswith(LABEL_SECRET_FILE))
    return sorted(k[len(LABEL_SECRET_FILE):] for k in keys if (have_labels or {}).get(k) != (want_labels or {}).get(k))
