"""The pure parts of how a module reaches its engine (_connection.py): options resolved into
settings and refused when they would expose the engine, the SDK versions that work, what to
install per distribution, and failed connections explained by their cause.

The exceptions diagnose() reads are built the way the SDK raises them (a requests
ConnectionError around urllib3's errors around the OSError or ssl error); the same messages are
proven against real engines in tests/integration/test_connection.py."""
from __future__ import annotations

import errno
import ssl

import pytest
import requests
import urllib3

from ansible_collections.containment.docker.plugins.module_utils import _connection as conn
from ansible_collections.containment.docker.plugins.module_utils import _engine


def params(**given):
    base = dict((name, option.get('default')) for name, option in _engine.CONNECTION_OPTIONS.items())
    base.update(given)
    return base


# ------------------------------------------------------------------ options

@pytest.mark.parametrize('url, expected', [
    ('unix:///var/run/docker.sock', ('unix', None, None, '/var/run/docker.sock')),
    ('tcp://10.0.0.5:2376', ('tcp', '10.0.0.5', 2376, None)),
    ('tcp://[::1]:2375', ('tcp', '::1', 2375, None)),
    ('ssh://deploy@docker1.example.com', ('ssh', 'docker1.example.com', None, None)),
    ('https://docker1.example.com:2376/', ('https', 'docker1.example.com', 2376, None)),
])
def test_split_url(url, expected):
    assert conn.split_url(url) == expected


def test_an_unknown_scheme_is_refused_with_the_forms_that_work():
    with pytest.raises(conn.ConnectionProblem, match=r"'/var/run/docker.sock' is not an engine URL.*unix:///"):
        conn.resolve(params(docker_host='/var/run/docker.sock'), {})


@pytest.mark.parametrize('host', ['127.0.0.1', '127.8.0.1', '::1', 'localhost', 'web.localhost'])
def test_plain_tcp_to_loopback_is_allowed(host):
    settings = conn.resolve(params(docker_host='tcp://%s:2375' % (('[%s]' % host) if ':' in host else host)), {})
    assert settings['tls'] is None and settings['warnings'] == []


@pytest.mark.parametrize('url', ['tcp://10.0.0.5:2375', 'http://docker1.example.com:2375', 'tcp://0.0.0.0:2375'])
def test_plain_tcp_to_anything_else_is_refused_with_why_and_fixes(url):
    with pytest.raises(conn.ConnectionProblem) as refused:
        conn.resolve(params(docker_host=url), {})
    message = str(refused.value)
    assert message.startswith('refused to talk to the Docker engine at %s without TLS' % url)
    assert 'root on its host' in message and 'validate_certs: true' in message and 'allow_plaintext_tcp: true' in message


def test_allow_plaintext_tcp_says_so_explicitly():
    settings = conn.resolve(params(docker_host='tcp://10.0.0.5:2375', allow_plaintext_tcp=True), {})
    assert settings['tls'] is None


def test_validate_certs_with_the_three_files(tmp_path):
    ca, cert, key = (tmp_path / n for n in ('ca.pem', 'cert.pem', 'key.pem'))
    for path in (ca, cert, key):
        path.write_text('x')
    settings = conn.resolve(params(docker_host='tcp://10.0.0.5:2376', validate_certs=True, ca_path=str(ca),
                                   client_cert=str(cert), client_key=str(key)), {})
    assert settings['tls'] == dict(verify=str(ca), ca_cert=str(ca), client_cert=(str(cert), str(key)))
    assert settings['warnings'] == []


def test_docker_cert_path_fills_the_files_the_options_leave_out(tmp_path):
    for name in ('ca.pem', 'cert.pem', 'key.pem'):
        (tmp_path / name).write_text('x')
    settings = conn.resolve(params(docker_host='tcp://10.0.0.5:2376', validate_certs=True),
                            {'DOCKER_CERT_PATH': str(tmp_path)})
    assert settings['tls']['verify'] == str(tmp_path / 'ca.pem')
    assert settings['tls']['client_cert'] == (str(tmp_path / 'cert.pem'), str(tmp_path / 'key.pem'))


def test_a_missing_file_is_named_with_where_it_came_from(tmp_path):
    with pytest.raises(conn.ConnectionProblem, match=r'ca_path %s/ca.pem \(from DOCKER_CERT_PATH\): no such file' % tmp_path):
        conn.resolve(params(docker_host='tcp://10.0.0.5:2376', validate_certs=True), {'DOCKER_CERT_PATH': str(tmp_path)})


def test_a_client_cert_needs_its_key(tmp_path):
    (tmp_path / 'cert.pem').write_text('x')
    with pytest.raises(conn.ConnectionProblem, match='client_cert is set but client_key is not'):
        conn.resolve(params(docker_host='tcp://10.0.0.5:2376', validate_certs=True,
                            client_cert=str(tmp_path / 'cert.pem')), {})


def test_tls_without_validation_warns_that_the_engine_is_not_checked():
    settings = conn.resolve(params(docker_host='tcp://10.0.0.5:2376', tls=True), {})
    assert settings['tls']['verify'] is False
    assert "certificate is not checked" in settings['warnings'][0]


def test_validate_certs_without_ca_uses_the_system_store():
    settings = conn.resolve(params(docker_host='https://docker1.example.com:2376', validate_certs=True), {})
    assert settings['tls']['verify'] is True and settings['tls']['client_cert'] is None


def test_unix_and_ssh_urls_take_no_tls():
    assert conn.resolve(params(validate_certs=True), {})['tls'] is None
    assert conn.resolve(params(docker_host='ssh://me@h', tls=True), {})['tls'] is None


def test_the_option_table_has_the_names_and_environment_variables_of_the_docker_cli():
    options = _engine.CONNECTION_OPTIONS
    assert options['validate_certs']['aliases'] == ['tls_verify'] and options['ca_path']['aliases'] == ['ca_cert']
    env = dict((name, o['fallback'][1]) for name, o in options.items() if 'fallback' in o)
    assert env == {'docker_host': ['DOCKER_HOST'], 'validate_certs': ['DOCKER_TLS_VERIFY'],
                   'tls_hostname': ['DOCKER_TLS_HOSTNAME'], 'api_version': ['DOCKER_API_VERSION']}
    assert options['allow_plaintext_tcp']['default'] is False


# ------------------------------------------------------------------ the SDK

@pytest.mark.parametrize('docker, requests_version, problem', [
    ('7.1.0', '2.32.3', None),
    ('5.0.3', '2.28.1', None),          # Debian 12
    ('5.0.3', '2.25.1', None),          # Ubuntu 22.04
    ('4.1.0', '2.25.1', None),          # Debian 11, Ubuntu 20.04
    ('7.0.0', '2.31.0', None),
    ('7.0.0', '2.32.0', 'does not work with requests 2.32.0'),
    ('5.0.3', '2.34.2', 'does not work with requests 2.34.2'),
    ('4.0.2', '2.25.1', '4.0.2 is too old (the collection needs 4.1.0 or newer)'),
    ('2.5.1', '2.18.4', 'too old'),     # Ubuntu 18.04
    ('7.1.0.dev3', '2.33.0', None),
])
def test_sdk_problem(docker, requests_version, problem):
    found = conn.sdk_problem(docker, requests_version)
    assert (found is None) if problem is None else (problem in found), found


DEBIAN12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
UBUNTU2404 = 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n'
UBUNTU1804 = 'PRETTY_NAME="Ubuntu 18.04.6 LTS"\nVERSION_ID="18.04"\nID=ubuntu\nID_LIKE=debian\n'
ROCKY9 = 'NAME="Rocky Linux"\nVERSION_ID="9.4"\nID="rocky"\nID_LIKE="rhel centos fedora"\nPRETTY_NAME="Rocky Linux 9.4"\n'
FEDORA = 'NAME="Fedora Linux"\nVERSION_ID=40\nID=fedora\nPRETTY_NAME="Fedora Linux 40"\n'
ALPINE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.0\nPRETTY_NAME="Alpine Linux v3.20"\n'


@pytest.mark.parametrize('release, executable, expected', [
    (DEBIAN12, '/usr/bin/python3', 'on Debian GNU/Linux 12 (bookworm): apt-get install python3-docker (pip into the system '
                                   'Python is refused there: externally-managed-environment)'),
    (UBUNTU2404, '/usr/bin/python3.12', 'on Ubuntu 24.04.1 LTS: apt-get install python3-docker'),
    (UBUNTU1804, '/usr/bin/python3', 'python3-docker is older than 4.1.0: python3 -m venv /opt/containment-venv'),
    (ROCKY9, '/usr/bin/python3', 'on Rocky Linux 9.4: dnf install python3-docker'),
    (FEDORA, '/usr/bin/python3', 'on Fedora Linux 40: dnf install python3-docker'),
    (ALPINE, '/usr/bin/python3', 'on Alpine Linux v3.20: python3 -m venv /opt/containment-venv && '
                                 '/opt/containment-venv/bin/pip install "docker>=7.1.0"'),
    ('', '/usr/bin/python3', 'on this system: python3 -m venv'),
    (DEBIAN12, '/opt/app/venv/bin/python', 'run /opt/app/venv/bin/python -m pip install "docker>=7.1.0"'),
])
def test_install_hint_per_distribution_and_python(release, executable, expected):
    assert expected in conn.install_hint(conn.os_release(release), executable)


def test_the_sdk_message_names_the_host_the_python_the_version_and_the_fix():
    message = conn.sdk_message('web1', '/usr/bin/python3', '3.9.2', conn.sdk_problem('4.0.0', '2.25.1'),
                               conn.os_release(DEBIAN12))
    assert message == ('the Docker SDK for Python 4.0.0 is too old (the collection needs 4.1.0 or newer), on web1 with '
                       'Python /usr/bin/python3 (3.9.2). Fix: on Debian GNU/Linux 12 (bookworm): apt-get install '
                       'python3-docker (pip into the system Python is refused there: externally-managed-environment).')


def test_too_new_requests_is_fixed_with_pip_in_that_environment():
    hint = conn.install_hint(conn.os_release(DEBIAN12), '/usr/bin/python3', conn.sdk_problem('7.0.0', '2.32.3'))
    assert hint.startswith('run /usr/bin/python3 -m pip install "docker>=7.1.0"')


# ------------------------------------------------------------------ why a connection failed

def wrapped(inner):
    """inner as the SDK raises it: requests' ConnectionError around urllib3's MaxRetryError."""
    try:
        try:
            raise urllib3.exceptions.MaxRetryError(None, '/version', inner)
        except urllib3.exceptions.MaxRetryError as exc:
            raise requests.exceptions.ConnectionError(exc)
    except requests.exceptions.ConnectionError as outer:
        return outer


def settings_for(url, **more):
    settings = conn.resolve(params(docker_host=url, allow_plaintext_tcp=True), {})
    settings.update(more)
    return settings


UNIX = settings_for('unix:///var/run/docker.sock')
TLS = settings_for('tcp://10.245.250.2:2376', tls=dict(verify='/pki/ca.pem', ca_cert='/pki/ca.pem', client_cert=None))


def test_permission_denied_names_the_user_the_group_and_the_new_connection():
    message = conn.diagnose(wrapped(urllib3.exceptions.ProtocolError('Connection aborted.', PermissionError(
        errno.EACCES, 'Permission denied'))), UNIX)
    assert message.startswith('permission denied on /var/run/docker.sock for user ')
    assert 'usermod -aG' in message and 'new SSH connection' in message and 'meta: reset_connection' in message


def test_connection_refused_on_a_socket_means_the_daemon_is_not_running():
    message = conn.diagnose(wrapped(ConnectionRefusedError(errno.ECONNREFUSED, 'Connection refused')), UNIX)
    assert message.startswith('nobody listens on /var/run/docker.sock') and 'dockerd is not running' in message


def test_a_missing_socket_is_found_before_connecting(tmp_path):
    message = conn.socket_problem(settings_for('unix://%s/docker.sock' % tmp_path))
    assert message.startswith('no Docker engine socket at %s/docker.sock' % tmp_path) and 'does not exist' in message
    assert conn.socket_problem(settings_for('tcp://127.0.0.1:2375')) is None


def test_a_certificate_of_another_ca_names_the_ca_file():
    error = ssl.SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get '
                                            'local issuer certificate (_ssl.c:1006)')
    error.verify_message = 'unable to get local issuer certificate'
    message = conn.diagnose(wrapped(requests.exceptions.SSLError(error)), TLS)
    assert message.startswith('the engine at 10.245.250.2:2376 presented a certificate that ca_path (/pki/ca.pem) '
                              'does not trust: unable to get local issuer certificate.')
    assert 'REQUESTS_CA_BUNDLE' in message


@pytest.mark.parametrize('text', ["hostname 'wrong.example' doesn't match 'engine.containment.test'",
                                  "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, "
                                  "certificate is not valid for 'wrong.example'."])
def test_a_certificate_for_another_name_names_the_name_checked(text):
    message = conn.diagnose(wrapped(requests.exceptions.SSLError(text)), dict(TLS, tls_hostname='wrong.example'))
    assert message.startswith("the engine at 10.245.250.2:2376 presented a certificate that does not name 'wrong.example'")


@pytest.mark.parametrize('text', ['[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required',
                                  '[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate',
                                  'EOF occurred in violation of protocol (_ssl.c:2427)'])
def test_a_refused_client_certificate(text):
    message = conn.diagnose(wrapped(requests.exceptions.SSLError(text)), TLS)
    assert message.startswith('the engine at 10.245.250.2:2376 refused the TLS handshake: it requires a client '
                              'certificate signed by its own CA') and 'none was given' in message


def test_plain_http_to_a_tls_port():
    error = Exception('400 Client Error: Bad Request ("Client sent an HTTP request to an HTTPS server.")')
    message = conn.diagnose(error, settings_for('tcp://10.245.250.2:2376'))
    assert message.startswith('the engine at 10.245.250.2:2376 speaks TLS and the module did not')


def test_sdk_incompatibilities_met_at_run_time():
    message = conn.diagnose(Exception('Error while fetching server API version: Not supported URL scheme http+docker'),
                            dict(UNIX, sdk='the Docker SDK for Python 7.0.0 (requests 2.32.3, urllib3 2.2.1)'))
    assert message.startswith('the Docker SDK for Python 7.0.0 (requests 2.32.3, urllib3 2.2.1) on ')
    assert 'SDKs before 7.1.0 do not work with requests 2.32' in message
    message = conn.diagnose(TypeError("HTTPConnection.request() got an unexpected keyword argument 'chunked'"), UNIX)
    assert 'SDKs before 6.1.0 do not work with urllib3 2' in message and 'docker>=7.1.0' in message


def test_tcp_refused_and_unknown_errors():
    message = conn.diagnose(wrapped(ConnectionRefusedError(errno.ECONNREFUSED, 'refused')), settings_for('tcp://127.0.0.1:2375'))
    assert message.startswith('nothing listens on 127.0.0.1:2375 (connection refused)')
    assert conn.diagnose(Exception('something else'), UNIX) is None


def test_ssh_urls_need_paramiko_or_the_ssh_client():
    settings = settings_for('ssh://deploy@docker1.example.com')
    message = conn.ssh_problem(settings, has_paramiko=False)
    assert 'paramiko, not installed on' in message and 'use_ssh_client: true' in message
    assert conn.ssh_problem(settings, has_paramiko=True) is None
    assert conn.ssh_problem(UNIX, has_paramiko=False) is None
