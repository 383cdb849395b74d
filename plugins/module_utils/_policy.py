# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# The containment policy (docs: ../shared/design/policy.md), defined once.
# Each control is a row of CONTROLS: an id, a tier, the module option a service
# changes to satisfy it, its CIS / Kubernetes PSS references, and a pure check over
# the shape of `docker inspect`. The module refuses a spec by running these checks
# over the container it *would* create; the audit runs them over live containers.
# Nothing here imports Docker.

from __future__ import annotations

import ipaddress
import posixpath
import re

from ansible_collections.containment.docker.plugins.module_utils import _secrets as secrets

POLICY_VERSION = '2'  # 2: log_bounded, safe_sysctls, named supplementary groups refused, one file under /etc allowed,
#                        a local volume that binds a host path judged as a bind

FLOOR = 'floor'
BASELINE = 'baseline'
ADVISORY = 'advisory'

PASS = 'pass'
FAIL = 'fail'
EXCEPTED = 'excepted'
WARN = 'warn'
STATUSES = (PASS, FAIL, EXCEPTED, WARN)

LABEL_PREFIX = 'containment.'
LABEL_MANAGED = 'containment.managed'
LABEL_SERVICE = 'containment.service'
LABEL_SPEC_HASH = 'containment.spec-hash'
LABEL_LOCK = 'containment.lock'  # the host lock container (_lock.py): bookkeeping, never audited
LOCK_CONTAINER = 'containment-lock'  # its name
LABEL_POLICY = 'containment.policy'
LABEL_EXCEPTION = 'containment.exception.'
LABEL_RW_BINDS = 'containment.rw-binds'
LABEL_TMPFS_EXEC = 'containment.tmpfs-exec.'
# Names (never values) of the env variables given as secrets; per secret file, a salted digest.
LABEL_SECRET_ENV = 'containment.secret-env'
LABEL_SECRET_FILE = 'containment.secret.'

HOST_NAMESPACE_FIELDS = ('NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode')
SENSITIVE_HOST_PATHS = ('/', '/boot', '/dev', '/etc', '/home', '/lib', '/proc', '/root', '/sys', '/usr', '/var/lib/docker')
# Under /etc, a read-only bind of one file or folder of an application's configuration passes (the usual place
# for it); /etc itself and these credential stores never do.
ETC_CREDENTIAL_STORES = ('/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/sudoers', '/etc/sudoers.d',
                         '/etc/ssh', '/etc/ssl/private', '/etc/docker', '/etc/kubernetes')
# Log drivers that write to the engine host's disk: without rotation, one chatty service fills it.
DISK_LOG_DRIVERS = ('json-file', 'local')
# Kernel parameters namespaced per container (moby daemon/oci_linux.go, runc validateSysctl): net.* in the
# container's own network namespace, and the IPC namespace's.
SAFE_SYSCTL_PREFIXES = ('kernel.shm', 'kernel.msg', 'fs.mqueue.')
SAFE_SYSCTLS = ('kernel.sem',)
DOCKER_SOCKETS = ('/var/run/docker.sock', '/run/docker.sock')
FORBIDDEN_CAPS = ('ALL', 'SYS_ADMIN')
UNCONFINED_SECURITY_OPTS = ('seccomp=unconfined', 'apparmor=unconfined', 'label=disable', 'systempaths=unconfined')
MIN_MEMORY = 6 * 1024 * 1024

_NUMERIC_USER = re.compile(r'^(\d+):(\d+)$')
_LEADING_NUMBER = re.compile(r'^\s*(\d+(?:\.\d*)?)')
# A later flag undoes its opposite, as in mount(8): 'noexec,exec' mounts exec.
_OPPOSITE_FLAGS = {'exec': 'noexec', 'noexec': 'exec', 'suid': 'nosuid', 'nosuid': 'suid', 'dev': 'nodev', 'nodev': 'dev'}


# ---------------------------------------------------------------- helpers over inspect

def _config(inspect):
    return inspect.get('Config') or {}


def _host(inspect):
    return inspect.get('HostConfig') or {}


def labels_of(inspect):
    return _config(inspect).get('Labels') or {}


def normalize_cap(name):
    """'cap_net_bind_service', 'CAP_NET_BIND_SERVICE' and 'NET_BIND_SERVICE' are one capability."""
    name = str(name).strip().upper()
    return name[4:] if name.startswith('CAP_') else name


def normalize_caps(names):
    return sorted({normalize_cap(n) for n in (names or [])})


def split_security_opt(opt):
    """'seccomp:unconfined' (old form) and 'seccomp=unconfined' are one option: ('seccomp', 'unconfined')."""
    opt = str(opt).strip()
    for sep in ('=', ':'):
        if sep in opt:
            key, value = opt.split(sep, 1)
            return key.strip().lower(), value.strip()
    return opt.lower(), ''


def no_new_privileges_state(security_opts):
    """True when set, False when explicitly turned off (which wins), None when absent."""
    state = None
    for opt in security_opts or []:
        key, value = split_security_opt(opt)
        if key != 'no-new-privileges':
            continue
        if value.lower() in ('', 'true', '1'):
            state = True if state is None else state
        else:
            return False
    return state


def parse_tmpfs_options(options):
    """'rw,noexec,size=64m' -> {'rw': True, 'noexec': True, 'size': '64m'}; 'noexec,exec' -> {'exec': True}."""
    result = {}
    for part in str(options or '').split(','):
        part = part.strip()
        if not part:
            continue
        if '=' in part:
            key, value = part.split('=', 1)
            result[key.strip()] = value.strip()
        else:
            result.pop(_OPPOSITE_FLAGS.get(part), None)
            result[part] = True
    return result


def clean_path(path):
    """'/var//run/', '/srv/../var/run' -> '/var/run': the path the kernel mounts."""
    return posixpath.normpath('/' + str(path or '').strip('/'))


def is_unbound_host_ip(ip):
    """'', '0.0.0.0', '::', '[::]', '::0' and any other spelling of 'every address'.
    An address that does not parse is not an explicit address either."""
    text = str(ip or '').strip().strip('[]')
    if not text:
        return True
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return True
    mapped = getattr(address, 'ipv4_mapped', None)
    return address.is_unspecified or bool(mapped and mapped.is_unspecified)


def is_under(path, parent):
    path, parent = clean_path(path), clean_path(parent)
    return parent == '/' or path == parent or path.startswith(parent + '/')


def volume_device(volume):
    """The host path a volume binds, or None: a `local` volume with o=bind (or type=none) and device=PATH is
    a bind mount in disguise. `volume` is the engine's volume inspect (Driver, Options), or None."""
    options = (volume or {}).get('Options') or {}
    if (volume or {}).get('Driver', 'local') not in ('local', '') or not options.get('device'):
        return None
    if 'bind' in [o.strip() for o in str(options.get('o') or '').split(',')] or options.get('type') == 'none':
        return str(options['device'])
    return None


def mounts_of(inspect, volumes=None):
    """Mounts as [{'Type','Source','Destination','RW','Propagation'}], from the top-level
    `Mounts` of inspect, falling back to `HostConfig.Binds` / `HostConfig.Mounts`. A named volume that
    binds a host path (volume_device() of its entry in `volumes`, {name: volume inspect}) is a bind of
    that path, with its name in 'Volume': every check over binds judges it as one."""
    mounts = []
    for mount in _mounts(inspect):
        name = mount.get('Name') or mount.get('Source') if mount.get('Type') == 'volume' else None
        device = volume_device((volumes or {}).get(name)) if name else None
        if device:
            mount = dict(mount, Type='bind', Source=device, Volume=name)
        mounts.append(mount)
    return mounts


def _mounts(inspect):
    if inspect.get('Mounts') is not None:
        return [dict(m) for m in inspect['Mounts']]
    mounts = []
    for bind in _host(inspect).get('Binds') or []:
        parts = bind.split(':')
        source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
        flags = parts[2].split(',') if len(parts) > 2 else []
        mounts.append({'Type': 'bind' if source.startswith('/') else 'volume', 'Source': source,
                       'Destination': target, 'RW': 'ro' not in flags,
                       'Propagation': next((f for f in flags if 'shared' in f or 'slave' in f or 'private' in f), '')})
    for mount in _host(inspect).get('Mounts') or []:
        mounts.append({'Type': mount.get('Type', 'volume'), 'Source': mount.get('Source', ''),
                       'Destination': mount.get('Target', ''), 'RW': not mount.get('ReadOnly', False),
                       'Propagation': (mount.get('BindOptions') or {}).get('Propagation', '')})
    return mounts


def is_docker_socket_path(path):
    if not path:
        return False
    path = clean_path(path)
    if path.endswith('docker.sock'):
        return True
    return any(is_under(sock, path) for sock in DOCKER_SOCKETS)


def rw_binds_allowed(inspect):
    value = labels_of(inspect).get(LABEL_RW_BINDS, '')
    return {clean_path(p) for p in value.split(',') if p.strip()}


# ---------------------------------------------------------------- the checks
# Each returns (problems, evidence). A problem is a string; a problem starting with
# '!' is hard: no exception covers it. `warnings` are returned as problems prefixed '?'.

def _check_non_root_user(inspect, ctx):
    user = _config(inspect).get('User') or ''
    group_add = _host(inspect).get('GroupAdd') or []
    problems = []
    match = _NUMERIC_USER.match(str(user).strip())
    text = str(user).strip()
    if not user:
        problems.append("no user is set: the image's USER decides, which is often root")
    elif text.isdigit() and int(text) == 0:
        problems.append('user %r is root (uid 0), and names no group' % user)
    elif text.isdigit():
        problems.append('user %r names a uid but no gid: Docker takes the group from the image, gid 0 (root) when '
                        'the image does not list the uid' % user)
    elif not match:
        problems.append('user %r is not numeric: a name is looked up in the image, where it may be root' % user)
    elif int(match.group(1)) == 0 or int(match.group(2)) == 0:
        problems.append('user %r has uid or gid 0 (root)' % user)
    for group in group_add:
        text = str(group).strip()
        if not text.isdigit() or not text.isascii():
            problems.append('GroupAdd adds group %r by name (a name may be root\'s group in the image)' % group)
        elif int(text) == 0:
            problems.append('GroupAdd adds group %r (root)' % group)
    return problems, {'Config.User': user, 'HostConfig.GroupAdd': group_add}


def _check_no_new_privileges(inspect, ctx):
    """ctx['kernel'] (the running process's /proc status, read on the engine host) is the truth and
    wins; else the container's SecurityOpt, else the daemon's default (ctx['daemon'])."""
    opts = _host(inspect).get('SecurityOpt') or []
    evidence = {'HostConfig.SecurityOpt': opts}
    status = ((ctx or {}).get('kernel') or {}).get('status') or {}
    if 'NoNewPrivs' in status:
        evidence['kernel.NoNewPrivs'] = status['NoNewPrivs']
        return ([] if status['NoNewPrivs'] else ['the kernel shows NoNewPrivs 0 for the running process']), evidence
    state = no_new_privileges_state(opts)
    if state is False:
        return ['no-new-privileges is explicitly turned off'], evidence
    if state is None:
        if ((ctx or {}).get('daemon') or {}).get('no_new_privileges'):
            evidence['daemon.no-new-privileges'] = True
            return [], evidence
        return ['no-new-privileges is not set, so setuid binaries can escalate'], evidence
    return [], evidence


def _check_memory_limit(inspect, ctx):
    memory = _host(inspect).get('Memory') or 0
    if memory <= 0:
        return ['no memory limit (Memory is %r)' % memory], {'HostConfig.Memory': memory}
    if memory < MIN_MEMORY:
        return ['memory limit %d is below Docker\'s minimum of 6 MiB' % memory], {'HostConfig.Memory': memory}
    return [], {'HostConfig.Memory': memory}


def _check_cpu_limit(inspect, ctx):
    host = _host(inspect)
    nano = host.get('NanoCpus') or 0
    evidence = {'HostConfig.NanoCpus': nano}
    if host.get('CpuQuota'):
        evidence['HostConfig.CpuQuota'] = host.get('CpuQuota')
        evidence['HostConfig.CpuPeriod'] = host.get('CpuPeriod')
    if nano <= 0:
        return ['no CPU limit set through cpus (NanoCpus is %r)' % nano], evidence
    host_cpus = (ctx or {}).get('host_cpus')
    if host_cpus and nano > host_cpus * 10 ** 9:
        return ['cpus %s is more than the host\'s %d CPUs' % (nano / 10 ** 9, host_cpus)], evidence
    return [], evidence


def _check_read_only_rootfs(inspect, ctx):
    value = bool(_host(inspect).get('ReadonlyRootfs'))
    return ([] if value else ['the root filesystem is writable']), {'HostConfig.ReadonlyRootfs': value}


def _check_tmpfs_hardened(inspect, ctx):
    tmpfs = _host(inspect).get('Tmpfs') or {}
    labels = labels_of(inspect)
    problems = []
    for path in sorted(tmpfs):
        opts = parse_tmpfs_options(tmpfs[path])
        missing = [flag for flag in ('nosuid', 'nodev') if flag not in opts]
        size = _LEADING_NUMBER.match(str(opts.get('size', '')))
        if not size or float(size.group(1)) <= 0:
            missing.append('size')  # size=0 is no limit at all
        if 'mode' not in opts:
            missing.append('mode')
        if 'noexec' not in opts and not labels.get(LABEL_TMPFS_EXEC + path, '').strip():
            missing.append('noexec')
        if missing:
            problems.append('tmpfs %s lacks %s' % (path, ', '.join(missing)))
    for mount in inspect.get('Mounts') or []:
        if mount.get('Type') == 'tmpfs':
            problems.append('tmpfs %s is mounted with --mount, whose options the policy cannot read; '
                            'use --tmpfs' % mount.get('Destination'))
    return problems, {'HostConfig.Tmpfs': tmpfs}


def _check_not_privileged(inspect, ctx):
    value = bool(_host(inspect).get('Privileged'))
    return (['the container is privileged'] if value else []), {'HostConfig.Privileged': value}


def _check_no_docker_socket(inspect, ctx):
    problems = []
    evidence = []
    for mount in mounts_of(inspect, (ctx or {}).get('volumes')):
        source = mount.get('Source', '') if mount.get('Type') == 'bind' else ''
        target = mount.get('Destination', '')
        if is_docker_socket_path(source) or is_docker_socket_path(target):
            what = 'volume %s (a bind of %s)' % (mount['Volume'], source) if mount.get('Volume') else source or mount.get('Name', '')
            problems.append('mount %s:%s exposes the Docker socket' % (what, target))
            evidence.append('%s:%s' % (source or mount.get('Name', ''), target))
    return problems, {'Mounts': evidence}


def _check_cap_drop_all(inspect, ctx):
    host = _host(inspect)
    drop = normalize_caps(host.get('CapDrop'))
    add = normalize_caps(host.get('CapAdd'))
    problems = []
    if 'ALL' not in drop:
        problems.append('CapDrop is %s, not ALL' % (drop or 'empty'))
    for cap in add:
        if cap in FORBIDDEN_CAPS:
            problems.append('!capability %s is never added' % cap)
    if add:
        problems.append('capabilities added: %s' % ', '.join(add))
    return problems, {'HostConfig.CapDrop': host.get('CapDrop'), 'HostConfig.CapAdd': host.get('CapAdd')}


def _cap_exception_covers(reason, inspect):
    """An exception to cap_drop_all must name each added capability in its reason."""
    host = _host(inspect)
    if 'ALL' not in normalize_caps(host.get('CapDrop')):
        return False, 'CapDrop must still be ALL; only additions can be excepted'
    words = {normalize_cap(w) for w in re.split(r'[^A-Za-z_]+', reason) if w}
    missing = [cap for cap in normalize_caps(host.get('CapAdd')) if cap not in words]
    if missing:
        return False, 'the exception reason does not name %s' % ', '.join(missing)
    return True, ''


def _check_pids_limit(inspect, ctx):
    """Any ulimit is allowed (the pids limit is what bounds processes); they are shown as evidence."""
    value = _host(inspect).get('PidsLimit')
    evidence = {'HostConfig.PidsLimit': value, 'HostConfig.Ulimits': _host(inspect).get('Ulimits') or []}
    if value is None or value <= 0:
        return ['no pids limit (PidsLimit is %r; 0, -1 and null mean unlimited)' % value], evidence
    return [], evidence


def _check_no_swap(inspect, ctx):
    host = _host(inspect)
    memory, swap = host.get('Memory') or 0, host.get('MemorySwap')
    evidence = {'HostConfig.Memory': memory, 'HostConfig.MemorySwap': swap}
    if memory > 0 and swap == memory:
        return [], evidence
    if memory <= 0:
        return ['no memory limit, so swap is unbounded too'], evidence
    if swap in (0, None) and memory > 0:
        return ["MemorySwap is left at Docker's default (twice the memory)"], evidence
    return ['MemorySwap %r differs from Memory %r, so the container can swap' % (swap, memory)], evidence


def _check_no_host_namespaces(inspect, ctx):
    host = _host(inspect)
    evidence = {'HostConfig.' + f: host.get(f, '') for f in HOST_NAMESPACE_FIELDS}
    problems = ['%s is host' % f for f in HOST_NAMESPACE_FIELDS if str(host.get(f) or '').lower() == 'host']
    return problems, evidence


def _check_security_profiles(inspect, ctx):
    opts = _host(inspect).get('SecurityOpt') or []
    problems = []
    for opt in opts:
        key, value = split_security_opt(opt)
        if '%s=%s' % (key, value.lower()) in UNCONFINED_SECURITY_OPTS:
            problems.append('security option %s turns a confinement off' % opt)
    evidence = {'HostConfig.SecurityOpt': opts}
    if ((ctx or {}).get('daemon') or {}).get('apparmor'):  # CIS 5.2: the host has AppArmor, so a profile must apply
        profile = inspect.get('AppArmorProfile') or ''
        evidence['AppArmorProfile'] = profile
        if profile in ('', 'unconfined') and not any('apparmor' in p for p in problems):
            problems.append('the host has AppArmor but the container runs %s' % ('unconfined' if profile else 'without a profile'))
    return problems, evidence


def _check_no_sensitive_mounts(inspect, ctx):
    problems = []
    evidence = []
    allowed_rw = rw_binds_allowed(inspect)
    for mount in mounts_of(inspect, (ctx or {}).get('volumes')):
        if mount.get('Type') != 'bind':
            continue
        source, target = mount.get('Source', ''), mount.get('Destination', '')
        what = 'bind mount' if not mount.get('Volume') else 'volume %s (a bind of %s)' % (mount['Volume'], source)
        evidence.append('%s%s:%s:%s' % (mount['Volume'] + '=' if mount.get('Volume') else '', source, target, 'rw' if mount.get('RW') else 'ro'))
        if is_sensitive_source(source, bool(mount.get('RW'))):
            problems.append('%s of sensitive host path %s' % (what, source))
        if mount.get('RW') and clean_path(target) not in allowed_rw:
            problems.append('%s on %s is read-write' % (what, target) if mount.get('Volume') else
                            'bind mount %s:%s is read-write' % (source, target))
        if str(mount.get('Propagation') or '').lower() in ('shared', 'rshared'):
            problems.append('bind mount %s has %s propagation' % (source, mount.get('Propagation')))
    return problems, {'Mounts': evidence}


def is_sensitive_source(source, rw):
    """A system tree or credential store of the host. One file or folder below /etc (/etc/myapp/tls.crt),
    bound read-only, is an application's configuration and is not."""
    path = clean_path(source)
    if path == '/' or any(is_under(path, p) for p in ETC_CREDENTIAL_STORES) or path.startswith('/etc/sudoers'):
        return True
    if is_under(path, '/etc') and path != '/etc' and not rw:
        return False
    return any(is_under(path, p) for p in SENSITIVE_HOST_PATHS if p != '/')


def _check_log_bounded(inspect, ctx):
    log = _host(inspect).get('LogConfig') or {}
    driver, options = log.get('Type') or '', log.get('Config') or {}
    evidence = {'HostConfig.LogConfig': {'Type': driver, 'Config': options}}
    if not driver:
        return ["no log driver is set: the engine's default decides, often json-file without rotation"], evidence
    if driver not in DISK_LOG_DRIVERS:
        return [], evidence  # journald, syslog, fluentd, gelf, ... ship logs off the container's disk; none keeps none
    missing = [key for key in ('max-size', 'max-file') if not _positive(options.get(key))]
    if missing:
        return ['%s logs on the host\'s disk without %s' % (driver, ' and '.join(missing))], evidence
    return [], evidence


def _positive(value):
    number = _LEADING_NUMBER.match(str(value or ''))
    return bool(number) and float(number.group(1)) > 0


def _check_safe_sysctls(inspect, ctx):
    sysctls = _host(inspect).get('Sysctls') or {}
    host_network = str(_host(inspect).get('NetworkMode') or '').lower() == 'host'
    problems = []
    for key in sorted(sysctls):
        if key.startswith('net.'):
            if host_network:
                problems.append('sysctl %s would change the host\'s network namespace (network_mode host)' % key)
        elif not (key in SAFE_SYSCTLS or key.startswith(SAFE_SYSCTL_PREFIXES)):
            problems.append('sysctl %s is not namespaced per container' % key)
    return problems, {'HostConfig.Sysctls': sysctls}


def _check_no_devices(inspect, ctx):
    host = _host(inspect)
    devices, requests = host.get('Devices') or [], host.get('DeviceRequests') or []
    problems = []
    if devices:
        problems.append('devices mapped: %s' % ', '.join(d.get('PathOnHost', '?') for d in devices))
    if requests:
        problems.append('device requests present (for example GPUs)')
    return problems, {'HostConfig.Devices': devices, 'HostConfig.DeviceRequests': requests}


def _check_ports_bound(inspect, ctx):
    host = _host(inspect)
    bindings = host.get('PortBindings') or {}
    problems = []
    evidence = []
    if host.get('PublishAllPorts'):
        problems.append('PublishAllPorts publishes every exposed port on all addresses')
    for port in sorted(bindings):
        for binding in bindings[port] or []:
            ip, hport = str(binding.get('HostIp') or ''), str(binding.get('HostPort') or '')
            evidence.append('%s:%s->%s' % (ip, hport, port))
            if is_unbound_host_ip(ip):
                problems.append('port %s is published on all addresses (host IP %r)' % (port, ip))
            elif hport.isdigit() and 0 < int(hport) < 1024:
                problems.append('?host port %s is below 1024' % hport)
    return problems, {'HostConfig.PortBindings': evidence}


def _check_restart_policy(inspect, ctx):
    """A running service must come back after the engine restarts (gracefully or killed) or the host
    reboots, whatever its exit code on SIGTERM; Docker's restart back-off (100 ms doubling to 1 min)
    bounds a crash loop. Measured on Docker 20.10 (docs/policy.md, tests/faults/test_engine_restart.py):
    only `always` does both; `no` is for one-shot jobs."""
    policy = _host(inspect).get('RestartPolicy') or {}
    name, retries = policy.get('Name') or 'no', policy.get('MaximumRetryCount') or 0
    evidence = {'HostConfig.RestartPolicy': {'Name': name, 'MaximumRetryCount': retries}}
    if name in ('always', 'no'):
        return [], evidence
    if name == 'on-failure':
        return ['on-failure (%d retries) leaves a service that exits 0 on SIGTERM stopped after an engine restart' % retries], evidence
    if name == 'unless-stopped':
        return ['unless-stopped leaves a service stopped after the engine is killed: on its restart the engine stops '
                'the containers it finds running and counts them as stopped by hand'], evidence
    return ['unknown restart policy %s' % name], evidence


def uid_owners(users_and_services):
    """{uid: set(services)} from (user, service) pairs, for ctx['uid_owners']; numeric users only."""
    owners = {}
    for user, service in users_and_services:
        uid = str(user or '').strip().split(':', 1)[0]
        if uid.isdigit():
            owners.setdefault(uid, set()).add(service)
    return owners


def _check_unique_uid(inspect, ctx):
    """ctx['uid_owners'] maps a uid to the services on the same host that run as it."""
    owners = (ctx or {}).get('uid_owners')
    match = _NUMERIC_USER.match(str(_config(inspect).get('User') or '').strip())
    if owners is None or not match:
        return [], {}
    service = labels_of(inspect).get(LABEL_SERVICE) or inspect.get('Name', '').lstrip('/')
    uid = int(match.group(1))  # '01500' is uid 1500
    others = sorted(set(s for key, services in owners.items() if str(key).strip().isdigit() and int(key) == uid
                        for s in services if s != service))
    evidence = {'Config.User': _config(inspect).get('User'), 'shared_with': others}
    if others:
        return ['uid %d is also used by %s' % (uid, ', '.join(others))], evidence
    return [], evidence


def _check_no_plain_secret_env(inspect, ctx):
    """Names only: no env value ever enters a finding, its evidence or a report."""
    declared = set(n for n in labels_of(inspect).get(LABEL_SECRET_ENV, '').split(',') if n)
    names = sorted(set(str(item).split('=', 1)[0] for item in _config(inspect).get('Env') or []))
    plain = [n for n in names if secrets.looks_secret(n) and n not in declared]
    evidence = {'Config.Env (names)': names}
    if plain:
        what = 'looks like a secret' if len(plain) == 1 else 'look like secrets'
        return ['%s %s passed as plain env, which docker inspect shows' % (', '.join(plain), what)], evidence
    return [], evidence


def _check_healthcheck(inspect, ctx):
    health = _config(inspect).get('Healthcheck') or {}
    test = health.get('Test') or []
    if not test or test[0] == 'NONE':
        return ['no healthcheck is defined'], {'Config.Healthcheck': health or None}
    return [], {'Config.Healthcheck': test}


class Control(object):
    """A row of the policy. `fix` says what to change in a service of this collection (its module or role
    option); `run_fix` the same for a container made with `docker run` (the flag), `fix` when they are one."""

    def __init__(self, id, tier, field, cis, pss, summary, fix, check, exception_covers=None, run_fix=None):
        self.id = id
        self.tier = tier
        self.field = field
        self.cis = cis
        self.pss = pss
        self.summary = summary
        self.fix = fix
        self.check = check
        self.exception_covers = exception_covers
        self.run_fix = run_fix or fix

    def fix_for(self, managed):
        """The fix as the container was made: module options when this collection manages it, else docker run flags."""
        return self.fix if managed else self.run_fix

    def as_dict(self):
        return {'id': self.id, 'tier': self.tier, 'field': self.field, 'cis': self.cis,
                'pss': self.pss, 'summary': self.summary, 'fix': self.fix, 'run_fix': self.run_fix}


CONTROLS = (
    Control('non_root_user', FLOOR, 'user', '4.1', 'runAsNonRoot, runAsUser, runAsGroup',
            'runs as a numeric non-root UID:GID', "set user to a numeric 'UID:GID' with both non-zero, such as '1500:1500'",
            _check_non_root_user,
            run_fix='run it with --user 1500:1500 (a numeric UID:GID, both non-zero)'),
    Control('no_new_privileges', FLOOR, 'security_opts', '5.26', 'allowPrivilegeEscalation=false',
            'no-new-privileges is set', "remove 'no-new-privileges:false'; the collection always sets no-new-privileges",
            _check_no_new_privileges,
            run_fix='run it with --security-opt no-new-privileges'),
    Control('memory_limit', FLOOR, 'memory', '5.11', '(LimitRange)',
            'has a memory limit', "set memory to a size of at least 6m, such as '128m' or '1g'",
            _check_memory_limit,
            run_fix='run it with --memory 256m (at least 6m)'),
    Control('cpu_limit', FLOOR, 'cpus', '5.12', '(LimitRange)',
            'has a CPU limit within the host', "set cpus to a number above 0 and at most the host's CPU count, such as 0.5",
            _check_cpu_limit,
            run_fix="run it with --cpus 0.5 (at most the host's CPU count)"),
    Control('read_only_rootfs', FLOOR, 'tmpfs', '5.13', '-',
            'the root filesystem is read-only', 'keep the root filesystem read-only; give the app tmpfs mounts where it must write',
            _check_read_only_rootfs,
            run_fix='run it with --read-only, and --tmpfs /tmp:size=64m,mode=1777,noexec,nosuid,nodev where the app writes'),
    Control('tmpfs_hardened', FLOOR, 'tmpfs', '5.13', 'emptyDir',
            'every tmpfs is sized, nosuid, nodev, noexec and has a mode',
            "give each tmpfs a size (such as '64m'); to allow exec on one mount set its exec_reason",
            _check_tmpfs_hardened,
            run_fix='give each tmpfs its options: --tmpfs /tmp:size=64m,mode=1777,noexec,nosuid,nodev'),
    Control('not_privileged', FLOOR, 'privileged', '5.5', 'privileged',
            'not privileged', 'never run privileged; add the one capability the service needs with an exception instead',
            _check_not_privileged,
            run_fix='run it without --privileged; --cap-add only the one capability it needs'),
    Control('no_docker_socket', FLOOR, 'volumes', '5.32', 'hostPath',
            'the Docker socket is not mounted', 'remove the mount of docker.sock or of a folder holding it (/run, /var/run)',
            _check_no_docker_socket,
            run_fix='run it without -v /var/run/docker.sock:... (or a mount of /run, /var/run)'),
    Control('cap_drop_all', BASELINE, 'cap_add', '5.4', 'capabilities drop ALL, add NET_BIND_SERVICE only',
            'all capabilities dropped, additions named', 'remove cap_add, or add an exception for cap_drop_all whose reason names each capability',
            _check_cap_drop_all, _cap_exception_covers,
            run_fix='run it with --cap-drop ALL, and --cap-add only the capabilities it needs'),
    Control('pids_limit', BASELINE, 'pids_limit', '5.29', '-',
            'has a pids limit', 'set pids_limit to a number above 0 (default 256)',
            _check_pids_limit,
            run_fix='run it with --pids-limit 256'),
    Control('no_swap', BASELINE, 'memory_swap', '5.11', '-',
            'cannot swap beyond its memory limit', 'leave memory_swap unset (it then equals memory)',
            _check_no_swap,
            run_fix='run it with --memory-swap equal to --memory, such as --memory 256m --memory-swap 256m'),
    Control('no_host_namespaces', BASELINE, 'network_mode, pid_mode', '5.10, 5.16, 5.17, 5.21, 5.31', 'host namespaces',
            'shares no namespace with the host', 'do not use host network, pid, ipc, uts or userns modes',
            _check_no_host_namespaces,
            run_fix='run it without --network host, --pid host, --ipc host, --uts host and --userns host'),
    Control('security_profiles', BASELINE, 'security_opts', '5.2, 5.3, 5.22', 'seccomp, AppArmor, SELinux, procMount',
            'seccomp, AppArmor, SELinux and masked paths stay on', 'remove the unconfined security option; a custom profile is fine',
            _check_security_profiles,
            run_fix='run it without --security-opt seccomp=unconfined, apparmor=unconfined, label=disable or systempaths=unconfined'),
    Control('no_sensitive_mounts', BASELINE, 'volumes', '5.6, 5.20', 'hostPath',
            'no sensitive host paths, binds read-only, no shared propagation (a local volume with o=bind and device=PATH '
            'is a bind of PATH)',
            "bind a narrower, non-system path; make binds read-only or say ':rw' (read_only: false) explicitly",
            _check_no_sensitive_mounts,
            run_fix='bind a narrower, non-system path, read-only: -v /srv/app/conf:/conf:ro'),
    Control('log_bounded', BASELINE, 'log_options', '-', '-',
            "logs written to the host's disk are rotated (max-size and max-file)",
            "keep the default log_options (max-size 10m, max-file 3) or set both for json-file and local; or ship logs with "
            "journald, syslog, fluentd or gelf",
            _check_log_bounded,
            run_fix='run it with --log-opt max-size=10m --log-opt max-file=3, or --log-driver local or journald'),
    Control('safe_sysctls', BASELINE, 'sysctls', '-', 'sysctls (safe set)',
            "only namespaced, container-safe sysctls: net.* in the container's own network namespace, kernel.shm*, "
            "kernel.msg*, kernel.sem, fs.mqueue.*",
            'remove the sysctl, or set it on the host if the host needs it',
            _check_safe_sysctls,
            run_fix='run it without that --sysctl; set it on the host if the host needs it'),
    Control('no_devices', BASELINE, 'devices', '5.18', '-',
            'no host devices', 'remove devices',
            _check_no_devices,
            run_fix='run it without --device and --gpus'),
    Control('ports_bound', BASELINE, 'ports', '5.8, 5.14', 'host ports',
            'published ports bind to an explicit address', "publish as 'HOST_IP:HOST_PORT:CONTAINER_PORT' with an address such as 127.0.0.1",
            _check_ports_bound,
            run_fix='publish on an address: -p 127.0.0.1:8080:8080'),
    Control('restart_policy', BASELINE, 'restart_policy', '5.15', '-',
            "restart policy 'always' (back after an engine restart or reboot; Docker's restart back-off bounds a crash loop), "
            "or 'no' for one-shot jobs",
            "use restart_policy 'always' (the default), or 'no' for a one-shot job",
            _check_restart_policy,
            run_fix='run it with --restart always, or --restart no for a one-shot job'),
    Control('unique_uid', BASELINE, 'user', '-', 'runAsUser',
            'no other service on the host runs as the same uid',
            'give each service its own uid, or name the sharing in the exceptions of both services',
            _check_unique_uid,
            run_fix='run it with a --user uid that no other container on the host uses'),
    Control('no_plain_secret_env', ADVISORY, 'env', '4.10', '-',
            'no env variable that looks like a secret is passed as plain env',
            'give the value as a secrets file (mounted at /run/secrets/<name>), or at least through secret_env or env_file',
            _check_no_plain_secret_env,
            run_fix='pass the secret as a read-only file (-v /path/secret:/run/secrets/name:ro), not with -e or --env'),
    Control('healthcheck', ADVISORY, 'healthcheck', '5.27', '-',
            'a healthcheck is defined', 'define a healthcheck in the image or the service',
            _check_healthcheck,
            run_fix="run it with --health-cmd, such as --health-cmd 'wget -q -O /dev/null 127.0.0.1:8080/healthz' --health-interval 30s"),
)

CONTROLS_BY_ID = dict((c.id, c) for c in CONTROLS)
FLOOR_IDS = tuple(c.id for c in CONTROLS if c.tier == FLOOR)
BASELINE_IDS = tuple(c.id for c in CONTROLS if c.tier == BASELINE)


def exceptions_of(inspect):
    """{control id: reason} recorded on a container by its labels."""
    labels = labels_of(inspect)
    return dict((key[len(LABEL_EXCEPTION):], value) for key, value in labels.items()
                if key.startswith(LABEL_EXCEPTION))


def evaluate_control(control, inspect, ctx=None, exceptions=None):
    """One finding: {'control', 'tier', 'status', 'message', 'evidence', 'reason', 'cis', 'pss', 'fix', 'field'}."""
    if exceptions is None:
        exceptions = exceptions_of(inspect)
    problems, evidence = control.check(inspect, ctx or {})
    hard = [p[1:] for p in problems if p.startswith('!')]
    warnings = [p[1:] for p in problems if p.startswith('?')]
    soft = [p for p in problems if p[:1] not in ('!', '?')]
    reason = (exceptions.get(control.id) or '').strip()
    status, message = PASS, control.summary
    if hard:
        status, message = FAIL, '; '.join(hard + soft)
    elif soft:
        message = '; '.join(soft)
        if control.tier == ADVISORY:
            status = WARN
        elif control.tier == BASELINE and reason:
            covered, why = (control.exception_covers(reason, inspect) if control.exception_covers else (True, ''))
            status = EXCEPTED if covered else FAIL
            if not covered:
                message = '%s (%s)' % (message, why)
        else:
            status = FAIL
    elif warnings:
        status, message = WARN, '; '.join(warnings)
    finding = {'control': control.id, 'tier': control.tier, 'status': status, 'message': message,
               'evidence': evidence, 'cis': control.cis, 'pss': control.pss, 'field': control.field,
               'fix': control.fix}
    if status == EXCEPTED:
        finding['reason'] = reason
    return finding


def without_image_labels(inspect, image_labels):
    """The container as the collection labelled it. Docker copies an image's labels onto its
    containers, so an image could carry containment.exception.* (or rw-binds, tmpfs-exec) labels
    and grant itself exceptions; containment.* labels inherited unchanged from the image are dropped."""
    if not image_labels:
        return inspect
    labels = labels_of(inspect)
    own = dict((key, value) for key, value in labels.items()
               if not (key.startswith(LABEL_PREFIX) and image_labels.get(key) == value))
    if len(own) == len(labels):
        return inspect
    result = dict(inspect)
    result['Config'] = dict(_config(inspect), Labels=own)
    return result


def evaluate(inspect, ctx=None, exceptions=None):
    """All controls over one container's inspect data, in table order.

    ctx may hold 'host_cpus', 'uid_owners' and 'image_labels' (the labels of the container's image)."""
    inspect = without_image_labels(inspect, (ctx or {}).get('image_labels'))
    return [evaluate_control(c, inspect, ctx, exceptions) for c in CONTROLS]


def summarize(findings):
    counts = dict((s, 0) for s in STATUSES)
    for finding in findings:
        counts[finding['status']] += 1
    return counts


# ================================================================ the daemon under the containers
# CIS Docker Benchmark section 2: what the engine decides for every container. DAEMON_CONTROLS
# has the same row shape as CONTROLS; `field` is the daemon.json key(s) that satisfy a control.
# A check reads daemon facts (daemon_facts() builds them):
#   'info'     -- the engine's `docker info` (None when unknown), live truth,
#   'settings' -- the effective daemon.json (the file, then the dockerd command line on top),
#                 None when not readable (the audit runs away from the engine host),
#   'bridge'   -- the default `bridge` network's Options, None when the engine has none;
#                 absent when unknown.
# A setting that cannot be read is a warning ('?'), never a silent pass.

# The capabilities Docker 20.10 gives a container by default (oci/caps/defaults.go).
DOCKER_DEFAULT_CAPS = ('CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID',
                       'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE')
# Linux capability numbers (include/uapi/linux/capability.h), for /proc/<pid>/status CapEff.
CAPABILITY_BITS = dict((name, bit) for bit, name in enumerate((
    'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
    'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
    'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
    'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
    'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
    'CHECKPOINT_RESTORE')))
# Log drivers that do not write unbounded files under the data root ('local' rotates by default).
BOUNDED_LOG_DRIVERS = ('local', 'journald', 'syslog', 'gelf', 'fluentd', 'awslogs', 'splunk', 'gcplogs',
                       'logentries', 'etwlogs', 'none')
LOOPBACK_REGISTRY_CIDRS = ('127.0.0.0/8', '::1/128')
BRIDGE_ICC = 'com.docker.network.bridge.enable_icc'

# dockerd flags that mean a daemon.json key: flag -> (key, kind); kind 'bool', 'str', 'list', 'map'.
_DOCKERD_FLAGS = {
    '--live-restore': ('live-restore', 'bool'), '--icc': ('icc', 'bool'), '--userland-proxy': ('userland-proxy', 'bool'),
    '--no-new-privileges': ('no-new-privileges', 'bool'), '--experimental': ('experimental', 'bool'),
    '--iptables': ('iptables', 'bool'), '--tlsverify': ('tlsverify', 'bool'), '--tls': ('tls', 'bool'),
    '--debug': ('debug', 'bool'), '-D': ('debug', 'bool'),
    '--userns-remap': ('userns-remap', 'str'), '--log-driver': ('log-driver', 'str'), '--log-level': ('log-level', 'str'),
    '-l': ('log-level', 'str'), '--tlscacert': ('tlscacert', 'str'), '--tlscert': ('tlscert', 'str'),
    '--tlskey': ('tlskey', 'str'), '--config-file': ('config-file', 'str'), '--data-root': ('data-root', 'str'),
    '--host': ('hosts', 'list'), '-H': ('hosts', 'list'), '--insecure-registry': ('insecure-registries', 'list'),
    '--authorization-plugin': ('authorization-plugins', 'list'),
    '--log-opt': ('log-opts', 'map'), '--default-ulimit': ('default-ulimits', 'map'),
}
_TRUE_WORDS = ('', 'true', '1', 't', 'yes')


def parse_dockerd_args(argv):
    """The daemon.json-shaped settings a dockerd command line sets: ['dockerd', '--live-restore',
    '-H', 'tcp://0.0.0.0:2375', '--log-opt', 'max-size=10m'] -> {'live-restore': True,
    'hosts': ['tcp://0.0.0.0:2375'], 'log-opts': {'max-size': '10m'}}. Unknown flags are ignored."""
    settings = {}
    args = list(argv or [])[1:]
    k = 0
    while k < len(args):
        arg = args[k]
        k += 1
        name, value = (arg.split('=', 1) + [None])[:2] if arg.startswith('--') else (arg, None)
        if name not in _DOCKERD_FLAGS:
            continue
        key, kind = _DOCKERD_FLAGS[name]
        if kind == 'bool':
            settings[key] = (value or '').lower() in _TRUE_WORDS
            continue
        if value is None:
            if k >= len(args):
                break
            value, k = args[k], k + 1
        if kind == 'str':
            settings[key] = value
        elif kind == 'list':
            settings.setdefault(key, []).append(value)
        elif key == 'default-ulimits':
            limit, _sep, bounds = value.partition('=')
            soft, _sep, hard = bounds.partition(':')
            settings.setdefault(key, {})[limit] = {'Name': limit, 'Soft': soft, 'Hard': hard or soft}
        else:
            opt, _sep, opt_value = value.partition('=')
            settings.setdefault(key, {})[opt] = opt_value
    return settings


def effective_daemon_settings(file_settings, flag_settings):
    """What dockerd runs with: the config file's keys, then the command line's (dockerd refuses a key
    given both ways, so they never disagree on a started daemon). None when neither was read."""
    if file_settings is None and flag_settings is None:
        return None
    merged = dict(file_settings or {})
    merged.update(flag_settings or {})
    return merged


def daemon_default_no_new_privileges(settings):
    """True/False from the daemon's settings, None when they were not read."""
    if settings is None:
        return None
    return bool(settings.get('no-new-privileges'))


def security_option_names(info):
    """{'seccomp', 'apparmor', 'userns', ...} from docker info's SecurityOptions ('name=seccomp,profile=default')."""
    names = set()
    for opt in (info or {}).get('SecurityOptions') or []:
        for part in str(opt).split(','):
            key, _sep, value = part.partition('=')
            if key.strip() == 'name':
                names.add(value.strip())
    return names


def daemon_context(facts):
    """What container checks need to know of their daemon (ctx['daemon'])."""
    facts = facts or {}
    names = security_option_names(facts.get('info'))
    return {'apparmor': 'apparmor' in names, 'userns': 'userns' in names,
            'no_new_privileges': daemon_default_no_new_privileges(facts.get('settings'))}


def _setting(facts, key, default):
    """(known, value): a daemon.json key of the effective settings, dockerd's default when absent."""
    settings = facts.get('settings')
    if settings is None:
        return False, None
    return True, settings.get(key, default)


def _unread(facts, what):
    return '?%s is only in daemon.json or the dockerd command line, which the audit could not read (%s)' % (
        what, facts.get('settings_source') or 'not on the engine host')


def _as_bool(value):
    return value if isinstance(value, bool) else str(value).strip().lower() in ('true', '1')


def _check_live_restore(facts, ctx):
    info = facts.get('info') or {}
    if 'LiveRestoreEnabled' in info:
        value = bool(info['LiveRestoreEnabled'])
        evidence = {'info.LiveRestoreEnabled': value}
    else:
        known, value = _setting(facts, 'live-restore', False)
        if not known:
            return [_unread(facts, 'live-restore')], {}
        evidence = {'setting live-restore': value}
    return ([] if _as_bool(value) else ['live-restore is off: restarting or upgrading the daemon stops every container']), evidence


def _check_default_log_limits(facts, ctx):
    info = facts.get('info') or {}
    known, driver = _setting(facts, 'log-driver', 'json-file')
    driver = info.get('LoggingDriver') or driver
    evidence = {'log-driver': driver}
    if driver in BOUNDED_LOG_DRIVERS:
        return [], evidence
    if driver not in ('json-file', None):
        return ['?log driver %s: check that it bounds what it keeps' % driver], evidence
    known, opts = _setting(facts, 'log-opts', {})
    if not known:
        return [_unread(facts, 'log-opts max-size')], evidence
    evidence['log-opts'] = opts or {}
    size = _LEADING_NUMBER.match(str((opts or {}).get('max-size', '')))
    if not size or float(size.group(1)) <= 0:
        return ['the json-file log driver has no max-size in log-opts: a chatty container fills the disk'], evidence
    return [], evidence


def _check_icc_disabled(facts, ctx):
    if 'bridge' not in facts:
        return ['?the default bridge network could not be inspected'], {}
    if facts['bridge'] is None:
        return [], {'bridge': 'the engine has no default bridge network'}
    value = str((facts['bridge'] or {}).get(BRIDGE_ICC, 'true')).lower()
    evidence = {'bridge ' + BRIDGE_ICC: value}
    if value != 'false':
        known, icc = _setting(facts, 'icc', True)
        if known:
            evidence['setting icc'] = icc
        if known and not _as_bool(icc):
            return ['icc is off in the settings, but the default bridge still lets containers talk: the daemon keeps '
                    'the bridge it had while containers run; it applies at a daemon restart with no container running'], evidence
        return ['containers on the default bridge can reach each other (icc is on)'], evidence
    return [], evidence


def _check_userland_proxy_off(facts, ctx):
    known, value = _setting(facts, 'userland-proxy', True)
    if not known:
        return [_unread(facts, 'userland-proxy')], {}
    evidence = {'setting userland-proxy': value}
    return (['userland-proxy is on: a docker-proxy process per published port'] if _as_bool(value) else []), evidence


def _check_default_no_new_privileges(facts, ctx):
    known, value = _setting(facts, 'no-new-privileges', False)
    if not known:
        return [_unread(facts, 'no-new-privileges')], {}
    evidence = {'setting no-new-privileges': value}
    return ([] if _as_bool(value) else ['containers created without no-new-privileges may gain privileges '
                                        'through setuid binaries']), evidence


def _check_userns_remap(facts, ctx):
    names = security_option_names(facts.get('info'))
    evidence = {'info.SecurityOptions': (facts.get('info') or {}).get('SecurityOptions')}
    return ([] if 'userns' in names else ['user namespace remapping is off: uid 0 in a container is uid 0 on the host '
                                          '(turning it on changes volume ownership)']), evidence


def _check_tls_on_tcp(facts, ctx):
    known, hosts = _setting(facts, 'hosts', [])
    if not known:
        return [_unread(facts, 'hosts')], {}
    tcp = [h for h in hosts or [] if str(h).startswith('tcp://') or re.match(r'^[\d.]*:\d+$', str(h))]
    _known, verify = _setting(facts, 'tlsverify', False)
    evidence = {'setting hosts': hosts or [], 'setting tlsverify': verify}
    if tcp and not _as_bool(verify):
        return ['!the daemon listens on %s without tlsverify: anyone who reaches it is root on the host' % ', '.join(tcp)], evidence
    return [], evidence


def _check_experimental_off(facts, ctx):
    info = facts.get('info') or {}
    if 'ExperimentalBuild' in info:
        value, evidence = info['ExperimentalBuild'], {'info.ExperimentalBuild': info['ExperimentalBuild']}
    else:
        known, value = _setting(facts, 'experimental', False)
        if not known:
            return [_unread(facts, 'experimental')], {}
        evidence = {'setting experimental': value}
    return (['experimental features are on'] if _as_bool(value) else []), evidence


def _check_default_ulimits(facts, ctx):
    known, value = _setting(facts, 'default-ulimits', {})
    if not known:
        return [_unread(facts, 'default-ulimits')], {}
    return ([] if value else ['no default-ulimits: containers inherit the daemon\'s limits']), {'setting default-ulimits': value or {}}


def _check_insecure_registries(facts, ctx):
    info = facts.get('info')
    if info is not None and 'RegistryConfig' in info:
        registry = info.get('RegistryConfig') or {}
        cidrs = [c for c in registry.get('InsecureRegistryCIDRs') or [] if c not in LOOPBACK_REGISTRY_CIDRS]
        names = sorted(n for n, c in (registry.get('IndexConfigs') or {}).items() if not (c or {}).get('Secure', True))
        insecure = cidrs + names
    else:
        known, insecure = _setting(facts, 'insecure-registries', [])
        if not known:
            return [_unread(facts, 'insecure-registries')], {}
    evidence = {'insecure registries': insecure}
    return (['images are pulled without TLS from %s' % ', '.join(insecure)] if insecure else []), evidence


def _check_storage_driver(facts, ctx):
    driver = (facts.get('info') or {}).get('Driver')
    if driver is None:
        return ['?the storage driver is unknown (no docker info)'], {}
    return (['the aufs storage driver is deprecated and unmaintained'] if driver == 'aufs' else []), {'info.Driver': driver}


def _check_log_level(facts, ctx):
    info = facts.get('info') or {}
    known, level = _setting(facts, 'log-level', 'info')
    debug = bool(info.get('Debug')) or (known and (level == 'debug' or _as_bool(_setting(facts, 'debug', False)[1])))
    evidence = {'info.Debug': info.get('Debug')}
    if known:
        evidence['setting log-level'] = level
    if debug:
        return ['the daemon logs at debug level'], evidence
    if known and str(level).lower() in ('warn', 'error', 'fatal', 'panic'):
        return ['log-level %s drops the info messages an investigation needs' % level], evidence
    return [], evidence


def _check_iptables_on(facts, ctx):
    known, value = _setting(facts, 'iptables', True)
    if not known:
        return [_unread(facts, 'iptables')], {}
    return ([] if _as_bool(value) else ['iptables is off: the daemon does not manage the firewall rules of published '
                                        'ports and icc']), {'setting iptables': value}


def _check_authorization_plugin(facts, ctx):
    plugins = ((facts.get('info') or {}).get('Plugins') or {}).get('Authorization') or []
    return ([] if plugins else ['no authorization plugin: every client of the socket may do anything']), {
        'info.Plugins.Authorization': plugins}


DAEMON_CONTROLS = (
    Control('live_restore', BASELINE, 'live-restore', '2.15', '-',
            'live-restore is on: containers keep running while the daemon restarts',
            'set "live-restore": true in daemon.json (the secure_engine role; a reload by SIGHUP applies it)',
            _check_live_restore),
    Control('default_log_limits', BASELINE, 'log-driver, log-opts', '-', '-',
            "the default log driver bounds a container's logs",
            'set "log-driver": "local", or "json-file" with "log-opts": {"max-size": "10m", "max-file": "3"} in daemon.json',
            _check_default_log_limits),
    Control('icc_disabled', BASELINE, 'icc', '2.2', '-',
            'containers on the default bridge cannot talk to each other',
            'set "icc": false in daemon.json and restart the daemon with no container running; give services networks of their own',
            _check_icc_disabled),
    Control('userland_proxy_off', BASELINE, 'userland-proxy', '2.16', '-',
            'the userland proxy is off (published ports by iptables only)',
            'set "userland-proxy": false in daemon.json',
            _check_userland_proxy_off),
    Control('default_no_new_privileges', BASELINE, 'no-new-privileges', '2.14', 'allowPrivilegeEscalation=false',
            'every container is created with no-new-privileges, also those made by hand or by other tools',
            'set "no-new-privileges": true in daemon.json (applies to containers created afterwards)',
            _check_default_no_new_privileges),
    Control('tls_on_tcp', FLOOR, 'hosts, tlsverify', '2.7', '-',
            'any TCP listener of the daemon verifies client certificates (tlsverify)',
            'listen on the unix socket only, or set "tlsverify": true with tlscacert, tlscert and tlskey (docs/connection.md)',
            _check_tls_on_tcp),
    Control('experimental_off', BASELINE, 'experimental', '2.18', '-',
            'experimental features are off',
            'set "experimental": false in daemon.json',
            _check_experimental_off),
    Control('insecure_registries', BASELINE, 'insecure-registries', '2.5', '-',
            'images are pulled over TLS only',
            'remove insecure-registries from daemon.json; give the registry a certificate (/etc/docker/certs.d)',
            _check_insecure_registries),
    Control('storage_driver', BASELINE, 'storage-driver', '2.6', '-',
            'the storage driver is not aufs',
            'use the overlay2 storage driver',
            _check_storage_driver),
    Control('log_level', BASELINE, 'log-level, debug', '2.3', '-',
            'the daemon logs at info level',
            'set "log-level": "info" in daemon.json and drop "debug"',
            _check_log_level),
    Control('iptables_on', BASELINE, 'iptables', '2.4', '-',
            'the daemon manages iptables',
            'remove "iptables": false from daemon.json',
            _check_iptables_on),
    Control('userns_remap', ADVISORY, 'userns-remap', '2.9', 'runAsUser (host users)',
            'user namespace remapping is on',
            'set "userns-remap": "default" in daemon.json once volume ownership is planned for (it changes it)',
            _check_userns_remap),
    Control('default_ulimits', ADVISORY, 'default-ulimits', '2.8', '-',
            'default ulimits are set',
            'set "default-ulimits" in daemon.json, such as {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 65536}}',
            _check_default_ulimits),
    Control('authorization_plugin', ADVISORY, 'authorization-plugins', '2.12', '-',
            'an authorization plugin limits what clients of the socket may do',
            'install an authorization plugin (for example opa-docker-authz) and list it in authorization-plugins',
            _check_authorization_plugin),
)
DAEMON_CONTROLS_BY_ID = dict((c.id, c) for c in DAEMON_CONTROLS)


def evaluate_daemon(facts, exceptions=None):
    """All daemon controls over one engine's facts, in table order. `exceptions` ({control: reason})
    are the relaxations the secure_engine role recorded; only baseline controls can be excepted."""
    facts = facts or {}
    return [evaluate_control(c, facts, {}, dict(exceptions or {})) for c in DAEMON_CONTROLS]


# ---------------------------------------------------------------- the kernel's truth for a container
# When the audit runs on the engine host, /proc/<State.Pid>/status of a running container is what the
# kernel enforces (ctx['kernel']); it overrides what the configuration says.

def parse_proc_status(text):
    """/proc/<pid>/status -> {'NoNewPrivs': 0|1, 'CapEff': int, 'Uid': [real, effective, saved, fs], 'Gid': [...]}."""
    state = {}
    for line in str(text or '').splitlines():
        key, _sep, value = line.partition(':')
        value = value.strip()
        if key == 'NoNewPrivs' and value.isdigit():
            state[key] = int(value)
        elif key == 'CapEff' and value:
            state[key] = int(value, 16)
        elif key in ('Uid', 'Gid'):
            state[key] = [int(v) for v in value.split() if v.isdigit()]
    return state


def cap_names(mask):
    return sorted(name for name, bit in CAPABILITY_BITS.items() if mask >> bit & 1)


def configured_caps(inspect):
    """The capabilities the configuration lets the container's processes hold, None for all (privileged)."""
    host = _host(inspect)
    if host.get('Privileged'):
        return None
    drop, add = set(normalize_caps(host.get('CapDrop'))), set(normalize_caps(host.get('CapAdd')))
    if 'ALL' in add:
        return None
    base = set() if 'ALL' in drop else set(DOCKER_DEFAULT_CAPS) - drop
    return base | add


def expected_no_new_privileges(inspect, daemon):
    """1/0 as the configuration predicts for the container's processes, None when it cannot tell:
    its own SecurityOpt wins, else the daemon's default (which applies from the container's creation on)."""
    state = no_new_privileges_state(_host(inspect).get('SecurityOpt'))
    if state is None:
        state = (daemon or {}).get('no_new_privileges')
    return None if state is None else int(bool(state))


def _check_kernel_matches_config(inspect, ctx):
    kernel = (ctx or {}).get('kernel')
    if not kernel or not kernel.get('status'):
        return [], {'kernel': 'not read: %s' % ((kernel or {}).get('why') or 'no kernel state')}
    status, daemon = kernel['status'], (ctx or {}).get('daemon') or {}
    evidence = {'kernel.pid': kernel.get('pid'), 'kernel.NoNewPrivs': status.get('NoNewPrivs'),
                'kernel.CapEff': cap_names(status.get('CapEff', 0)), 'kernel.Uid': status.get('Uid'),
                'kernel.Gid': status.get('Gid')}
    problems = []
    nnp = expected_no_new_privileges(inspect, daemon)
    if nnp is not None and 'NoNewPrivs' in status and status['NoNewPrivs'] != nnp:
        problems.append('the configuration means NoNewPrivs %d, the kernel shows %d%s' % (
            nnp, status['NoNewPrivs'], ' (the container was created before the daemon set no-new-privileges)'
            if nnp and daemon.get('no_new_privileges') and no_new_privileges_state(_host(inspect).get('SecurityOpt')) is None else ''))
    allowed = configured_caps(inspect)
    if allowed is not None and 'CapEff' in status:
        extra = [c for c in cap_names(status['CapEff']) if c not in allowed]
        if extra:
            problems.append('the kernel shows capabilities %s that the configuration does not grant' % ', '.join(extra))
    match = _NUMERIC_USER.match(str(_config(inspect).get('User') or '').strip())
    if match and not daemon.get('userns'):  # remapped ids are host ids, not the configured ones
        for key, want in (('Uid', int(match.group(1))), ('Gid', int(match.group(2)))):
            ids = status.get(key) or []
            if len(ids) > 1 and ids[1] != want:
                problems.append('the configuration says %s %d, the kernel shows effective %s %d' % (key.lower(), want, key.lower(), ids[1]))
    return problems, evidence


KERNEL_CONTROLS = (
    Control('kernel_matches_config', FLOOR, 'security_opts, cap_add, user', '5.26, 5.4, 4.1', '-',
            "a running container's process holds what its configuration says (NoNewPrivs, CapEff, Uid, Gid in "
            "/proc/<pid>/status; read when the audit runs on the engine host)",
            'recreate the container so it gets what its configuration and the daemon now say (secure_container does)',
            _check_kernel_matches_config,
            run_fix='recreate the container (docker rm -f, then docker run again) so it gets what its flags and the daemon now say'),
)
# What the audit evaluates per container: the enforced table, then what only a running process shows.
AUDIT_CONTROLS = CONTROLS + KERNEL_CONTROLS


def evaluate_kernel(inspect, ctx=None):
    return [evaluate_control(c, inspect, ctx, {}) for c in KERNEL_CONTROLS]
