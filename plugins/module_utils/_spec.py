# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# A service spec, from the module's options to the container Docker would run. Every option is
# declared once, as a row of OPTIONS (near the end of this file): its argument spec, how it is
# normalised and checked, where it lands in the shape of `docker inspect`, how the live value is
# read back for the comparison and how the diff shows it. The loops over that table are
#   normalize_spec()  checks types and units and returns a canonical spec (stable, hashable);
#   desired_inspect() turns it into the shape of `docker inspect`, the one shape the
#                     policy controls, the comparison and the engine all read;
#   validate_spec()   runs the policy over that shape and refuses with every breach named;
#   compare()         reads each option back from a live container and from the desired one.
# Nothing here imports Docker or talks to an engine.

from __future__ import annotations

import copy
import difflib
import hashlib
import ipaddress
import json
import math
import re
import shlex

from ansible.module_utils.common.text.formatters import human_to_bytes
from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy
from ansible_collections.containment.docker.plugins.module_utils import _secrets as secrets

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
# Go's time.ParseDuration ('1m30s', '500ms', '1h'), or a number of seconds.
_DURATION = re.compile(r'\s*((?:[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h))+|[0-9]+(?:\.[0-9]+)?)\s*', re.ASCII)
_DURATION_PART = re.compile(r'([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)', re.ASCII)
_INTEGER = re.compile(r'\s*[-+]?[0-9]+\s*', re.ASCII)
_DECIMAL = re.compile(r'\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*', re.ASCII)
# moby daemon/names: RestrictedNamePattern = ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$, for container and volume names.
_NAME = re.compile(r'[a-zA-Z0-9][a-zA-Z0-9_.-]+', re.ASCII)
_NETWORK_NAME = re.compile(r'[a-zA-Z0-9][a-zA-Z0-9_.-]*', re.ASCII)
_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*', re.ASCII)
_USER_IDS = re.compile(r'([0-9]+)(?::([0-9]+))?', re.ASCII)
_UID_GID = re.compile(r'([0-9]+):([0-9]+)', re.ASCII)
_DIGITS = re.compile(r'[0-9]+', re.ASCII)
_PORT_RANGE = re.compile(r'([0-9]+)(?:-([0-9]+))?', re.ASCII)
# RFC 1123 host names (hostname, domainname, etc_hosts names, network aliases, DNS search domains).
_HOST_LABEL = r'[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
_HOSTNAME = re.compile(r'%s(?:\.%s)*\.?' % (_HOST_LABEL, _HOST_LABEL), re.ASCII)
_SYSCTL = re.compile(r'[a-z0-9_]+(?:[./][A-Za-z0-9_-]+)+', re.ASCII)
_CPUSET = re.compile(r'[0-9]+(?:-[0-9]+)?(?:,[0-9]+(?:-[0-9]+)?)*', re.ASCII)
_LOG_DRIVER = re.compile(r'[A-Za-z0-9][A-Za-z0-9_./:-]*', re.ASCII)
_SIGNAL = re.compile(r'(?:SIG)?(?:[A-Z][A-Z0-9]*(?:[+-][0-9]+)?)|[0-9]+', re.ASCII)
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
# getrlimit(2) resources by the names the engine takes (docker/go-units ulimit.go).
ULIMIT_NAMES = ('core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss',
                'rtprio', 'rttime', 'sigpending', 'stack')
# Log drivers that write to the container's own disk, and the rotation options they take (moby daemon/logger).
LOCAL_LOG_DRIVERS = ('json-file', 'local')
DEFAULT_LOG_OPTIONS = {'max-size': '10m', 'max-file': '3'}
_LOG_FILE_OPTIONS = {'json-file': ('max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'),
                     'local': ('max-size', 'max-file', 'compress')}
# Bind options beyond ro/rw (moby volume/mounts linux_parser): SELinux relabelling, propagation, no copy.
_LABEL_MODES = ('z', 'Z')
_PROPAGATIONS = ('shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate')
DEPENDENCY_CONDITIONS = ('service_started', 'service_healthy')
# A port range longer than this is a typo: each port becomes one binding (and one iptables rule).
MAX_PORT_RANGE = 1000
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
    """The problems of one service. `offline`: checked where the service will not run (the role's check on the
    controller), so the files named by env_file, secrets and seccomp=FILE, which are on the managed host, are not read."""

    def __init__(self, service, offline=False):
        self.service = service
        self.offline = offline
        self.problems = []

    def add(self, field, rule, message, fix):
        self.problems.append(dict(service=self.service, field=field, rule=rule, message=message, fix=fix))


def _unknown_key(errors, field, key, known, what='there is'):
    """An unknown key, with the closest known one as the fix ("did you mean ...")."""
    known = sorted(str(k) for k in known)
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    fix = ("did you mean %r? Rename it" % close[0] if close else
           "remove it or correct the spelling; the options are: %s" % ', '.join(known))
    errors.add(field, 'unknown option', '%s no option %r' % (what, key), fix)


# ---------------------------------------------------------------- units

def parse_size(value):
    """'128m', '1g', '64MiB', '512k', 1048576 -> bytes (ansible-core's human_to_bytes). Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError('not a size')
    if isinstance(value, int):
        if value < 0:
            raise ValueError('not a size')
        return value
    match = _SIZE.fullmatch(str(value))  # ASCII digits only; 'MiB' and 'mb' are 'M' as for the docker CLI
    if not match:
        raise ValueError('not a size')
    return int(human_to_bytes('%s%s' % (match.group(1), match.group(2).upper() or 'B')))


def format_size(value):
    """134217728 -> '128m': a size in the units an inventory writes."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return value
    for unit in ('t', 'g', 'm', 'k'):
        if value % _UNITS[unit] == 0:
            return '%d%s' % (value // _UNITS[unit], unit)
    return str(value)


def parse_duration(value):
    """'30s', '1m30s', '500ms', 10 (seconds) -> nanoseconds, as Go's time.ParseDuration. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError('not a duration')
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ValueError('not a duration')
        return int(value * 10 ** 9)
    match = _DURATION.fullmatch(str(value))
    if not match:
        raise ValueError('not a duration')
    text = match.group(1)
    if _DECIMAL.fullmatch(text):
        return int(float(text) * 10 ** 9)
    return sum(int(round(float(number) * _NS[unit])) for number, unit in _DURATION_PART.findall(text))


def format_duration(ns):
    """90000000000 -> '1m30s': a duration in the units an inventory writes (0 -> '0s')."""
    if not isinstance(ns, int) or isinstance(ns, bool) or ns < 0:
        return ns
    if ns == 0:
        return '0s'
    parts = []
    for unit in ('h', 'm', 's', 'ms', 'us', 'ns'):
        count, ns = divmod(ns, _NS[unit])
        if count:
            parts.append('%d%s' % (count, unit))
    return ''.join(parts)


def parse_ports(text):
    """'[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTO]' as the Compose spec writes ports (an IPv6
    HOST_IP in brackets or not, PROTO in any case) -> one {'host_ip', 'host_port', 'container_port', 'proto'}
    per port of the range. Raises ValueError."""
    text = str(text).strip()
    body, _sep, proto = text.partition('/')
    proto = proto.lower() or 'tcp'
    if proto not in ('tcp', 'udp', 'sctp'):
        raise ValueError('protocol %r is none of tcp, udp, sctp' % proto)
    if body.startswith('['):
        ip, sep, rest = body[1:].partition(']')
        if not sep or not rest.startswith(':') or rest.count(':') != 2:
            raise ValueError('not [IPV6]:HOST_PORT:CONTAINER_PORT')
        ip = ip or '::'
        host_port, container_port = rest[1:].split(':')
    else:
        parts = body.rsplit(':', 2)
        ip = parts[0] if len(parts) == 3 else ''
        host_port = parts[-2] if len(parts) > 1 else ''
        container_port = parts[-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError('host IP %r is not an IP address' % ip)
    container = _port_range(container_port)
    host = _port_range(host_port) if host_port else None
    if container is None or (host_port and host is None):
        raise ValueError('a port is not a number from 1 to 65535 (or a range FIRST-LAST of them) in ASCII digits')
    if host is not None and len(host) != len(container):
        raise ValueError('the host range has %d ports, the container range %d' % (len(host), len(container)))
    if len(container) > MAX_PORT_RANGE:
        raise ValueError('the range has more than %d ports' % MAX_PORT_RANGE)
    return [dict(host_ip=ip, host_port=str(host[i]) if host else '', container_port=port, proto=proto)
            for i, port in enumerate(container)]


def _port_range(text):
    match = _PORT_RANGE.fullmatch(text)
    if not match:
        return None
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if not 0 < first <= last < 65536:
        return None
    return list(range(first, last + 1))


def parse_port(text):
    """One port (no range): {'host_ip', 'host_port', 'container_port', 'proto'}. Raises ValueError."""
    ports = parse_ports(text)
    if len(ports) != 1:
        raise ValueError('a range, not one port')
    return ports[0]


def parse_volume(text):
    """'SOURCE:TARGET[:OPTIONS]' -> {'type', 'source', 'target', 'mode', 'explicit', 'flags'}, OPTIONS being
    ro or rw, z or Z (SELinux), nocopy (volumes) and a propagation such as rslave (binds), comma-separated.
    Raises ValueError."""
    parts = str(text).strip().split(':')
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError('not SOURCE:TARGET[:OPTIONS]')
    source, target = parts[0], parts[1]
    options = parts[2].split(',') if len(parts) == 3 else []
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
    modes = [o for o in options if o in ('ro', 'rw')]
    labels = [o for o in options if o in _LABEL_MODES]
    propagation = [o for o in options if o in _PROPAGATIONS]
    nocopy = [o for o in options if o == 'nocopy']
    unknown = [o for o in options if o not in modes + labels + propagation + nocopy]
    if unknown:
        raise ValueError('option %r is none of ro, rw, z, Z, nocopy, %s' % (unknown[0], ', '.join(_PROPAGATIONS)))
    for group, what in ((modes, 'ro or rw'), (labels, 'z or Z'), (propagation, 'propagation'), (nocopy, 'nocopy')):
        if len(group) > 1:
            raise ValueError('it gives %s more than once' % what)
    if propagation and kind != 'bind':
        raise ValueError('propagation %s applies to bind mounts only' % propagation[0])
    if nocopy and kind != 'volume':
        raise ValueError('nocopy applies to named volumes only')
    default = 'ro' if kind == 'bind' else 'rw'
    return dict(type=kind, source=source.rstrip('/') or '/', target=target.rstrip('/') or '/',
                mode=modes[0] if modes else default, explicit=bool(modes), flags=labels + nocopy + propagation)


def bind_text(volume):
    """The HostConfig.Binds entry of a parsed volume, its options in one order so that it compares equal."""
    return '%s:%s:%s' % (volume['source'], volume['target'], ','.join([volume['mode']] + volume['flags']))


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


# ---------------------------------------------------------------- checks shared by the rows

def _env_values(errors, field, mapping):
    """env or secret_env as {name: text}; a problem names the variable, never its value."""
    result = {}
    for key, value in sorted((mapping or {}).items(), key=lambda kv: str(kv[0])):
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            errors.add(field, 'format', 'environment variable name %r is invalid' % (key,),
                       'use ASCII letters, digits and _, not starting with a digit')
        if value is None:
            # Compose reads a null as "take it from the environment"; the module's environment is not the service's
            errors.add(field, 'format', 'value of %s is null, which Compose takes from the environment; this collection does not' % key,
                       "give the value as a string (write '' for an empty value), for example \"{{ lookup('ansible.builtin.env', '%s') }}\"" % key)
        elif isinstance(value, (dict, list)):
            errors.add(field, 'format', 'value of %s is a %s' % (key, type(value).__name__), "give a string (write '' for an empty value)")
        elif '\x00' in str(value):
            errors.add(field, 'format', 'value of %s holds a NUL character' % key, 'remove the NUL')
        result[str(key)] = _label_text(value)
    return result


def _secret_item(errors, item, user):
    if not isinstance(item, dict):
        item = {}
        errors.add('secrets', 'format', 'a secret must be a mapping', 'give name, source and, if needed, target')
    for key in sorted(set(item) - set(SERVICE_OPTIONS['secrets']['options'])):
        _unknown_key(errors, 'secrets', key, SERVICE_OPTIONS['secrets']['options'], 'secrets have')
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
    if errors.offline:
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
        _unknown_key(errors, 'tmpfs', key, SERVICE_OPTIONS['tmpfs']['options'], 'tmpfs has')
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
        _unknown_key(errors, 'healthcheck', key, options, 'healthcheck has')
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
            result[key] = 0
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


# ---------------------------------------------------------------- parse: one function per option that needs more
# than a type. Each is parse(errors, value, spec) -> the canonical value; `value` has its type checked and its
# default filled in, `spec` holds the options of the rows above (the table is read top to bottom).

def _parse_name(errors, name, spec):
    if name is None:
        return None
    if not _NAME.fullmatch(str(name)):
        errors.add('name', 'format', 'name %r is not a valid container name' % name,
                   'use two or more letters, digits, _ . - starting with a letter or digit (the engine\'s rule)')
    elif str(name).endswith(RESERVED_SUFFIXES):
        errors.add('name', 'format', 'name %r ends with %s, which a replace gives its old and new containers' % (
            name, ' or '.join(RESERVED_SUFFIXES)), 'choose a name without that ending')
    elif name == policy.LOCK_CONTAINER:
        errors.add('name', 'format', 'name %r is the container of the host lock' % name, 'choose another name')
    return str(name)


def _parse_image(errors, value, spec):
    return _image(errors, value)


def _parse_command(errors, value, spec):
    return _command(errors, 'command', value)


def _parse_entrypoint(errors, value, spec):
    return _command(errors, 'entrypoint', value)


def _parse_env(errors, value, spec):
    return _env_values(errors, 'env', value)


def _parse_user(errors, value, spec):
    user = str(value).strip() if value is not None else None
    _check_user(errors, user)
    return user


def _parse_groups(errors, value, spec):
    """Supplementary groups as the engine takes them (GroupAdd); the policy refuses 0 and names."""
    groups = []
    for group in value or []:
        text = str(group).strip()
        if not text or _has_control(text):
            errors.add('groups', 'format', 'group %r is empty or holds a control character' % (group,), "give a numeric gid such as '1600'")
        elif _DIGITS.fullmatch(text) and int(text) > MAX_ID:
            errors.add('groups', 'format', 'group %s is above %d, which runc refuses' % (text, MAX_ID), 'use a gid from 1 to %d' % MAX_ID)
        groups.append(text)
    for group in sorted(set(g for g in groups if groups.count(g) > 1)):
        errors.add('groups', 'format', 'group %s is listed twice' % group, 'list each group once')
    return groups


def _sizer(field):
    return lambda errors, value, spec: _size_field(errors, field, value)


def _parse_memory_swap(errors, value, spec):
    swap = _size_field(errors, 'memory_swap', value)
    if swap and spec['memory'] is not None and swap < spec['memory']:
        # moby daemon_unix.go: "Minimum memoryswap limit should be larger than memory limit"
        errors.add('memory_swap', 'engine rule', 'memory_swap %r is less than memory %r' % (value, format_size(spec['memory'])),
                   'leave memory_swap unset (it then equals memory) or make it at least memory')
    return swap


def _parse_memory_reservation(errors, value, spec):
    reservation = _size_field(errors, 'memory_reservation', value)
    if reservation and spec['memory'] and reservation > spec['memory']:
        # moby daemon_unix.go: "Minimum memory limit can not be less than memory reservation limit"
        errors.add('memory_reservation', 'engine rule', 'memory_reservation %r is more than memory %r' % (
            value, format_size(spec['memory'])), 'give a reservation below the memory limit, or leave it unset')
    return reservation


def _parse_cpus(errors, value, spec):
    return _cpus(errors, value)


def _integer(field, low, high):
    return lambda errors, value, spec: _int_field(errors, field, value, low, high)


def _parse_cpuset(errors, value, spec):
    if value is None or str(value).strip() == '':
        return None
    text = str(value).strip()
    if not _CPUSET.fullmatch(text):
        errors.add('cpuset_cpus', 'format', 'cpuset_cpus %r is not a list of CPUs' % text, "give CPUs such as '0-1' or '0,2'")
    return text


def _device_rates(field, size):
    def parse(errors, value, spec):
        rates = []
        for item in value or []:
            if not isinstance(item, dict) or set(item) - {'path', 'rate'}:
                errors.add(field, 'format', '%s item %r is not {path, rate}' % (field, item), "give items such as {path: /dev/vda, rate: '10m'}")
                continue
            path = str(item.get('path') or '')
            if not path.startswith('/dev/') or _has_control(path):
                errors.add(field, 'format', '%s path %r is not a device under /dev' % (field, path), 'give the device, such as /dev/vda')
            if size:
                rate = _size_field(errors, field, item.get('rate'))
            else:
                rate = _int_field(errors, field, item.get('rate'), 0, INT64_MAX, label='%s rate' % field)
            if rate is None:
                errors.add(field, 'format', '%s %s has no rate' % (field, path),
                           'give the rate' + (" as a size such as '10m'" if size else ' in operations per second'))
            rates.append(dict(path=path, rate=rate))
        paths = [r['path'] for r in rates]
        for path in sorted(set(p for p in paths if paths.count(p) > 1)):
            errors.add(field, 'format', '%s lists %s twice' % (field, path), 'give each device once')
        return sorted(rates, key=lambda r: r['path'])
    return parse


def _parse_ulimits(errors, value, spec):
    """'TYPE:SOFT[:HARD]' as docker_container writes them -> {'name', 'soft', 'hard'}."""
    fix = "write ulimits as 'TYPE:SOFT[:HARD]' with TYPE one of %s, such as 'nofile:1024:2048'" % ', '.join(ULIMIT_NAMES)
    limits = []
    for text in value or []:
        parts = str(text).strip().split(':')
        numbers = [int(p) if _DIGITS.fullmatch(p) or p == '-1' else None for p in parts[1:]]
        if len(parts) not in (2, 3) or parts[0] not in ULIMIT_NAMES or None in numbers or any(n > INT64_MAX for n in numbers):
            errors.add('ulimits', 'format', 'ulimit %r' % (text,), fix)
            continue
        soft, hard = numbers[0], numbers[-1]
        if hard != -1 and (soft == -1 or soft > hard):
            # go-units ParseUlimit: "ulimit soft limit must be less than or equal to hard limit"
            errors.add('ulimits', 'engine rule', 'ulimit %s: the soft limit is above the hard limit' % text, fix)
        limits.append(dict(name=parts[0], soft=soft, hard=hard))
    names = [u['name'] for u in limits]
    for name in sorted(set(n for n in names if names.count(n) > 1)):
        errors.add('ulimits', 'format', 'ulimit %s is given twice' % name, 'give each ulimit once')
    return sorted(limits, key=lambda u: u['name'])


def _parse_tmpfs(errors, value, spec):
    items = [_tmpfs_item(errors, item) for item in value or []]
    paths = [t['path'] for t in items]
    for path in sorted(set(p for p in paths if paths.count(p) > 1)):
        errors.add('tmpfs', 'format', 'tmpfs %s is listed twice' % path, 'list each path once')
    return items


def _parse_ports(errors, value, spec):
    ports = []
    for text in value or []:
        try:
            ports.extend(parse_ports(text))
        except ValueError as exc:
            errors.add('ports', 'format', 'port %r: %s' % (text, exc),
                       "write ports as '[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]' in ASCII digits, such as '127.0.0.1:8080:80' "
                       "or the range '127.0.0.1:8000-8010:8000-8010'")
    published = [(p['host_ip'], p['host_port'], p['proto']) for p in ports if p['host_port']]
    for ip, port, proto in sorted(set(b for b in published if published.count(b) > 1)):
        errors.add('ports', 'format', 'host port %s:%s/%s is published twice' % (ip, port, proto),
                   'publish each host address and port once')
    return ports


def _parse_volumes(errors, value, spec):
    volumes = []
    for text in value or []:
        try:
            volumes.append(parse_volume(text))
        except ValueError as exc:
            errors.add('volumes', 'format', 'volume %r: %s' % (text, exc),
                       "write volumes as 'SOURCE:TARGET[:OPTIONS]' with an absolute TARGET and OPTIONS among ro, rw, z, Z, "
                       "nocopy, rslave (and the other propagations)")
    targets = [v['target'] for v in volumes]
    paths = [t['path'] for t in spec['tmpfs']]
    for target in sorted(set(t for t in targets if targets.count(t) > 1 or t in paths)):
        errors.add('volumes', 'format', '%s is mounted twice (by volumes or tmpfs)' % target,
                   'mount one volume or tmpfs per path')
    return volumes


def _parse_mounts(errors, value, spec):
    """community.docker's `mounts` (type volume or bind), read as the volumes line it stands for, so both
    options mean one thing; a named volume may also declare its driver and driver options (the module
    creates the volume with them when it is missing, and refuses one that exists with others)."""
    mounts = []
    for item in value or []:
        if not isinstance(item, dict):
            errors.add('mounts', 'format', 'a mount must be a mapping, not %r' % (item,), 'give type, source, target and, if needed, read_only')
            continue
        for key in sorted(set(str(k) for k in item) - set(MOUNT_OPTIONS)):
            _unknown_key(errors, 'mounts', key, MOUNT_OPTIONS, 'mounts have')
        kind, read_only = item.get('type') or 'volume', item.get('read_only')
        flags = ([] if read_only is None else ['ro' if _parse_bool('mounts')(errors, read_only, spec) else 'rw']) + (
            ['nocopy'] if _parse_bool('mounts')(errors, item.get('no_copy'), spec) else []) + (
            [str(item['propagation'])] if item.get('propagation') else [])
        text = '%s:%s%s' % (item.get('source') or '', item.get('target') or '', ':' + ','.join(flags) if flags else '')
        try:
            mount = parse_volume(text)
        except ValueError as exc:
            errors.add('mounts', 'format', 'mount %s: %s' % (item.get('target'), exc),
                       'give type volume with a volume name as source, or type bind with an absolute host path, and an absolute target')
            continue
        if kind != mount['type']:
            errors.add('mounts', 'format', 'mount %s: type is %s but source %r is %s' % (
                mount['target'], kind, mount['source'], 'a host path' if mount['type'] == 'bind' else 'a volume name'),
                'give a volume name as the source of type volume, an absolute host path as the source of type bind')
        mount.update(driver=None, driver_options=None)
        if item.get('volume_driver') or item.get('volume_options'):
            if kind != 'volume':
                errors.add('mounts', 'format', 'mount %s: volume_driver and volume_options apply to type volume' % mount['target'],
                           'remove them, or make the mount a named volume')
            options = item.get('volume_options') or {}
            if not isinstance(options, dict) or any(_scalar_text(v) is None or isinstance(v, bool) for v in options.values()):
                errors.add('mounts', 'format', 'mount %s: volume_options must map names to strings' % mount['target'],
                           "give volume_options such as {type: nfs, o: 'addr=10.0.0.5,ro', device: ':/export'}")
                options = {}
            driver = str(item.get('volume_driver') or 'local')
            if not _LOG_DRIVER.fullmatch(driver):
                errors.add('mounts', 'format', 'mount %s: volume_driver %r is not a driver name' % (mount['target'], driver),
                           'give a driver such as local')
            mount.update(driver=driver, driver_options=dict((str(k), _scalar_text(v)) for k, v in sorted(options.items())))
        mounts.append(mount)
    targets = [m['target'] for m in mounts]
    mounted = [v['target'] for v in spec['volumes']] + [t['path'] for t in spec['tmpfs']]
    for target in sorted(set(t for t in targets if targets.count(t) > 1 or t in mounted)):
        errors.add('mounts', 'format', '%s is mounted twice (by mounts, volumes or tmpfs)' % target, 'mount one volume or tmpfs per path')
    declared = declared_volumes(spec, mounts)
    for mount in mounts:
        if mount['driver'] and (declared[mount['source']]['Driver'], declared[mount['source']]['Options']) != (
                mount['driver'], mount['driver_options']):
            errors.add('mounts', 'format', 'volume %s is declared twice with different drivers or options' % mount['source'],
                       'give its volume_driver and volume_options once, or the same each time')
    return mounts


def declared_volumes(spec, mounts=None):
    """{name: {'Driver', 'Options'}} of the named volumes whose driver or options the spec gives: what the
    engine's volume inspect shows for them (and what the policy reads: a local volume can bind a host path)."""
    return dict((m['source'], {'Name': m['source'], 'Driver': m['driver'], 'Options': m['driver_options']})
                for m in (spec['mounts'] if mounts is None else mounts) if m['driver'])


def _parse_network_mode(errors, value, spec):
    return _namespace_mode(errors, 'network_mode', value, ('none', 'bridge', 'host', 'default'))


def _parse_pid_mode(errors, value, spec):
    return _namespace_mode(errors, 'pid_mode', value, ('host',))


def _parse_networks(errors, value, spec):
    """Names, or dicts {name, aliases, ipv4_address, ipv6_address} -> a list of those dicts, in the order given
    (the first is the one the container is created on)."""
    if value is None:
        value = [] if spec['network_mode'] else [DEFAULT_NETWORK_PREFIX + (spec['name'] or '')]
    elif spec['network_mode'] and value:
        errors.add('networks', 'format', 'networks and network_mode are both set', 'use one of them')
    networks = []
    for item in value:
        item = dict(name=item) if not isinstance(item, dict) else dict(item)
        for key in sorted(set(str(k) for k in item) - {'name', 'aliases', 'ipv4_address', 'ipv6_address'}):
            _unknown_key(errors, 'networks', key, ('name', 'aliases', 'ipv4_address', 'ipv6_address'), 'networks have')
        net = str(item.get('name') or '')
        if not _NETWORK_NAME.fullmatch(net):
            errors.add('networks', 'format', 'network name %r is invalid' % net, 'use ASCII letters, digits, _ . -')
        elif net in PREDEFINED_NETWORKS:
            errors.add('networks', 'format', '%r is one of the engine\'s predefined networks, not one to create or join' % net,
                       "set network_mode: %s instead (network_mode 'default' is bridge)" % ('bridge' if net == 'default' else net))
        aliases = item.get('aliases') or []
        if not isinstance(aliases, (list, tuple)) or not all(isinstance(a, str) and _HOSTNAME.fullmatch(a) for a in aliases):
            errors.add('networks', 'format', 'network %s: aliases %r are not host names' % (net, aliases),
                       'give aliases as a list of names such as [db, db.internal]')
            aliases = []
        entry = dict(name=net, aliases=sorted(set(aliases)), ipv4_address=None, ipv6_address=None)
        for key, version in (('ipv4_address', 4), ('ipv6_address', 6)):
            if item.get(key) in (None, ''):
                continue
            try:
                address = ipaddress.ip_address(str(item[key]))
            except ValueError:
                address = None
            if address is None or address.version != version:
                errors.add('networks', 'format', 'network %s: %s %r is not an IPv%d address' % (net, key, item[key], version),
                           'give an address inside the network\'s subnet, such as 172.30.0.10')
            entry[key] = str(address) if address else None
        networks.append(entry)
    names = [n['name'] for n in networks]
    for net in sorted(set(n for n in names if names.count(n) > 1)):
        errors.add('networks', 'format', 'network %s is listed twice' % net, 'list each network once')
    return networks


def _parse_hostname(field):
    def parse(errors, value, spec):
        if value is None or str(value) == '':
            return None
        text = str(value)
        if not _HOSTNAME.fullmatch(text) or len(text) > 253:
            errors.add(field, 'format', '%s %r is not a host name' % (field, text), 'use letters, digits and -, in labels of up to 63 separated by dots')
        if field == 'hostname' and (spec['network_mode'] == 'host' or str(spec['network_mode'] or '').startswith('container:')):
            errors.add(field, 'engine rule', 'hostname cannot be set with network_mode %s' % spec['network_mode'],
                       'leave hostname unset; the container shares that network namespace\'s name')
        return text
    return parse


def _parse_etc_hosts(errors, value, spec):
    hosts = {}
    for name, address in sorted((value or {}).items(), key=lambda kv: str(kv[0])):
        if not isinstance(name, str) or not _HOSTNAME.fullmatch(name):
            errors.add('etc_hosts', 'format', 'etc_hosts name %r is not a host name' % (name,), 'give names such as db.internal')
        text = str(address).strip() if address is not None else ''
        if text != 'host-gateway':
            try:
                text = str(ipaddress.ip_address(text))
            except ValueError:
                errors.add('etc_hosts', 'format', 'etc_hosts %s: %r is not an IP address' % (name, address),
                           'give an address such as 10.0.0.5 (or host-gateway)')
        hosts[str(name)] = text
    _no_network_namespace_of_its_own(errors, 'etc_hosts', hosts, spec)
    return hosts


def _no_network_namespace_of_its_own(errors, field, value, spec):
    if value and str(spec['network_mode'] or '').startswith('container:'):
        errors.add(field, 'engine rule', '%s cannot be set with network_mode %s' % (field, spec['network_mode']),
                   'set it on the container whose network is shared, or leave it unset')


def _parse_dns_servers(errors, value, spec):
    servers = []
    for text in value or []:
        try:
            servers.append(str(ipaddress.ip_address(str(text).strip())))
        except ValueError:
            errors.add('dns_servers', 'format', 'DNS server %r is not an IP address' % (text,), 'give addresses such as 10.0.0.2')
    _no_network_namespace_of_its_own(errors, 'dns_servers', servers, spec)
    return servers


def _parse_dns_search(errors, value, spec):
    domains = []
    for text in value or []:
        text = str(text).strip()
        if text != '.' and not _HOSTNAME.fullmatch(text):
            errors.add('dns_search_domains', 'format', 'search domain %r is not a domain name' % text, 'give domains such as example.internal')
        domains.append(text)
    _no_network_namespace_of_its_own(errors, 'dns_search_domains', domains, spec)
    return domains


def _parse_dns_opts(errors, value, spec):
    opts = [str(o).strip() for o in value or []]
    for opt in opts:
        if not opt or _has_control(opt) or ' ' in opt:
            errors.add('dns_opts', 'format', 'DNS option %r is empty or holds a space or control character' % opt,
                       "give options as resolv.conf(5) writes them, such as 'ndots:2'")
    _no_network_namespace_of_its_own(errors, 'dns_opts', opts, spec)
    return opts


def _parse_cap_add(errors, value, spec):
    caps = policy.normalize_caps(value)
    for cap in caps:
        if cap not in KNOWN_CAPS:
            errors.add('cap_add', 'format', 'capability %r is not one the engine knows' % cap,
                       'name a Linux capability such as NET_BIND_SERVICE (see capabilities(7))')
    return caps


def _parse_security_opts(errors, value, spec):
    """As the docker CLI does, seccomp=FILE is read here, on the host the module runs on, and sent as the
    profile's JSON (written compactly, so that its content is what is compared)."""
    opts = []
    for opt in value or []:
        opt = str(opt).strip()
        key, _sep, profile = opt.partition('=')
        if key == 'seccomp' and profile.startswith('/'):
            if errors.offline:
                continue  # the profile is read on the managed host
            opt = _seccomp_profile(errors, profile)
            if opt is None:
                continue
        _check_security_opt(errors, opt)
        opts.append(opt)
    return sorted(opts)


def _seccomp_profile(errors, path):
    fix = "give seccomp=/ABSOLUTE/PATH.json of a JSON seccomp profile on the managed host (or seccomp=unconfined with an exception)"
    try:
        with open(path, 'rb') as handle:
            text = handle.read(1024 * 1024 + 1)
    except (IOError, OSError) as exc:
        errors.add('security_opts', 'seccomp profile', 'seccomp profile %s cannot be read: %s' % (path, exc.strerror or exc), fix)
        return None
    try:
        profile = json.loads(text.decode('utf-8'))
    except ValueError:
        profile = None
    if not isinstance(profile, dict) or len(text) > 1024 * 1024:
        errors.add('security_opts', 'seccomp profile', 'seccomp profile %s is not a JSON object of at most 1 MiB' % path, fix)
        return None
    return 'seccomp=' + json.dumps(profile, sort_keys=True, separators=(',', ':'))


def _parse_devices(errors, value, spec):
    devices = []
    for text in value or []:
        device = _device(str(text))
        if device is None:
            errors.add('devices', 'format', 'device %r' % text,
                       "write devices as '/dev/HOST[:/dev/CONTAINER][:PERMISSIONS]' with PERMISSIONS made of r, w and m")
            continue
        devices.append(device)
    return devices


def _parse_bool(field):
    def parse(errors, value, spec):
        if value is None or isinstance(value, bool):
            return bool(value)
        text = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if text in [str(b).lower() for b in BOOLEANS_TRUE]:
            return True
        if text in [str(b).lower() for b in BOOLEANS_FALSE]:
            return False
        errors.add(field, 'format', '%s %r is not a boolean' % (field, value), 'give true or false')
        return False
    return parse


def _parse_stop_signal(errors, value, spec):
    if value is None or str(value).strip() == '':
        return None
    text = str(value).strip().upper()
    if not _SIGNAL.fullmatch(text) or (text.isdigit() and not 0 < int(text) < 65):
        errors.add('stop_signal', 'format', 'stop_signal %r is not a signal' % value, "give a signal such as 'SIGTERM', 'SIGQUIT' or '15'")
    return text


def _parse_working_dir(errors, value, spec):
    if value is None or str(value) == '':
        return None
    text = str(value)
    if not text.startswith('/') or _has_control(text):
        # moby daemon/container.go: "the working directory '%s' is invalid, it needs to be an absolute path"
        errors.add('working_dir', 'engine rule', 'working_dir %r is not an absolute path' % text, 'give an absolute path such as /srv/app')
    return text


def _parse_log_driver(errors, value, spec):
    text = str(value).strip()
    if not _LOG_DRIVER.fullmatch(text):
        errors.add('log_driver', 'format', 'log driver %r is not a driver name' % text, "give a driver such as json-file, local or journald")
    return text


def _parse_log_options(errors, value, spec):
    """Text values, as the engine takes them; json-file and local get the collection's rotation by default."""
    if value is None:
        return dict(DEFAULT_LOG_OPTIONS) if spec['log_driver'] in LOCAL_LOG_DRIVERS else {}
    options = {}
    for key, text in sorted(value.items(), key=lambda kv: str(kv[0])):
        if _scalar_text(text) is None or text is True or text is False:
            errors.add('log_options', 'format', 'log option %s is not a string or a number' % (key,), "give a string such as '10m'")
            continue
        options[str(key)] = _scalar_text(text)
    known = _LOG_FILE_OPTIONS.get(spec['log_driver'])
    for key in sorted(set(options) - set(known or options)):
        errors.add('log_options', 'engine rule', 'the %s log driver has no option %r' % (spec['log_driver'], key),
                   'use %s' % ', '.join(known))
    if 'max-size' in options:
        try:
            parse_size(options['max-size'])
        except ValueError:
            errors.add('log_options', 'format', 'max-size %r is not a size' % options['max-size'], "give a size such as '10m'")
    if 'max-file' in options and not (_DIGITS.fullmatch(options['max-file']) and int(options['max-file']) > 0):
        errors.add('log_options', 'format', 'max-file %r is not a whole number above 0' % options['max-file'], "give a number such as '3'")
    return options


def _parse_sysctls(errors, value, spec):
    sysctls = {}
    for key, text in sorted((value or {}).items(), key=lambda kv: str(kv[0])):
        if not isinstance(key, str) or not _SYSCTL.fullmatch(key):
            errors.add('sysctls', 'format', 'sysctl name %r is not a kernel parameter' % (key,), 'give names such as net.ipv4.ip_unprivileged_port_start')
        if _scalar_text(text) is None or isinstance(text, bool) or _has_control(_scalar_text(text)):
            errors.add('sysctls', 'format', 'sysctl %s has no text value' % (key,), "give the value as a string such as '80'")
            continue
        sysctls[str(key)] = _scalar_text(text)
    return sysctls


def _parse_exceptions(errors, value, spec):
    exceptions = {}
    for control_id, reason in sorted((value or {}).items(), key=lambda kv: str(kv[0])):
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
        exceptions[str(control_id)] = str(reason).strip() if reason is not None else ''
    return exceptions


def _parse_restart_policy(errors, value, spec):
    if value not in RESTART_POLICIES:
        errors.add('restart_policy', 'format', 'restart policy %r' % (value,), 'use one of %s' % ', '.join(RESTART_POLICIES))
    return value


def _parse_healthcheck(errors, value, spec):
    return _healthcheck(errors, value)


def _parse_labels(errors, value, spec):
    labels = {}
    for key, text in sorted((value or {}).items(), key=lambda kv: str(kv[0])):
        if not isinstance(key, str) or not key.strip() or _has_control(key):
            errors.add('labels', 'format', 'label name %r is not a non-empty string' % (key,),
                       'quote label names, such as "1": ...')
        elif key.startswith(policy.LABEL_PREFIX):
            errors.add('labels', 'format', 'label %r uses the reserved prefix %r' % (key, policy.LABEL_PREFIX),
                       'choose another label name')
        if isinstance(text, (dict, list)) or text is None:
            errors.add('labels', 'format', 'value of label %s is %s' % (key, 'null' if text is None else 'a ' + type(text).__name__),
                       "give a string (write '' for an empty value)")
        elif '\x00' in str(text):
            errors.add('labels', 'format', 'value of label %s holds a NUL character' % key, 'remove the NUL')
        labels[str(key)] = _label_text(text)
    return labels


def _parse_depends_on(errors, value, spec):
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


def _parse_stop_timeout(errors, value, spec):
    # Config.StopTimeout is a Go int of seconds; the engine waits forever for a negative one.
    return _int_field(errors, 'stop_timeout', value, 0, MAX_STOP_TIMEOUT)


def _parse_secret_env(errors, value, spec):
    secret_env = _env_values(errors, 'secret_env', value)
    for key in sorted(set(spec['env']) & set(secret_env)):
        errors.add('secret_env', 'format', '%s is set in both env and secret_env' % key, 'set it in one of them')
    return secret_env


def _parse_env_file(errors, value, spec):
    """The files are read here, on the host the module runs on, and their variables join secret_env: as with
    `docker run --env-file F -e K=V` and Compose's env_file beside environment, env and secret_env win over
    a file, a later file wins over an earlier one. The values stay in memory only."""
    paths = []
    from_files = {}
    for path in value or []:
        path = str(path)
        paths.append(path)
        if not path.startswith('/'):
            errors.add('env_file', 'format', 'env file %s is not an absolute path' % path,
                       'give the absolute path of the file on the managed host')
            continue
        if errors.offline:
            continue
        parsed, problem = secrets.read_env_file(path)
        if problem:
            errors.add('env_file', 'env file', problem,
                       'write the file on the managed host first (ansible.builtin.copy with no_log) and make it readable by the module')
            continue
        for key, text in parsed.items():
            if not _ENV_NAME.fullmatch(key):
                errors.add('env_file', 'format', 'env file %s: environment variable name %r is invalid' % (path, key),
                           'use letters, digits and _')
            from_files[key] = text
    for key, text in from_files.items():
        if key not in spec['env'] and key not in spec['secret_env']:
            spec['secret_env'][key] = text
    spec['secret_env'] = dict(sorted(spec['secret_env'].items()))
    return paths


def _parse_secrets(errors, value, spec):
    user = _UID_GID.fullmatch(spec['user'] or '')
    items = [_secret_item(errors, item, user) for item in value or []]
    names = [s['name'] for s in items]
    for name in sorted(set(n for n in names if names.count(n) > 1)):
        errors.add('secrets', 'format', 'secret %s is listed twice' % name, 'list each secret once')
    targets = [s['target'] for s in items]
    mounted = set(v['target'] for v in spec['volumes'] + spec['mounts']) | set(t['path'] for t in spec['tmpfs'])
    for target in sorted(set(t for t in targets if targets.count(t) > 1 or t in mounted)):
        errors.add('secrets', 'format', '%s is mounted twice (by secrets, volumes, mounts or tmpfs)' % target,
                   'mount one secret, volume or tmpfs per path')
    return items


# ---------------------------------------------------------------- the engine's shapes

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
    # explicit read-write mounts, volumes too (a local volume can bind a host path: see _policy.volume_device)
    rw_binds = sorted(v['target'] for v in spec['volumes'] + spec['mounts'] if v['mode'] == 'rw' and v['explicit'])
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


# ---------------------------------------------------------------- inspect / read: the options that are not one field
# inspect(spec, container, image) writes into the desired container (`image` holds the image's id, its Config
# and the spec hash); read(inspect) reads a container (desired or live) back in the inventory's units.

def _get(inspect, path):
    value = inspect
    for key in path.split('.'):
        value = (value or {}).get(key) if isinstance(value, dict) or value is None else None
    return value


def _put(container, path, value):
    keys = path.split('.')
    target = container
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def _inspect_env(spec, container, image):
    container['Config']['Env'] = ['%s=%s' % kv for kv in sorted(dict(spec['env'], **spec['secret_env']).items())]


def _env_dict(inspect):
    env = {}
    for item in (inspect.get('Config') or {}).get('Env') or []:
        key, value = item.split('=', 1) if '=' in item else (item, '')
        env[key] = value
    return env


def _compare_env(desired, live):
    """The keys the spec sets: the image adds its own (PATH, ...)."""
    want_env, have_env = _env_dict(desired), _env_dict(live)
    have_env = dict((k, have_env[k]) for k in want_env if k in have_env)
    return (have_env, want_env) if have_env != want_env else None


def _inspect_labels(spec, container, image):
    container['Config']['Labels'] = managed_labels(spec, image['hash'])


def _compare_labels(desired, live):
    """The keys the spec sets and every containment.* label: the image adds its own."""
    want_labels = (desired.get('Config') or {}).get('Labels') or {}
    live_labels = (live.get('Config') or {}).get('Labels') or {}
    have_labels = dict((k, v) for k, v in live_labels.items() if k in want_labels or k.startswith(policy.LABEL_PREFIX))
    return (have_labels, want_labels) if have_labels != want_labels else None


def _inspect_healthcheck(spec, container, image):
    """The service's healthcheck, with its zero fields filled from the image's HEALTHCHECK as Docker
    does (daemon/commit.go merge), or the image's own: so the comparison and the advisory see the truth."""
    from_image = (image['config'] or {}).get('Healthcheck')
    health = None
    if spec['healthcheck']:
        hc = spec['healthcheck']
        health = {'Test': hc['test'], 'Interval': hc['interval'], 'Timeout': hc['timeout'],
                  'Retries': hc['retries'], 'StartPeriod': hc['start_period']}
        for key in ('Interval', 'Timeout', 'Retries', 'StartPeriod'):
            if not health[key] and from_image and from_image.get(key):
                health[key] = from_image[key]
    elif from_image:
        health = from_image
    container['Config']['Healthcheck'] = health


def _read_healthcheck(inspect):
    """Config.Healthcheck with Docker's omissions filled in (inspect leaves out zero durations), durations as '30s'."""
    health = (inspect.get('Config') or {}).get('Healthcheck')
    if health is None:
        return None
    view = dict((key, format_duration(health.get(key) or 0)) for key in ('Interval', 'Timeout', 'StartPeriod'))
    view['Retries'] = health.get('Retries') or 0
    view['Test'] = health.get('Test')
    return view


def _inspect_ports(spec, container, image):
    bindings = {}
    for p in spec['ports']:
        bindings.setdefault('%d/%s' % (p['container_port'], p['proto']), []).append({'HostIp': p['host_ip'], 'HostPort': p['host_port']})
    container['Config']['ExposedPorts'] = dict((port, {}) for port in bindings)
    container['HostConfig']['PortBindings'] = bindings


def _read_ports(inspect):
    result = []
    for port, bindings in ((inspect.get('HostConfig') or {}).get('PortBindings') or {}).items():
        for b in bindings or []:
            result.append('%s:%s:%s' % (b.get('HostIp') or '', b.get('HostPort') or '', port))
    return sorted(result)


def _inspect_volumes(spec, container, image):
    container['HostConfig']['Binds'] = []
    container['Mounts'] = []
    _add_mounts(container, spec['volumes'])


def _add_mounts(container, volumes):
    container['HostConfig']['Binds'] += [bind_text(v) for v in volumes]
    container['Mounts'] += [dict({'Type': v['type'], 'Source': v['source'], 'Destination': v['target'], 'RW': v['mode'] == 'rw',
                                  'Propagation': next((f for f in v['flags'] if f in _PROPAGATIONS), '')},
                                 **({'Name': v['source']} if v['type'] == 'volume' else {})) for v in volumes]


def _inspect_secrets(spec, container, image):
    # Secret files: read-only binds of one file each, so they pass no_sensitive_mounts as any such bind does.
    container['HostConfig']['Binds'] += ['%s:%s:ro' % (s['source'], s['target']) for s in spec['secrets']]
    container['Mounts'] += [{'Type': 'bind', 'Source': s['source'], 'Destination': s['target'], 'RW': False, 'Propagation': ''}
                            for s in spec['secrets']]


def network_names(spec):
    """The networks a service joins, in order (the first is the one it is created on)."""
    return [n['name'] for n in spec['networks']]


def _inspect_networks(spec, container, image):
    networks = {}
    for net in spec['networks']:
        ipam = dict((key, net[field]) for key, field in (('IPv4Address', 'ipv4_address'), ('IPv6Address', 'ipv6_address')) if net[field])
        networks[net['name']] = {'Aliases': [spec['name']] + net['aliases'], 'IPAMConfig': ipam or None}
    container['NetworkSettings'] = {'Networks': networks}
    container['HostConfig']['NetworkMode'] = spec['network_mode'] or (spec['networks'][0]['name'] if spec['networks'] else 'none')


BUILTIN_NETWORKS = ('bridge', 'host', 'none')


def _read_networks(inspect):
    """The user-defined networks joined: 'NAME', or 'NAME aliases=A,B ipv4=ADDRESS' when it has more than the
    service's own alias. docker inspect also lists the built-in network of a mode such as 'none' (no spec
    names it) and adds the container's short id and host name to its aliases."""
    own = set([policy.labels_of(inspect).get(policy.LABEL_SERVICE) or (inspect.get('Name') or '').lstrip('/'),
               (inspect.get('Id') or '')[:12], (inspect.get('Config') or {}).get('Hostname')])
    result = []
    for name, endpoint in sorted(((inspect.get('NetworkSettings') or {}).get('Networks') or {}).items()):
        if name in BUILTIN_NETWORKS:
            continue
        endpoint = endpoint or {}
        words = [name]
        aliases = sorted(set(endpoint.get('Aliases') or []) - own)
        if aliases:
            words.append('aliases=' + ','.join(aliases))
        for key, word in (('IPv4Address', 'ipv4'), ('IPv6Address', 'ipv6')):
            if (endpoint.get('IPAMConfig') or {}).get(key):
                words.append('%s=%s' % (word, endpoint['IPAMConfig'][key]))
        result.append(' '.join(words))
    return result


def _security_opts_engine(opts, spec):
    return ['no-new-privileges:true'] + [o for o in opts if policy.split_security_opt(o)[0] != 'no-new-privileges' or
                                         policy.no_new_privileges_state([o]) is False]


def _read_security_opts(inspect):
    """Sorted, a seccomp profile by its digest: its JSON is too long to read in a diff, and equal content is equal."""
    opts = []
    for opt in (inspect.get('HostConfig') or {}).get('SecurityOpt') or []:
        key, _sep, value = opt.partition('=')
        if key == 'seccomp' and value.startswith('{'):
            opt = 'seccomp=<profile sha256:%s>' % hashlib.sha256(value.encode('utf-8')).hexdigest()[:16]
        opts.append(opt)
    return sorted(opts)


def _read_tmpfs(inspect):
    tmpfs = (inspect.get('HostConfig') or {}).get('Tmpfs') or {}
    view = {}
    for path, opts in tmpfs.items():
        parsed = policy.parse_tmpfs_options(opts)
        if _DIGITS.fullmatch(str(parsed.get('size', ''))):
            parsed['size'] = format_size(int(parsed['size']))
        view[path] = parsed
    return view


def _read_ulimits(inspect):
    return sorted('%s:%s:%s' % (u.get('Name'), u.get('Soft'), u.get('Hard')) for u in (inspect.get('HostConfig') or {}).get('Ulimits') or [])


def _read_etc_hosts(inspect):
    return dict(entry.split(':', 1) for entry in (inspect.get('HostConfig') or {}).get('ExtraHosts') or [] if ':' in entry)


def _rates_engine(values, spec):
    return [{'Path': r['path'], 'Rate': r['rate']} for r in values] or None


def _rates_reader(path, size):
    def read(inspect):
        return sorted('%s:%s' % (r.get('Path'), format_size(r.get('Rate')) if size else r.get('Rate'))
                      for r in _get(inspect, path) or [])
    return read


def _read_devices(inspect):
    return sorted('%s:%s:%s' % (x.get('PathOnHost'), x.get('PathInContainer'), x.get('CgroupPermissions'))
                  for x in (inspect.get('HostConfig') or {}).get('Devices') or [])


# ---------------------------------------------------------------- diff: the value read, as the inventory writes it

def _show_healthcheck(view):
    """{'test': 'wget ...' (a CMD-SHELL as its string, else the list), 'interval': '10s', ...}."""
    test = view.get('Test') or []
    return {'test': test[1] if len(test) == 2 and test[0] == 'CMD-SHELL' else test, 'interval': view.get('Interval'),
            'timeout': view.get('Timeout'), 'retries': view.get('Retries'), 'start_period': view.get('StartPeriod')}


_HARDENED_TMPFS = set(['rw', 'nosuid', 'nodev', 'noexec'])


def _show_tmpfs(view):
    """[{'path': '/tmp', 'size': '64m', 'mode': '1777'}], with the mount flags only when they are not the hardened ones."""
    items = []
    for path, opts in sorted(view.items()):
        item = dict(path=path, size=opts.get('size'), mode=opts.get('mode'))
        flags = set(k for k, v in opts.items() if v is True)
        if flags != _HARDENED_TMPFS:
            item['options'] = ','.join(sorted(flags))
        items.append(item)
    return items


def _show_port(text):
    """'127.0.0.1:8080:80/tcp' -> '127.0.0.1:8080:80', ':8080:80/udp' -> '8080:80/udp', '::1:8080:80/tcp' -> '[::1]:8080:80'."""
    ip, host, port = text.rsplit(':', 2)
    port = port[:-len('/tcp')] if port.endswith('/tcp') else port
    ip = '[%s]' % ip if ':' in ip else ip
    return ':'.join(([ip] if ip else []) + ([host] if host or ip else []) + [port])


def _show_network_mode(mode):
    """A mode the inventory writes; the first network's name (which Docker keeps as the mode) is shown by networks."""
    return mode if mode in ('none', 'bridge', 'host', 'default') or str(mode).startswith('container:') else ''


def _show_labels(labels):
    """The service's own labels, and a secret file's digest label (masked), which says that its content changed.
    The collection's other labels are bookkeeping (the spec hash) or repeat another row (exceptions, tmpfs, volumes)."""
    return dict((k, v) for k, v in labels.items() if not k.startswith(policy.LABEL_PREFIX) or k.startswith(policy.LABEL_SECRET_FILE))


def _read_exceptions(inspect):
    return dict((k[len(policy.LABEL_EXCEPTION):], v) for k, v in policy.labels_of(inspect).items()
                if k.startswith(policy.LABEL_EXCEPTION))


# ---------------------------------------------------------------- the options, declared once

IF_SET = 'if set'  # `hashed`: enters the spec hash only when set, so that a new option leaves existing hashes alone
UNLESS_ABSENT = 'unless absent'  # `required`: needed to run a container, not to remove one


class Option(object):
    """One option of a service, or one field the collection always sets (argument=False).

    type, default, required, choices, elements, options, no_log: the argument spec (options: the nested
        argument specs of a list or dict of dicts).
    parse(errors, value, spec): the canonical value, checked; `spec` holds the rows above.
    inspect: where it lands in the shape of `docker inspect` (and the create body): 'Section.Field', with
        engine(value, spec) turning the canonical value into the engine's; or inspect(spec, container, image)
        for an option that is more than one field. `fixed`: the value of a field the collection always sets.
    read(inspect): how a container (live or desired) is read back for the comparison and the diff, in the
        inventory's units; by default the field, `live_default` when docker inspect leaves it out, then show().
    when_set: compared only when the desired container sets it (else the image decides).
    compare: False (never compared: orchestration, or compared through another row), or
        compare(desired, live) -> (live, wanted) | None for options compared on the keys the spec sets.
    hashed: in the spec hash (True), never (False), IF_SET, or hashed(spec) -> the value hashed (None: left out).
    diff: how the diff (and a reason) shows the value read: diff(value) -> what a reviewer reads, in the shape
        the inventory writes; None shows it as read, False leaves the option out of the diff. A row that is
        not compared (compare=False) but read is still in the diff (the image's tag).
    """

    def __init__(self, name, type='str', default=None, required=False, choices=None, elements=None, options=None,
                 no_log=None, argument=True, parse=None, inspect=None, engine=None, fixed=None, read=None, show=None,
                 live_default=None, when_set=False, compare=None, hashed=True, diff=None):
        self.name, self.type, self.default, self.required = name, type, default, required
        self.choices, self.elements, self.options, self.no_log = choices, elements, options, no_log
        self.argument, self.parse, self.inspect, self.engine, self.fixed = argument, parse, inspect, engine, fixed
        self._read, self.show, self.live_default, self.when_set = read, show, live_default, when_set
        self.compare, self.hashed, self.diff = compare, hashed, diff

    def argument_spec(self):
        spec = dict(type=self.type)
        for key in ('default', 'choices', 'elements', 'options'):
            if getattr(self, key) is not None:
                spec[key] = copy.deepcopy(getattr(self, key))
        if self.required is True:
            spec['required'] = True
        if self.no_log is not None:  # False said out loud: a name such as 'secrets' that holds no secret value
            spec['no_log'] = self.no_log
        return spec

    def put(self, spec, container, image):
        if self.inspect is None:
            return
        if callable(self.inspect):
            self.inspect(spec, container, image)
            return
        value = self.fixed if not self.argument else spec[self.name]
        _put(container, self.inspect, self.engine(value, spec) if self.engine else value)

    def read(self, inspect):
        if self._read:
            return self._read(inspect)
        value = _get(inspect, self.inspect)
        if value is None:
            value = copy.deepcopy(self.live_default)
        return self.show(value) if self.show and value is not None else value

    @property
    def shown(self):
        """In the diff of a create or a remove (the rows compared on their own)."""
        return self.compare is None and (self._read is not None or isinstance(self.inspect, str))

    def difference(self, desired, live, compared=True):
        """(live, wanted) as read, or None when equal; `compared` False: also the rows read but not compared."""
        if self.compare is False and (compared or self._read is None and not isinstance(self.inspect, str)):
            return None
        if callable(self.compare):
            return self.compare(desired, live)
        if compared and not self.shown:
            return None
        wanted = self.read(desired)
        if self.when_set and wanted is None:
            return None
        have = self.read(live)
        return (have, wanted) if have != wanted else None

    def shown_as(self, value):
        """The value as the diff and the reasons show it."""
        return self.diff(value) if callable(self.diff) and value is not None else value

    def hash_value(self, spec):
        if callable(self.hashed):
            return self.hashed(spec)
        value = spec.get(self.name)
        return None if self.hashed == IF_SET and value in (None, [], {}, False) else value


def _or(default):
    """engine(): the engine's zero value for an option left unset."""
    return lambda value, spec: default if value in (None, [], {}) else value


def _logs(spec, key):
    """The collection's default logs leave the spec hash as it was before log options existed."""
    default = spec['log_driver'] == 'json-file' and spec['log_options'] == DEFAULT_LOG_OPTIONS
    return None if default else spec[key]


RESTART_POLICIES = ['no', 'on-failure', 'always', 'unless-stopped']

OPTIONS = (
    # what it is
    Option('name', required=True, parse=_parse_name, inspect='Name', engine=lambda v, s: '/' + v, compare=False, diff=False),
    Option('image', required=UNLESS_ABSENT, parse=_parse_image, inspect='Config.Image', compare=False),
    Option('image_id', argument=False, inspect=lambda spec, c, image: _put(c, 'Image', image['id']), read=lambda i: i.get('Image'),
           hashed=False, diff=False),  # the reasons name the image by its tag and a short id
    Option('command', type='raw', parse=_parse_command, inspect='Config.Cmd', when_set=True),
    Option('entrypoint', type='raw', parse=_parse_entrypoint, inspect='Config.Entrypoint', when_set=True),
    Option('working_dir', parse=_parse_working_dir, inspect='Config.WorkingDir', when_set=True, hashed=IF_SET),
    Option('env', type='dict', default={}, parse=_parse_env, inspect=_inspect_env, compare=_compare_env),
    # who it runs as
    Option('user', required=UNLESS_ABSENT, parse=_parse_user, inspect='Config.User'),
    Option('groups', type='list', elements='str', default=[], parse=_parse_groups, inspect='HostConfig.GroupAdd',
           engine=_or(None), read=lambda i: sorted(_get(i, 'HostConfig.GroupAdd') or []), hashed=IF_SET),
    # resources
    Option('memory', required=UNLESS_ABSENT, parse=_sizer('memory'), inspect='HostConfig.Memory', engine=_or(0),
           live_default=0, show=format_size),
    Option('memory_swap', parse=_parse_memory_swap, inspect='HostConfig.MemorySwap',
           engine=lambda v, s: v if v is not None else (s['memory'] or 0), live_default=0, show=format_size),
    Option('memory_reservation', parse=_parse_memory_reservation, inspect='HostConfig.MemoryReservation', engine=_or(0),
           live_default=0, show=format_size, hashed=IF_SET),
    Option('shm_size', parse=_sizer('shm_size'), inspect='HostConfig.ShmSize', show=format_size, when_set=True, hashed=IF_SET),
    Option('cpus', type='float', required=UNLESS_ABSENT, parse=_parse_cpus, inspect='HostConfig.NanoCpus',
           engine=lambda v, s: int(round((v or 0) * 10 ** 9)), live_default=0, show=lambda v: v / 10 ** 9),
    # moby daemon_unix.go adjusts CPU shares outside 2..262144 (and the live value would differ forever)
    Option('cpu_shares', type='int', parse=_integer('cpu_shares', 2, 262144), inspect='HostConfig.CpuShares', engine=_or(0),
           live_default=0, hashed=IF_SET),
    Option('cpuset_cpus', parse=_parse_cpuset, inspect='HostConfig.CpusetCpus', engine=_or(''), live_default='', hashed=IF_SET),
    # moby verifyPlatformContainerResources: "Range of blkio weight is from 10 to 1000"
    Option('blkio_weight', type='int', parse=_integer('blkio_weight', 10, 1000), inspect='HostConfig.BlkioWeight', engine=_or(0),
           live_default=0, hashed=IF_SET),
    Option('device_read_bps', type='list', elements='dict', options=dict(path=dict(type='str', required=True), rate=dict(type='str', required=True)),
           default=[], parse=_device_rates('device_read_bps', True), inspect='HostConfig.BlkioDeviceReadBps', engine=_rates_engine,
           read=_rates_reader('HostConfig.BlkioDeviceReadBps', True), hashed=IF_SET),
    Option('device_write_bps', type='list', elements='dict', options=dict(path=dict(type='str', required=True), rate=dict(type='str', required=True)),
           default=[], parse=_device_rates('device_write_bps', True), inspect='HostConfig.BlkioDeviceWriteBps', engine=_rates_engine,
           read=_rates_reader('HostConfig.BlkioDeviceWriteBps', True), hashed=IF_SET),
    Option('device_read_iops', type='list', elements='dict', options=dict(path=dict(type='str', required=True), rate=dict(type='int', required=True)),
           default=[], parse=_device_rates('device_read_iops', False), inspect='HostConfig.BlkioDeviceReadIOps', engine=_rates_engine,
           read=_rates_reader('HostConfig.BlkioDeviceReadIOps', False), hashed=IF_SET),
    Option('device_write_iops', type='list', elements='dict', options=dict(path=dict(type='str', required=True), rate=dict(type='int', required=True)),
           default=[], parse=_device_rates('device_write_iops', False), inspect='HostConfig.BlkioDeviceWriteIOps', engine=_rates_engine,
           read=_rates_reader('HostConfig.BlkioDeviceWriteIOps', False), hashed=IF_SET),
    Option('pids_limit', type='int', default=256, parse=_integer('pids_limit', -INT64_MAX - 1, INT64_MAX), inspect='HostConfig.PidsLimit',
           live_default=0),
    Option('ulimits', type='list', elements='str', default=[], parse=_parse_ulimits, inspect='HostConfig.Ulimits',
           engine=lambda v, s: [{'Name': u['name'], 'Soft': u['soft'], 'Hard': u['hard']} for u in v] or None,
           read=_read_ulimits, hashed=IF_SET),
    # the filesystem
    Option('read_only', argument=False, fixed=True, inspect='HostConfig.ReadonlyRootfs', live_default=False, hashed=False),
    Option('tmpfs', type='list', elements='dict', options=dict(
        path=dict(type='str', required=True),
        size=dict(type='str'),
        mode=dict(type='str', default='1777'),
        exec_reason=dict(type='str'),
    ), default=[dict(path='/tmp', size='64m', mode='1777')], parse=_parse_tmpfs, inspect='HostConfig.Tmpfs',
        engine=lambda v, s: dict((t['path'], tmpfs_options(t)) for t in v), read=_read_tmpfs, diff=_show_tmpfs),
    Option('volumes', type='list', elements='str', default=[], parse=_parse_volumes, inspect=_inspect_volumes,
           read=lambda i: sorted(_get(i, 'HostConfig.Binds') or []),
           hashed=lambda s: [dict((k, v) for k, v in vol.items() if k != 'flags' or v) for vol in s['volumes']]),
    # community.docker's long form: lands in Binds beside volumes, so it is compared by the volumes row; a declared
    # volume's driver and options are compared with the engine's volume before anything changes (see _converge)
    Option('mounts', type='list', elements='dict', options=dict(
        type=dict(type='str', default='volume', choices=['volume', 'bind']),
        source=dict(type='str', required=True),
        target=dict(type='str', required=True),
        read_only=dict(type='bool'),
        propagation=dict(type='str', choices=list(_PROPAGATIONS)),
        no_copy=dict(type='bool', default=False),
        volume_driver=dict(type='str'),
        volume_options=dict(type='dict'),
    ), default=[], parse=_parse_mounts, inspect=lambda spec, c, image: _add_mounts(c, spec['mounts']), compare=False,
        hashed=lambda s: [dict((k, v) for k, v in m.items() if v not in (None, [])) for m in s['mounts']] or None),
    # the network
    Option('ports', type='list', elements='str', default=[], parse=_parse_ports, inspect=_inspect_ports, read=_read_ports,
           diff=lambda ports: [_show_port(p) for p in ports]),
    # network_mode lands in HostConfig.NetworkMode with the networks (the first network is the mode)
    Option('network_mode', parse=_parse_network_mode, read=lambda i: _get(i, 'HostConfig.NetworkMode') or '', diff=_show_network_mode),
    Option('networks', type='list', elements='raw', parse=_parse_networks, inspect=_inspect_networks, read=_read_networks,
           hashed=lambda s: [n if n['aliases'] or n['ipv4_address'] or n['ipv6_address'] else n['name'] for n in s['networks']]),
    Option('hostname', parse=_parse_hostname('hostname'), inspect='Config.Hostname', when_set=True, hashed=IF_SET),
    Option('domainname', parse=_parse_hostname('domainname'), inspect='Config.Domainname', engine=_or(''), live_default='', hashed=IF_SET),
    Option('etc_hosts', type='dict', default={}, parse=_parse_etc_hosts, inspect='HostConfig.ExtraHosts',
           engine=lambda v, s: ['%s:%s' % kv for kv in sorted(v.items())] or None, read=_read_etc_hosts, hashed=IF_SET),
    Option('dns_servers', type='list', elements='str', default=[], parse=_parse_dns_servers, inspect='HostConfig.Dns',
           engine=_or(None), live_default=[], hashed=IF_SET),
    Option('dns_search_domains', type='list', elements='str', default=[], parse=_parse_dns_search, inspect='HostConfig.DnsSearch',
           engine=_or(None), live_default=[], hashed=IF_SET),
    Option('dns_opts', type='list', elements='str', default=[], parse=_parse_dns_opts, inspect='HostConfig.DnsOptions',
           engine=_or(None), live_default=[], hashed=IF_SET),
    Option('pid_mode', parse=_parse_pid_mode, inspect='HostConfig.PidMode', engine=_or(''), live_default=''),
    Option('ipc_mode', argument=False, read=lambda i: 'host' if _get(i, 'HostConfig.IpcMode') == 'host' else '', hashed=False),
    Option('uts_mode', argument=False, read=lambda i: _get(i, 'HostConfig.UTSMode') or '', hashed=False),
    Option('userns_mode', argument=False, read=lambda i: _get(i, 'HostConfig.UsernsMode') or '', hashed=False),
    # the kernel
    Option('cap_drop', argument=False, fixed=['ALL'], inspect='HostConfig.CapDrop', read=lambda i: policy.normalize_caps(_get(i, 'HostConfig.CapDrop')),
           hashed=False),
    Option('cap_add', type='list', elements='str', default=[], parse=_parse_cap_add, inspect='HostConfig.CapAdd', engine=_or(None),
           read=lambda i: policy.normalize_caps(_get(i, 'HostConfig.CapAdd'))),
    Option('privileged', argument=False, fixed=False, inspect='HostConfig.Privileged', live_default=False, hashed=False),
    Option('security_opts', type='list', elements='str', default=[], parse=_parse_security_opts, inspect='HostConfig.SecurityOpt',
           engine=_security_opts_engine, read=_read_security_opts),
    Option('sysctls', type='dict', default={}, parse=_parse_sysctls, inspect='HostConfig.Sysctls', engine=_or(None), live_default={},
           hashed=IF_SET),
    Option('devices', type='list', elements='str', default=[], parse=_parse_devices, inspect='HostConfig.Devices',
           engine=lambda v, s: [{'PathOnHost': d['host'], 'PathInContainer': d['container'], 'CgroupPermissions': d['permissions']} for d in v],
           read=_read_devices),
    Option('device_requests', argument=False, read=lambda i: len(_get(i, 'HostConfig.DeviceRequests') or []), hashed=False),
    Option('init', type='bool', default=False, parse=_parse_bool('init'), inspect='HostConfig.Init', read=lambda i: bool(_get(i, 'HostConfig.Init')),
           hashed=IF_SET),
    # logs
    Option('log_driver', default='json-file', parse=_parse_log_driver, inspect='HostConfig.LogConfig.Type', hashed=lambda s: _logs(s, 'log_driver')),
    Option('log_options', type='dict', parse=_parse_log_options, inspect='HostConfig.LogConfig.Config', live_default={},
           hashed=lambda s: _logs(s, 'log_options')),
    # policy exceptions, restarts, health, stopping
    Option('exceptions', type='dict', default={}, parse=_parse_exceptions, compare=False, read=_read_exceptions),  # in labels
    Option('restart_policy', default='always', choices=RESTART_POLICIES, parse=_parse_restart_policy,
           inspect='HostConfig.RestartPolicy.Name', read=lambda i: _get(i, 'HostConfig.RestartPolicy.Name') or 'no'),
    # moby daemon/container.go validateRestartPolicy: "maximum retry count cannot be negative"; Go int
    Option('restart_retries', type='int', default=5, parse=_integer('restart_retries', 0, INT64_MAX),
           inspect='HostConfig.RestartPolicy.MaximumRetryCount', engine=lambda v, s: v if s['restart_policy'] == 'on-failure' else 0,
           live_default=0),
    Option('healthcheck', type='dict', options=dict(
        test=dict(type='raw', required=True),
        interval=dict(type='str', default='30s'),
        timeout=dict(type='str', default='30s'),
        retries=dict(type='int', default=3),
        start_period=dict(type='str', default='0s'),
    ), parse=_parse_healthcheck, inspect=_inspect_healthcheck, read=_read_healthcheck, when_set=True, diff=_show_healthcheck),
    Option('stop_signal', parse=_parse_stop_signal, inspect='Config.StopSignal', when_set=True, hashed=IF_SET),
    Option('stop_timeout', type='int', default=10, parse=_parse_stop_timeout, inspect='Config.StopTimeout'),
    Option('labels', type='dict', default={}, parse=_parse_labels, inspect=_inspect_labels, compare=_compare_labels, diff=_show_labels),
    # secrets: values read on the managed host, never in a label, a hash, a diff or a message
    Option('secret_env', type='dict', default={}, no_log=True, parse=_parse_secret_env, compare=False,  # lands in Config.Env with env
           hashed=lambda s: sorted(s['secret_env']) or None),
    Option('env_file', type='list', elements='str', default=[], parse=_parse_env_file, compare=False, hashed=IF_SET),  # into secret_env
    Option('secrets', type='list', elements='dict', options=dict(
        name=dict(type='str', required=True),
        source=dict(type='str', required=True),
        target=dict(type='str'),
    ), default=[], no_log=False, parse=_parse_secrets, inspect=_inspect_secrets, compare=False,  # compared by the digest labels
        hashed=lambda s: [dict((k, v) for k, v in i.items() if k not in ('sha256', 'content')) for i in s['secrets']] or None),
    # orchestration: secure_stack's start order (not the container's, so neither compared nor hashed)
    Option('depends_on', type='raw', parse=_parse_depends_on, compare=False, hashed=False),
)


def _choice(field):
    def parse(errors, value, spec):
        choices = OPERATIONS_BY_NAME[field].choices
        if value not in choices:
            errors.add(field, 'format', '%s %r is not one of %s' % (field, value, ', '.join(choices)),
                       'set %s to one of %s' % (field, ', '.join(choices)))
        return value
    return parse


def _seconds(field):
    def parse(errors, value, spec):
        number = _finite(value)
        if number is None or not 0 <= number <= MAX_WAIT:
            errors.add(field, 'format', '%s %r is not a number of seconds from 0 to %d' % (field, value, MAX_WAIT),
                       'give %s in seconds, such as 3 or 0.5' % field)
        return number
    return parse


# Options that say how to converge, not what to run: not in the spec, so not in the spec hash.
OPERATIONS = (
    Option('state', default='started', choices=['started', 'stopped', 'absent'], parse=_choice('state')),
    Option('pull', default='missing', choices=['missing', 'always', 'never'], parse=_choice('pull')),
    Option('grace_period', type='float', default=3, parse=_seconds('grace_period')),
    Option('healthy_timeout', type='float', default=60, parse=_seconds('healthy_timeout')),
    # one run's triggers, for a handler after a file the service reads changed (see _converge)
    Option('recreate', type='bool', default=False, parse=_parse_bool('recreate')),
    Option('restart', type='bool', default=False, parse=_parse_bool('restart')),
)
OPERATIONS_BY_NAME = dict((o.name, o) for o in OPERATIONS)
# The fields the collection always sets (read_only, cap_drop, privileged): no option, so a key named so is refused.
FIXED_BY_NAME = dict((o.name, o) for o in OPTIONS if not o.argument and o.fixed is not None)

# The argument specs: the modules, the stack and the role accept exactly these keys (the role's
# meta/argument_specs.yml and the module docs are kept equal to them by unit tests).
SERVICE_OPTIONS = dict((o.name, o.argument_spec()) for o in OPTIONS if o.argument)
MOUNT_OPTIONS = SERVICE_OPTIONS['mounts']['options']
OPERATION_OPTIONS = dict((o.name, o.argument_spec()) for o in OPERATIONS)
# Needed to run a container (not to remove one): the module asks for them unless state is absent.
REQUIRED_UNLESS_ABSENT = tuple(o.name for o in OPTIONS if o.required == UNLESS_ABSENT)
REQUIRED_IF = [('state', 'started', REQUIRED_UNLESS_ABSENT), ('state', 'stopped', REQUIRED_UNLESS_ABSENT)]


# ---------------------------------------------------------------- normalisation: a loop over the table

def _typed(errors, option, value):
    """The value with its container type checked (secure_stack passes services Ansible did not type-check),
    or the option's default."""
    expected = _CONTAINER_TYPES.get(option.type)
    key = option.name
    if key == 'env_file' and isinstance(value, str):
        value = [value]
    if value is not None and expected and not isinstance(value, expected):
        given = type(value).__name__ if key in _UNECHOED else '%s %r' % (type(value).__name__, value)
        errors.add(key, 'format', '%s must be a %s, not the %s' % (key, option.type, given), 'give %s as a %s' % (key, option.type))
        value = None
    elif value is not None and option.type == 'str' and isinstance(value, (dict, list, tuple)):
        errors.add(key, 'format', '%s must be a string, not the %s %r' % (key, type(value).__name__, value), 'give %s as a string' % key)
        value = None
    elif value is not None and option.elements == 'str' and any(_scalar_text(v) is None for v in value):
        errors.add(key, 'format', '%s %r has an item that is not a string' % (key, list(value)), 'write each item of %s as a string' % key)
        value = None
    if value is None:
        value = copy.deepcopy(option.default)
    return value


def normalize_spec(raw, service=None):
    """Check types, keys and units of one service and return its canonical spec, row by row of OPTIONS.

    `raw` may come from the module's argument parsing (defaults filled in) or straight from
    a list of services (defaults missing). The operation options (state, pull, ...) are checked
    too, but not kept. Raises SpecError naming every problem."""
    spec, problems = collect_spec(raw, service)
    if problems:
        raise SpecError(problems)
    return spec


def _unknown_option(errors, key):
    """A key that is no option: a control or a field the collection always sets says so, else the closest option."""
    control = policy.CONTROLS_BY_ID.get(key)
    fixed = FIXED_BY_NAME.get(key)
    if control is not None:
        errors.add(key, 'unknown option', '%s is a %s control of the policy, not an option' % (key, control.tier),
                   'remove it: the collection always applies it' if control.tier == policy.FLOOR else
                   'remove it; to relax it, name it in exceptions with a written reason (exceptions: {%s: WHY})' % key)
    elif fixed is not None:
        errors.add(key, 'unknown option', '%s is not an option: the collection always sets it to %r' % (key, fixed.fixed),
                   'remove it')
    else:
        _unknown_key(errors, key, key, list(SERVICE_OPTIONS) + list(OPERATION_OPTIONS))


def collect_spec(raw, service=None, offline=False):
    """normalize_spec without raising: (the canonical spec as far as it goes, or None if `raw` is no mapping;
    every problem). `offline`: see _Collector."""
    service = service or (raw.get('name') if isinstance(raw, dict) else None)
    errors = _Collector(service, offline)
    if not isinstance(raw, dict):
        errors.add('(service)', 'format', 'a service must be a mapping, got %s' % type(raw).__name__,
                   'write the service as a dict of options')
        return None, errors.problems
    for key in sorted(set(str(k) for k in raw) - set(SERVICE_OPTIONS) - set(OPERATION_OPTIONS)):
        _unknown_option(errors, key)
    removing = raw.get('state') == 'absent'
    spec = {}
    for option in OPTIONS:
        if not option.argument:
            continue
        value = _typed(errors, option, raw.get(option.name))
        if value is None and (option.required is True or (option.required == UNLESS_ABSENT and not removing)):
            errors.add(option.name, 'required', 'the option is missing', 'set %s' % option.name)
        spec[option.name] = option.parse(errors, value, spec) if option.parse else value
    _operation_values(errors, raw)
    return spec, errors.problems


def operations(raw):
    """The operation options of one service (state, pull, grace_period, ...) with their defaults, checked
    as normalize_spec checks them. Raises SpecError."""
    errors = _Collector(raw.get('name') if isinstance(raw, dict) else None)
    ops = _operation_values(errors, raw if isinstance(raw, dict) else {})
    if errors.problems:
        raise SpecError(errors.problems)
    return ops


def operation_values(raw):
    """The operation options of one service with their defaults, not checked (collect_spec reports their problems)."""
    return _operation_values(_Collector(None), raw if isinstance(raw, dict) else {})


def _operation_values(errors, raw):
    """secure_stack hands over services Ansible did not type-check: the operation options get the
    checks the module's argument spec would make, and the ranges the watch needs."""
    ops = {}
    for option in OPERATIONS:
        value = raw.get(option.name)
        ops[option.name] = option.default if value is None else option.parse(errors, value, ops)
    return ops


# ---------------------------------------------------------------- the container it would be: a loop over the table

# The names of the env variables given as secret_env or env_file; and per secret file, the
# salted digest of its content (see _secrets.file_digest), set when the service is planned.
LABEL_SECRET_ENV = policy.LABEL_SECRET_ENV
LABEL_SECRET_FILE = policy.LABEL_SECRET_FILE


def hashable(spec):
    """The spec as the rows hash it: without secret values (secret_env by its names, whose values are
    compared with the live Config.Env; secret files by name, source and target, their contents by the
    salted digest labels), without orchestration, and without the options a spec leaves unset that
    came after the hash was introduced (no recreate on upgrade)."""
    view = {}
    for option in OPTIONS:
        if option.argument and option.hashed is not False:
            value = option.hash_value(spec)
            if value is not None or option.hashed is True:
                view[option.name] = value
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
    """The container this spec creates, in the shape of `docker inspect`: each row puts its field.

    `image_config` (the image's `Config`) fills in what the image decides when the
    spec is silent (its healthcheck, or the zero fields of the service's), so the comparison
    and the advisory check see the truth."""
    container = {'Name': None, 'Image': None, 'Config': {}, 'HostConfig': {}, 'Mounts': [], 'NetworkSettings': {'Networks': {}}}
    image = {'id': image_id, 'config': image_config or {}, 'hash': spec_hash(spec, image_id) if image_id else None}
    for option in OPTIONS:
        option.put(spec, container, image)
    return container


def validate_spec(spec, ctx=None, image_config=None):
    """Refuse a spec that breaks the policy. Returns the findings of the container it would be."""
    findings, problems = policy_problems(spec, ctx, image_config)
    if problems:
        raise SpecError(problems)
    return findings


def policy_problems(spec, ctx=None, image_config=None, skip=()):
    """(the findings of the container the spec would be, a problem per failing control), leaving out the
    controls on the fields in `skip`: those a format problem names already (the value is a stand-in)."""
    skip = set(skip) | (set(['memory_swap']) if 'memory' in skip else set())  # memory_swap defaults to memory
    desired = desired_inspect(spec, None, image_config)
    # the volumes the spec declares are what the engine will hold (a volume that exists with others is refused)
    ctx = dict(ctx or {}, volumes=dict((ctx or {}).get('volumes') or {}, **declared_volumes(spec)))
    findings = policy.evaluate(desired, ctx, spec['exceptions'])
    errors = _Collector(spec['name'])
    for finding in findings:
        if finding['status'] == policy.FAIL and not set(finding['field'].split(', ')) & skip:
            errors.add(finding['field'], '%s (%s)' % (finding['control'], finding['tier']),
                       finding['message'], finding['fix'])
    return findings, errors.problems


def load_spec(raw, ctx=None, image_config=None):
    """normalize_spec then validate_spec: the one door every spec goes through."""
    spec = normalize_spec(raw)
    validate_spec(spec, ctx, image_config)
    return spec


# ---------------------------------------------------------------- comparing with a live container: a loop over the table

def compare(desired, live):
    """Fields that differ between the container a spec wants and a live one: {option: (live, wanted)},
    each read back by its row in the inventory's units.

    Security fields are compared strictly (an extra capability or security option on the live
    container is a difference). Environment and labels are compared for the keys the spec
    sets, plus every containment.* label, since the image adds its own."""
    differences = {}
    for option in OPTIONS:
        found = option.difference(desired, live)
        if found is not None:
            differences[option.name] = found
    return differences


OPTIONS_BY_NAME = dict((o.name, o) for o in OPTIONS)


def shown_as(field, value):
    """A value read from a container, as the diff and the reasons show it (the row's `diff`)."""
    option = OPTIONS_BY_NAME.get(field)
    return option.shown_as(value) if option else value


def diff_view(spec, desired, live, image_labels=None):
    """Ansible's diff as a reviewer reads it: before/after of the fields that differ, each shown by its row in the
    inventory's units and shapes; on a create every field the new container has (and an empty one has not), on a
    remove every field of the old one. Secret values show as '(secret)' and '(secret changed)', never as themselves;
    the collection's bookkeeping labels (the spec hash among them), the labels the image brings (`image_labels`)
    and the image ids are left out."""
    before, after = {}, {}
    if live is None and desired is None:
        return {'before': before, 'after': after}
    hidden = secret_env_names(spec, live)
    for option in OPTIONS:
        if option.diff is False:
            continue
        pair = option.difference(desired or {}, live or {}, compared=False)
        if pair is None:
            continue
        have, want = pair
        if option.name == 'env':
            have, want = _mask_pairs(have, want, hidden)
        elif option.name == 'labels':
            have, want = _mask_pairs(have, want, set(k for k in set(have or {}) | set(want or {}) if k.startswith(LABEL_SECRET_FILE)))
            have, want = [dict((k, v) for k, v in labels.items() if k not in (image_labels or {})) for labels in (have, want)]
        have, want = option.shown_as(have), option.shown_as(want)
        if have == want:
            continue
        if live is not None:
            before[option.name] = have
        if desired is not None:
            after[option.name] = want
    return {'before': before, 'after': after}


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
