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
import re
import shlex

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy

# The module options that describe a service. The modules' argument specs are built from
# this table, so the modules, the stack and the role accept exactly the same keys.
SERVICE_OPTIONS = dict(
    name=dict(type='str', required=True),
    image=dict(type='str', required=True),
    command=dict(type='raw'),
    entrypoint=dict(type='raw'),
    env=dict(type='dict', default={}),
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
)

# Options that say how to converge, not what to run: they do not enter the spec hash.
OPERATION_OPTIONS = dict(
    state=dict(type='str', default='started', choices=['started', 'stopped', 'absent']),
    pull=dict(type='str', default='missing', choices=['missing', 'always', 'never']),
    grace_period=dict(type='float', default=3),
    healthy_timeout=dict(type='float', default=60),
)

DEFAULT_NETWORK_PREFIX = 'containment_'

_SIZE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$', re.IGNORECASE)
_DURATION = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h)?\s*$')
_NAME = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.-]*$')
_ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# CONTAINER_PORT, HOST_PORT:CONTAINER_PORT or HOST_IP:[HOST_PORT]:CONTAINER_PORT, as the docker CLI reads them.
_PORT = re.compile(r'^(?:(?:(?:(?:\[(?P<ip6>[0-9a-fA-F:.]*)\]|(?P<ip>(?:\d{1,3}\.){3}\d{1,3})?):(?P<hport>\d*))'
                   r'|(?P<hport_only>\d+)):)?(?P<cport>\d+)(?:/(?P<proto>tcp|udp|sctp))?$')
_UNITS = {'': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4}
_NS = {'ns': 1, 'us': 1000, 'ms': 10 ** 6, 's': 10 ** 9, 'm': 60 * 10 ** 9, 'h': 3600 * 10 ** 9}
# secure_stack passes services Ansible did not type-check: a list or dict option must be one.
_CONTAINER_TYPES = {'list': (list, tuple), 'dict': (dict,)}


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
        return value
    match = _SIZE.match(str(value))
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
        return int(value * 10 ** 9)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError('not a duration')
    return int(float(match.group(1)) * _NS[match.group(2) or 's'])


def parse_port(text):
    """'127.0.0.1:8080:80/tcp' -> {'host_ip', 'host_port', 'container_port', 'proto'}. Raises ValueError."""
    match = _PORT.match(str(text).strip())
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
    if source.startswith('/'):
        kind = 'bind'
    elif _NAME.match(source):
        kind = 'volume'
    else:
        raise ValueError('source %r is neither an absolute path nor a volume name' % source)
    default = 'ro' if kind == 'bind' else 'rw'
    return dict(type=kind, source=source.rstrip('/') or '/', target=target.rstrip('/') or '/',
                mode=mode or default, explicit=mode is not None)


def _as_list_command(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return shlex.split(str(value))


# ---------------------------------------------------------------- normalisation

def normalize_spec(raw, service=None):
    """Check types, keys and units of one service and return its canonical spec.

    `raw` may come from the module's argument parsing (defaults filled in) or straight from
    a list of services (defaults missing). Raises SpecError naming every problem."""
    service = service or (raw.get('name') if isinstance(raw, dict) else None)
    errors = _Collector(service)
    if not isinstance(raw, dict):
        errors.add('(service)', 'format', 'a service must be a mapping, got %s' % type(raw).__name__,
                   'write the service as a dict of options')
        raise SpecError(errors.problems)
    unknown = sorted(set(raw) - set(SERVICE_OPTIONS) - set(OPERATION_OPTIONS))
    for key in unknown:
        errors.add(key, 'unknown option', 'there is no option %r' % key,
                   'remove it or correct the spelling; options are: %s' % ', '.join(sorted(SERVICE_OPTIONS)))
    values = {}
    for key, option in SERVICE_OPTIONS.items():
        value = raw.get(key)
        expected = _CONTAINER_TYPES.get(option['type'])
        if value is not None and expected and not isinstance(value, expected):
            errors.add(key, 'format', '%s must be a %s, not the %s %r' % (
                key, option['type'], type(value).__name__, value), 'give %s as a %s' % (key, option['type']))
            value = None
        if value is None:
            value = copy.deepcopy(option.get('default'))
        if value is None and option.get('required'):
            errors.add(key, 'required', 'the option is missing', 'set %s' % key)
        values[key] = value

    spec = {}
    name = values['name']
    if name is not None and not _NAME.match(str(name)):
        errors.add('name', 'format', 'name %r is not a valid container name' % name,
                   'use letters, digits, _ . - and start with a letter or digit')
    spec['name'] = str(name) if name is not None else None
    spec['image'] = str(values['image']) if values['image'] is not None else None
    spec['command'] = _as_list_command(values['command'])
    spec['entrypoint'] = _as_list_command(values['entrypoint'])

    spec['env'] = {}
    for key, value in sorted((values['env'] or {}).items()):
        if not _ENV_NAME.match(str(key)):
            errors.add('env', 'format', 'environment variable name %r is invalid' % key, 'use letters, digits and _')
        if isinstance(value, (dict, list)):
            errors.add('env', 'format', 'value of %s is a %s' % (key, type(value).__name__), 'give a string')
        spec['env'][str(key)] = 'true' if value is True else 'false' if value is False else str(value)

    spec['user'] = str(values['user']).strip() if values['user'] is not None else None

    spec['memory'] = _size_field(errors, 'memory', values['memory'])
    spec['memory_swap'] = _size_field(errors, 'memory_swap', values['memory_swap'])
    try:
        spec['cpus'] = float(values['cpus']) if values['cpus'] is not None else None
        if spec['cpus'] is not None and spec['cpus'] <= 0:
            errors.add('cpus', 'cpu_limit (floor)', 'cpus is %s' % values['cpus'], policy.CONTROLS_BY_ID['cpu_limit'].fix)
    except (TypeError, ValueError):
        errors.add('cpus', 'format', 'cpus %r is not a number' % (values['cpus'],), 'give a number such as 0.5 or 2')
        spec['cpus'] = None
    spec['pids_limit'] = _int_field(errors, 'pids_limit', values['pids_limit'])

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
                       "write ports as 'HOST_IP:HOST_PORT:CONTAINER_PORT[/PROTO]', such as '127.0.0.1:8080:80'")
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

    spec['network_mode'] = values['network_mode'] or None
    spec['pid_mode'] = values['pid_mode'] or None
    networks = values['networks']
    if networks is None:
        networks = [] if spec['network_mode'] else [DEFAULT_NETWORK_PREFIX + (spec['name'] or '')]
    elif spec['network_mode'] and networks:
        errors.add('networks', 'format', 'networks and network_mode are both set', 'use one of them')
    for net in networks:
        if not _NAME.match(str(net)):
            errors.add('networks', 'format', 'network name %r is invalid' % net, 'use letters, digits, _ . -')
    spec['networks'] = [str(n) for n in networks]

    spec['cap_add'] = policy.normalize_caps(values['cap_add'])
    spec['security_opts'] = sorted(str(o).strip() for o in values['security_opts'] or [])
    spec['devices'] = []
    for text in values['devices'] or []:
        parts = str(text).split(':')
        if not parts[0].startswith('/') or len(parts) > 3:
            errors.add('devices', 'format', 'device %r' % text, "write devices as '/dev/HOST[:/dev/CONTAINER[:rwm]]'")
            continue
        spec['devices'].append(dict(host=parts[0], container=parts[1] if len(parts) > 1 else parts[0],
                                    permissions=parts[2] if len(parts) > 2 else 'rwm'))

    spec['exceptions'] = {}
    for control_id, reason in sorted((values['exceptions'] or {}).items()):
        control = policy.CONTROLS_BY_ID.get(control_id)
        if control is None:
            errors.add('exceptions', 'unknown control', 'there is no control %r' % control_id,
                       'name one of the baseline controls: %s' % ', '.join(policy.BASELINE_IDS))
        elif control.tier == policy.FLOOR:
            errors.add('exceptions', '%s (floor)' % control_id,
                       'floor control %s cannot be excepted' % control_id, control.fix)
        elif not isinstance(reason, str) or not reason.strip():
            errors.add('exceptions', '%s (baseline)' % control_id,
                       'the exception for %s has no reason' % control_id,
                       'write why this service needs it, as a non-empty string')
        spec['exceptions'][str(control_id)] = str(reason).strip() if reason is not None else ''

    spec['restart_policy'] = values['restart_policy']
    spec['restart_retries'] = _int_field(errors, 'restart_retries', values['restart_retries'])
    if spec['restart_policy'] not in SERVICE_OPTIONS['restart_policy']['choices']:
        errors.add('restart_policy', 'format', 'restart policy %r' % spec['restart_policy'],
                   'use one of %s' % ', '.join(SERVICE_OPTIONS['restart_policy']['choices']))
    spec['healthcheck'] = _healthcheck(errors, values['healthcheck'])

    spec['labels'] = {}
    for key, value in sorted((values['labels'] or {}).items()):
        if str(key).startswith(policy.LABEL_PREFIX):
            errors.add('labels', 'format', 'label %r uses the reserved prefix %r' % (key, policy.LABEL_PREFIX),
                       'choose another label name')
        spec['labels'][str(key)] = str(value)
    spec['stop_timeout'] = _int_field(errors, 'stop_timeout', values['stop_timeout'])

    if errors.problems:
        raise SpecError(errors.problems)
    return spec


def _size_field(errors, field, value):
    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError:
        errors.add(field, 'format', '%r is not a size' % (value,),
                   "give a number with a unit b, k, m or g, such as '128m' or '1g'")
        return None


def _int_field(errors, field, value):
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        errors.add(field, 'format', '%r is not a whole number' % (value,), 'give a whole number')
        return None


def _tmpfs_item(errors, item):
    if not isinstance(item, dict):
        item = {'path': item} if isinstance(item, str) else {}
    for key in sorted(set(item) - set(SERVICE_OPTIONS['tmpfs']['options'])):
        errors.add('tmpfs', 'unknown option', 'tmpfs has no option %r' % key, 'use path, size, mode and exec_reason')
    path = str(item.get('path') or '')
    if not path.startswith('/'):
        errors.add('tmpfs', 'format', 'tmpfs path %r is not absolute' % path, 'give an absolute path such as /tmp')
    mode = str(item.get('mode') or '1777')
    if not re.match(r'^[0-7]{3,4}$', mode):
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
    for key in sorted(set(value) - set(options)):
        errors.add('healthcheck', 'unknown option', 'healthcheck has no option %r' % key,
                   'use %s' % ', '.join(sorted(options)))
    test = value.get('test')
    if isinstance(test, str):
        test = ['CMD-SHELL', test]
    elif isinstance(test, (list, tuple)) and test:
        test = [str(t) for t in test]
        if test[0] not in ('CMD', 'CMD-SHELL', 'NONE'):
            test = ['CMD'] + test
    else:
        errors.add('healthcheck', 'format', 'healthcheck test is missing', 'give test as a shell string or a list')
        return None
    retries = value.get('retries')
    result = {'test': test, 'retries': _int_field(errors, 'healthcheck', 3 if retries is None else retries)}
    for key, default in (('interval', '30s'), ('timeout', '30s'), ('start_period', '0s')):
        try:
            result[key] = parse_duration(value.get(key) if value.get(key) is not None else default)
        except ValueError:
            errors.add('healthcheck', 'format', '%s %r is not a duration' % (key, value.get(key)),
                       "give a duration such as '10s' or '1m'")
    return result


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
    return labels


def spec_hash(spec, image_id):
    payload = json.dumps({'spec': spec, 'image_id': image_id, 'policy': policy.POLICY_VERSION},
                         sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(payload.encode('utf-8')).hexdigest()


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
        'Env': ['%s=%s' % kv for kv in sorted(spec['env'].items())],
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
        'Binds': ['%s:%s:%s' % (v['source'], v['target'], v['mode']) for v in spec['volumes']],
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
    """Ansible's diff: before/after of the normalised fields that differ (all fields on create/remove)."""
    if live is None and desired is None:
        return {'before': {}, 'after': {}}
    if live is None:
        return {'before': {}, 'after': dict((f, e(desired)) for f, e, _only_if_set in COMPARED_FIELDS)}
    if desired is None:
        return {'before': dict((f, e(live)) for f, e, _only_if_set in COMPARED_FIELDS), 'after': {}}
    differences = compare(desired, live)
    return {'before': dict((k, v[0]) for k, v in differences.items()),
            'after': dict((k, v[1]) for k, v in differences.items())}
