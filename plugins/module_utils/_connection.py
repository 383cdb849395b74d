# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# How a module reaches its engine, without the Docker SDK: the connection options resolved
# into settings (and refused when they would expose the engine), the SDK versions that work,
# what to install on this host's distribution, and a failed connection explained by its
# cause (which socket, which user, which certificate, which host name) with the fix.
# All pure but for small reads of the local system (a path's existence, /etc/os-release,
# the user's name), so unit tests can drive every branch.

from __future__ import annotations

import errno
import ipaddress
import os
import re
import shutil
import socket

DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'

# Requests to the engine in flight at once. The engine serialises much of its own work,
# so more than a few buys nothing; a few hide the round trips of many small calls.
PARALLEL_CALLS = 4


class EngineError(Exception):
    """What the engine said, in words: the step and the engine's own explanation, never a raw URL.
    `status` is the HTTP status of the engine's answer, when there was one."""

    def __init__(self, message, status=None, cause=None):
        super(EngineError, self).__init__(message)
        self.status = status
        self.cause = cause


# The Docker SDK for Python: the oldest release the collection runs with (measured against a
# real engine, docs/connection.md: 4.1.0 is Debian 11's and Ubuntu 20.04's), and the releases
# that break with newer requests.
MIN_SDK = (4, 1, 0)
MIN_SDK_TEXT = '4.1.0'
# requests 2.32 chooses a connection pool by URL, which the SDK's http+docker:// transport
# only supports from 7.1.0 on: older SDKs fail with "Not supported URL scheme http+docker".
REQUESTS_BREAKING = (2, 32, 0)
SDK_FIXED_FOR_REQUESTS = (7, 1, 0)

_SCHEMES = ('unix', 'tcp', 'http', 'https', 'ssh')


class ConnectionProblem(Exception):
    """The engine cannot be reached, or must not be: the message names the cause and the fix."""


# ------------------------------------------------------------------ the options

def _version(text):
    """(major, minor, patch) of a version string such as '2.28.1' or '7.1.0.dev0'; None if unreadable."""
    found = re.match(r'\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?', str(text or ''))
    if not found:
        return None
    return tuple(int(part or 0) for part in found.groups())


def split_url(url):
    """(scheme, host, port, path) of an engine URL; host/port None for unix://, path None for TCP."""
    scheme, sep, rest = url.partition('://')
    if not sep or scheme not in _SCHEMES:
        raise ConnectionProblem('docker_host %r is not an engine URL. Fix: use unix:///PATH/TO/docker.sock, '
                                'tcp://HOST:2376 (with TLS), or ssh://USER@HOST.' % url)
    if scheme == 'unix':
        return scheme, None, None, '/' + rest.lstrip('/')
    hostport = rest.split('/', 1)[0].rpartition('@')[2]
    if hostport.startswith('['):
        host, port = hostport[1:].partition(']')[::2]
        port = port.lstrip(':')
    else:
        host, port = hostport.partition(':')[::2]
    return scheme, host or None, int(port) if port.isdigit() else None, None


def is_loopback(host):
    if host in (None, '', 'localhost') or (host or '').endswith('.localhost'):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve(params, environ=None):
    """The connection settings for the module's parameters (after Ansible's env fallbacks):
    dict(url, scheme, host, port, socket, tls (None or dict(verify, ca_cert, client_cert)),
    tls_hostname, api_version, timeout, use_ssh_client, warnings). ConnectionProblem when an
    option is wrong or would talk to a remote engine without TLS."""
    environ = os.environ if environ is None else environ
    url = params.get('docker_host') or DEFAULT_DOCKER_HOST
    scheme, host, port, path = split_url(url)
    settings = dict(url=url, scheme=scheme, host=host, port=port, socket=path, tls=None,
                    tls_hostname=params.get('tls_hostname') or None,
                    api_version=params.get('api_version') or 'auto', timeout=params.get('timeout') or 60,
                    use_ssh_client=bool(params.get('use_ssh_client')), warnings=[])
    if scheme not in ('tcp', 'http', 'https'):
        return settings

    verify = bool(params.get('validate_certs'))
    use_tls = verify or bool(params.get('tls')) or scheme == 'https'
    if not use_tls:
        if not is_loopback(host) and not params.get('allow_plaintext_tcp'):
            raise ConnectionProblem(
                'refused to talk to the Docker engine at %s without TLS: the engine API has no authentication '
                'of its own, so anyone who can reach that port is root on its host (one API call starts a '
                'privileged container with / mounted), and every request, secrets in env included, crosses the '
                'network in clear text. Fix: serve the engine with dockerd --tlsverify --tlscacert --tlscert '
                '--tlskey on port 2376 and set validate_certs: true with ca_path, client_cert and client_key '
                '(or DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH); or reach it as ssh://USER@HOST; or, only on a '
                'closed network you trust, set allow_plaintext_tcp: true.' % url)
        return settings

    cert_dir = environ.get('DOCKER_CERT_PATH') or None
    files = {}
    for option, default in (('ca_path', 'ca.pem'), ('client_cert', 'cert.pem'), ('client_key', 'key.pem')):
        value = params.get(option)
        if not value and cert_dir:
            value = os.path.join(cert_dir, default)
        files[option] = value
    for option, value in files.items():
        if value and not os.path.isfile(value):
            source = ' (from DOCKER_CERT_PATH)' if not params.get(option) else ''
            raise ConnectionProblem('%s %s%s: no such file. Fix: give the path of the PEM file on the host the module '
                                    'runs on.' % (option, value, source))
    if bool(files['client_cert']) != bool(files['client_key']):
        have, missing = ('client_cert', 'client_key') if files['client_cert'] else ('client_key', 'client_cert')
        raise ConnectionProblem('%s is set but %s is not: the engine authenticates a client by its certificate and '
                                'the matching key. Fix: give both (or DOCKER_CERT_PATH with cert.pem and key.pem).'
                                % (have, missing))
    if verify and files['ca_path']:
        verify = files['ca_path']
    if not verify and not is_loopback(host):
        settings['warnings'].append(
            "TLS to %s without validate_certs: the engine's certificate is not checked, so anyone on the path can "
            "pose as the engine. Set validate_certs: true and ca_path." % url)
    settings['tls'] = dict(verify=verify, ca_cert=files['ca_path'],
                           client_cert=(files['client_cert'], files['client_key']) if files['client_cert'] else None)
    return settings


# ------------------------------------------------------------------ the SDK

def sdk_problem(docker_version, requests_version):
    """Why this Docker SDK (with this requests) cannot work, or None when it can."""
    found = _version(docker_version)
    if found is None:
        return None
    if found < MIN_SDK:
        return 'the Docker SDK for Python %s is too old (the collection needs %s or newer)' % (docker_version, MIN_SDK_TEXT)
    req = _version(requests_version)
    if req and req >= REQUESTS_BREAKING and found < SDK_FIXED_FOR_REQUESTS:
        return ('the Docker SDK for Python %s does not work with requests %s (requests 2.32 changed how connections '
                'are chosen; SDKs before 7.1.0 then fail with "Not supported URL scheme http+docker")'
                % (docker_version, requests_version))
    return None


def os_release(text=None):
    """/etc/os-release as a dict (empty when there is none)."""
    if text is None:
        try:
            with open('/etc/os-release') as handle:
                text = handle.read()
        except (IOError, OSError):
            return {}
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if sep and key.strip() and not key.startswith('#'):
            found[key.strip()] = value.strip().strip('"\'')
    return found


def install_hint(release, executable, problem=None):
    """What to run on this host for a Docker SDK that works (release: os_release(); executable:
    the Python that runs the module). The distribution's package for its own Python, else pip
    in the module's environment, else a venv."""
    ids = [release.get('ID', '')] + release.get('ID_LIKE', '').split()
    version = _version(release.get('VERSION_ID')) or (0, 0, 0)
    name = release.get('PRETTY_NAME') or release.get('ID') or 'this system'
    venv = ('python3 -m venv /opt/containment-venv && /opt/containment-venv/bin/pip install "docker>=7.1.0", then set '
            'ansible_python_interpreter=/opt/containment-venv/bin/python for this host')
    system_python = re.match(r'^/usr/bin/python3(\.\d+)?$', executable or '') is not None
    if not system_python or (problem and 'requests' in problem):
        return 'run %s -m pip install "docker>=7.1.0" (in the environment of the Python that runs the module)' % executable
    if 'debian' in ids or 'ubuntu' in ids:
        # Debian 11/12 and Ubuntu 20.04/22.04/24.04 ship 4.1.0 or 5.0.3; older ones something older
        old = (release.get('ID') == 'debian' and version < (11, 0, 0)) or (release.get('ID') == 'ubuntu' and version < (20, 4, 0))
        if old:
            return "on %s, whose python3-docker is older than %s: %s" % (name, MIN_SDK_TEXT, venv)
        return ('on %s: apt-get install python3-docker (pip into the system Python is refused there: '
                'externally-managed-environment)' % name)
    if set(ids) & {'fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol'}:
        return 'on %s: dnf install python3-docker' % name
    return 'on %s: %s' % (name, venv)


def sdk_message(host, executable, python_version, problem, release):
    return '%s, on %s with Python %s (%s). Fix: %s.' % (
        problem, host, executable, python_version, install_hint(release, executable, problem))


# ------------------------------------------------------------------ why a connection failed

def _chain(exc):
    """exc and every exception inside it: causes, contexts, args and urllib3's .reason."""
    seen, todo, out = set(), [exc], []
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        out.append(item)
        todo.extend([item.__cause__, item.__context__, getattr(item, 'reason', None)] + list(item.args))
    return out


def _text(chain):
    return ' | '.join(str(item) for item in chain)


def _user():
    uid = os.geteuid()
    try:
        import pwd
        return '%s (uid %d)' % (pwd.getpwuid(uid).pw_name, uid), pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return 'uid %d' % uid, str(uid)


def _socket_group(path):
    try:
        import grp
        return grp.getgrgid(os.stat(path).st_gid).gr_name
    except (ImportError, KeyError, OSError):
        return None


def socket_problem(settings):
    """A unix socket that is not there, found before connecting; None when it exists."""
    path = settings.get('socket')
    if settings['scheme'] != 'unix' or os.path.exists(path):
        return None
    return ('no Docker engine socket at %s on %s (the file does not exist): dockerd is not running there, or it '
            'listens elsewhere. Fix: start it (systemctl start docker), or set docker_host (or DOCKER_HOST) to its '
            'socket.' % (path, socket.gethostname()))


def ssh_problem(settings, has_paramiko):
    """An ssh:// engine URL needs paramiko, or use_ssh_client and the ssh binary."""
    if settings['scheme'] != 'ssh':
        return None
    if settings['use_ssh_client']:
        if shutil.which('ssh') is None:
            return ('docker_host %s with use_ssh_client needs the ssh client on %s, and there is none on PATH. Fix: '
                    'install it (apt-get install openssh-client, dnf install openssh-clients).'
                    % (settings['url'], socket.gethostname()))
        return None
    if not has_paramiko:
        return ('docker_host %s is an ssh:// URL, which the Docker SDK reaches with paramiko, not installed on %s. '
                'Fix: install it (apt-get install python3-paramiko, dnf install python3-paramiko, or pip install '
                'paramiko in the same environment as docker), or set use_ssh_client: true to use the ssh binary.'
                % (settings['url'], socket.gethostname()))
    return None


def diagnose(exc, settings):
    """A failed connection in words: what failed, why, and the fix. exc is what the SDK raised."""
    chain = _chain(exc)
    text = _text(chain)
    url = settings['url']
    where = socket.gethostname()
    oserrors = [item for item in chain if isinstance(item, OSError) and item.errno]
    codes = set(item.errno for item in oserrors)
    sdk = settings.get('sdk') or 'this Docker SDK'
    fix_sdk = ('Fix: pip install "docker>=7.1.0" in the environment of the Python that runs the module (a venv where '
               'the system Python refuses pip), or use the distribution\'s python3-docker with its own python3-requests '
               'and python3-urllib3.')
    if 'http+docker' in text and 'URL scheme' in text:
        return ('%s on %s cannot open its own connections ("Not supported URL scheme http+docker"): SDKs before 7.1.0 '
                'do not work with requests 2.32 or newer. %s' % (sdk, where, fix_sdk))
    if "unexpected keyword argument 'chunked'" in text:
        return ('%s on %s cannot talk to the engine ("unexpected keyword argument \'chunked\'"): SDKs before 6.1.0 do '
                'not work with urllib3 2. %s' % (sdk, where, fix_sdk))
    if settings['scheme'] == 'unix':
        path = settings['socket']
        if errno.EACCES in codes or errno.EPERM in codes:
            who, name = _user()
            group = _socket_group(path) or 'docker'
            return ('permission denied on %s for user %s on %s: only root and the members of group %s may use the '
                    'Docker socket. Fix: run the task as root (become: true), or add the user to the group '
                    '(usermod -aG %s %s) and then open a new SSH connection (Ansible keeps its connection open, and '
                    'an open session keeps its old groups: run meta: reset_connection, or end the ControlPersist '
                    'master); membership of that group is root on the host.' % (path, who, where, group, group, name))
        if errno.ENOENT in codes:
            return socket_problem(dict(settings, socket=path)) or 'no Docker engine socket at %s' % path
        if errno.ECONNREFUSED in codes:
            return ('nobody listens on %s on %s: the socket file exists but dockerd is not running (or died and left '
                    'it behind). Fix: start it (systemctl start docker), or set docker_host (or DOCKER_HOST) to the '
                    'socket of the engine that runs.' % (path, where))
    tls = settings.get('tls') or {}
    name = settings.get('tls_hostname') or settings.get('host')
    endpoint = '%s:%s' % (settings.get('host'), settings.get('port'))
    hostname_mismatch = re.search(r"[Hh]ostname mismatch|doesn't match|not valid for", text)
    if hostname_mismatch:
        return ("the engine at %s presented a certificate that does not name %r (the host name checked: tls_hostname, "
                "else the host of docker_host). Fix: set tls_hostname to a name in the certificate's subject "
                "alternative names, or issue the engine a certificate for %s." % (endpoint, name, name))
    if re.search(r'CERTIFICATE_VERIFY_FAILED|certificate verify failed', text):
        detail = next((item.verify_message for item in chain if getattr(item, 'verify_message', None)), None)
        ca = tls.get('ca_cert') if isinstance(tls.get('verify'), str) else None
        return ("the engine at %s presented a certificate that %s (%s) does not trust%s. Fix: set ca_path to the CA "
                "that signed the engine's certificate (the CA of dockerd --tlscacert's chain); REQUESTS_CA_BUNDLE and "
                "CURL_CA_BUNDLE are not used for the engine when ca_path is set."
                % (endpoint, 'ca_path' if ca else 'the system CA store', ca or 'no ca_path given',
                   ': %s' % detail if detail else ''))
    # TLS 1.3 servers reject a client certificate after the handshake: the client then sees the
    # connection closed (EOF) on its first read rather than an alert
    closed = tls and re.search(r'(?i)EOF occurred in violation of protocol|unexpected eof', text)
    if closed or re.search(r'(?i)certificate required|bad certificate|unknown ca|certificate unknown|handshake failure', text):
        given = tls.get('client_cert')
        return ('the engine at %s refused the TLS handshake: it requires a client certificate signed by its own CA '
                '(dockerd --tlsverify --tlscacert) and %s. Fix: set client_cert and client_key to a certificate that '
                'CA issued for this client (or DOCKER_CERT_PATH with cert.pem and key.pem).'
                % (endpoint, ('the certificate %s was not accepted' % given[0]) if given else 'none was given'))
    if re.search(r'(?i)wrong version number|record layer failure|unknown protocol', text):
        return ('the engine at %s does not speak TLS on that port. Fix: point docker_host at the engine\'s TLS port '
                '(2376 by convention), or check that dockerd runs with --tlsverify.' % endpoint)
    if 'HTTP request to an HTTPS server' in text:
        return ('the engine at %s speaks TLS and the module did not. Fix: set validate_certs: true with ca_path, '
                'client_cert and client_key.' % endpoint)
    if settings['scheme'] in ('tcp', 'http', 'https'):
        if errno.ECONNREFUSED in codes:
            return ('nothing listens on %s (connection refused): dockerd is not running there or listens on another '
                    'port. Fix: start it, or correct docker_host.' % endpoint)
        if codes & {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT} or re.search(r'(?i)timed? ?out', text):
            return ('the engine at %s cannot be reached from %s (%s). Fix: check the address, the route and the '
                    'firewall.' % (endpoint, where, 'timed out' if errno.ETIMEDOUT in codes or 'out' in text else
                                   'no route to the host'))
        if re.search(r'(?i)name or service not known|nodename nor servname|getaddrinfo', text):
            return 'the host name of docker_host %s does not resolve on %s. Fix: correct docker_host.' % (url, where)
    return None
