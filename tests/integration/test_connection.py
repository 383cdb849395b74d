"""How the modules reach engines, against real engines: the session's SSH fleet's TLS host
(conftest.py ssh_fleet: its dockerd serves tcp://NET.3.2:2376 with --tlsverify, a CA and
certificates made by tests/fleet/fleet.sh), reached from the controller with the TLS options its
inventory entry gives, and the machine's engine for the local failure modes. Every TLS run has
REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE pointing at an unrelated CA, as on corporate hosts: the
engine's own CA (ca_path) must win. The role and the audit playbook through the TLS host run in
test_role.py's fleet test.

The modules run with the venv's Docker SDK and, where installed (scripts/ensure-test-packages),
with Debian's python3-docker in /usr/bin/python3, as on a managed host.
CONTAINMENT_SDK_PYTHONS (colon-separated interpreters) adds more SDKs to the deploy test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from integration_helpers import Sandbox, inspect, openssl_cert

SYSTEM_PYTHON = "/usr/bin/python3"


def has_sdk(python):
    return subprocess.run([python, "-c", "import docker"], capture_output=True, check=False).returncode == 0


def sdk_pythons():
    found = [pytest.param(None, id="venv-sdk")]
    system = pytest.mark.skipif(not (os.path.exists(SYSTEM_PYTHON) and has_sdk(SYSTEM_PYTHON)),
                                reason="no python3-docker in /usr/bin/python3 (scripts/ensure-test-packages)")
    found.append(pytest.param(SYSTEM_PYTHON, id="system-python3-docker", marks=system))
    for extra in filter(None, os.environ.get("CONTAINMENT_SDK_PYTHONS", "").split(":")):
        found.append(pytest.param(extra, id="sdk-" + extra.strip("/").replace("/", "-")))
    return found


class TlsHost(object):
    """The SSH fleet's TLS host as its inventory entry says (containment_docker_* -> module options),
    a client certificate of the unrelated CA (`stranger`), and the docker CLI on its unix socket."""

    def __init__(self, fleet, workdir):
        self.fleet, self.name = fleet, fleet.tls_host
        self.vars = fleet.hosts[self.name]
        self.url = self.vars["containment_docker_host"]
        self.address = self.vars["cdfleet_address"]
        self.server_name = self.vars["containment_docker_tls_hostname"]
        self.cert_dir = Path(self.vars["cdfleet_cert_path"])  # DOCKER_CERT_PATH layout
        self.daemon_config = self.vars["cdfleet_daemon_config"]
        self.workdir = workdir
        self.other_ca, self.trap_env = fleet.other_ca, fleet.trap_env
        self.stranger = openssl_cert(workdir, "stranger", self.other_ca, "/CN=stranger", "extendedKeyUsage=clientAuth\n")

    def options(self, **more):
        """Module options that reach the engine with mutual TLS: the inventory's variables."""
        options = dict((k[len("containment_docker_"):], v) for k, v in self.vars.items()
                       if k.startswith("containment_docker_") and k != "containment_docker_host")
        options.update(docker_host=self.url, **more)
        return options

    def docker(self, *args, check=True):
        return self.fleet.docker(self.name, *args, check=check)


@pytest.fixture(scope="module")
def tls_engine(ssh_fleet, tmp_path_factory):
    return TlsHost(ssh_fleet, tmp_path_factory.mktemp("tls-host"))


@pytest.fixture
def remote(tls_engine, sandbox):
    """The sandbox's containers and networks on the TLS host are removed after the test too."""
    yield tls_engine
    tls_engine.fleet.remove(sandbox.prefix)


def remote_inspect(tls_engine, name):
    proc = tls_engine.docker("container", "inspect", name, check=False)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def service(sandbox, suffix="app", **options):
    args = dict(name=sandbox.name(suffix), image=sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_1"], user="1500:1500",
                memory="32m", cpus=0.5, grace_period=1, stop_timeout=1)
    args.update(options)
    return args


def msg(result):
    assert result.get("failed"), "expected a failure, got %s" % result
    return result["msg"]


# ------------------------------------------------------------------ through mutual TLS

@pytest.mark.parametrize("python", sdk_pythons())
def test_deploy_rerun_and_audit_through_mutual_tls(remote, sandbox, python):
    spec = dict(service(sandbox), **remote.options())
    # the fleet's hosts share this machine's /proc, so the audit finds the TLS host's dockerd and reads
    # its daemon.json and command line, as it does when it runs on the engine host
    audit = dict(remote.options(), names=[sandbox.prefix + "*"], daemon_config=remote.daemon_config,
                 _module="containment.docker.secure_container_audit")
    created, rerun, changed, audit = sandbox.run([spec, spec, dict(spec, memory="48m"), audit], python=python,
                                                 env=remote.trap_env)
    assert not created.get("failed"), created.get("msg")
    assert created["changed"] is True and created["action"] == "create"
    assert rerun["changed"] is False, rerun
    assert changed["changed"] is True and changed["action"] == "recreate"
    live = remote_inspect(remote, spec["name"])
    assert live["State"]["Running"] is True and live["HostConfig"]["Memory"] == 48 * 1024 * 1024
    assert inspect(spec["name"]) is None, "created on the TLS engine, not on the local one"
    assert not audit.get("failed"), audit.get("msg")
    assert audit["engine"]["docker_host"] == remote.url
    assert [c["name"] for c in audit["containers"]] == [spec["name"]]
    tls_on_tcp = dict((f["control"], f) for f in audit["daemon"]["findings"])["tls_on_tcp"]
    assert tls_on_tcp["status"] == "pass", tls_on_tcp
    assert tls_on_tcp["evidence"] == {"setting hosts": ["unix:///var/run/docker.sock", remote.url],
                                      "setting tlsverify": True}


def test_the_docker_cli_environment_reaches_the_engine(remote, sandbox):
    env = dict(remote.trap_env, DOCKER_HOST=remote.url, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(remote.cert_dir),
               DOCKER_TLS_HOSTNAME=remote.server_name, DOCKER_API_VERSION="1.41")
    result = sandbox.run({"names": ["nothing-*"]}, env=env, module="containment.docker.secure_container_audit")
    assert not result.get("failed"), result.get("msg")
    assert result["engine"]["docker_host"] == remote.url and result["engine"]["server_version"]


def test_tls_failures_name_the_certificate_and_the_host_name(remote, sandbox):
    pki = remote.workdir
    spec = service(sandbox)
    results = sandbox.run([
        dict(spec, **remote.options(ca_path=str(remote.other_ca[0]))),
        dict(spec, **remote.options(tls_hostname="wrong.example")),
        # the engine's address, not tls_hostname: checked against the certificate's IP address
        dict(spec, state="absent", **dict((k, v) for k, v in remote.options().items() if k != "tls_hostname")),
        dict(spec, **dict((k, v) for k, v in remote.options().items() if k not in ("client_cert", "client_key"))),
        dict(spec, **remote.options(client_cert=str(remote.stranger[0]), client_key=str(remote.stranger[1]))),
        dict(spec, **remote.options(client_key=str(pki / "nope.pem"))),
        dict(spec, docker_host=remote.url),
        dict(spec, docker_host=remote.url, allow_plaintext_tcp=True),
    ], env=remote.trap_env)
    wrong_ca, wrong_name, by_address, no_cert, stranger, no_file, plaintext, plaintext_allowed = results
    assert msg(wrong_ca) == (
        "the engine at %s:2376 presented a certificate that ca_path (%s) does not trust: unable to get local issuer "
        "certificate. Fix: set ca_path to the CA that signed the engine's certificate (the CA of dockerd --tlscacert's "
        "chain); REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE are not used for the engine when ca_path is set."
        % (remote.address, remote.other_ca[0]))
    assert msg(wrong_name).startswith("the engine at %s:2376 presented a certificate that does not name "
                                      "'wrong.example'" % remote.address)
    assert "set tls_hostname to a name in the certificate's subject alternative names" in msg(wrong_name)
    assert not by_address.get("failed"), by_address.get("msg")
    for refused in (no_cert, stranger):
        assert msg(refused).startswith("the engine at %s:2376 refused the TLS handshake: it requires a client "
                                       "certificate signed by its own CA" % remote.address)
    assert "none was given" in msg(no_cert)
    assert "the certificate %s was not accepted" % remote.stranger[0] in msg(stranger)
    assert msg(no_file) == ("client_key %s/nope.pem: no such file. Fix: give the path of the PEM file on the host the "
                            "module runs on." % pki)
    assert msg(plaintext).startswith("refused to talk to the Docker engine at %s without TLS: the engine API has no "
                                     "authentication of its own, so anyone who can reach that port is root on its host"
                                     % remote.url)
    assert msg(plaintext_allowed).startswith("the engine at %s:2376 speaks TLS and the module did not" % remote.address)
    assert remote_inspect(remote, spec["name"]) is None, "nothing was created"


# ------------------------------------------------------------------ the local engine's failure modes

def test_socket_missing_engine_not_running_and_ssh_without_paramiko(sandbox, tmp_path):
    dead = tmp_path / "dead.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(dead))
    listener.close()  # the file stays, nobody listens: what a crashed dockerd leaves
    missing, stale, ssh = sandbox.run([
        {"docker_host": "unix://%s/none.sock" % tmp_path, "names": []},
        {"docker_host": "unix://%s" % dead, "names": []},
        {"docker_host": "ssh://nobody@127.0.0.1:1", "names": []},
    ], module="containment.docker.secure_container_audit")
    assert msg(missing) == ("no Docker engine socket at %s/none.sock on %s (the file does not exist): dockerd is not "
                            "running there, or it listens elsewhere. Fix: start it (systemctl start docker), or set "
                            "docker_host (or DOCKER_HOST) to its socket." % (tmp_path, socket.gethostname()))
    assert msg(stale) == ("nobody listens on %s on %s: the socket file exists but dockerd is not running (or died and "
                          "left it behind). Fix: start it (systemctl start docker), or set docker_host (or DOCKER_HOST) "
                          "to the socket of the engine that runs." % (dead, socket.gethostname()))
    if __import__("importlib").util.find_spec("paramiko") is None:  # the venv's SDK, without paramiko
        assert msg(ssh).startswith("docker_host ssh://nobody@127.0.0.1:1 is an ssh:// URL, which the Docker SDK "
                                   "reaches with paramiko, not installed on %s. Fix: install it" % socket.gethostname())
        assert "or set use_ssh_client: true to use the ssh binary" in msg(ssh)


def test_permission_denied_on_the_socket_names_the_user_and_the_fix(engine):
    """The module runs as nobody (setpriv, no groups) against the machine's socket (root:docker 0660).
    Pipelining sends the module on stdin, so nobody needs no access to root's temporary files."""
    python = SYSTEM_PYTHON if has_sdk(SYSTEM_PYTHON) else None
    if python is None:
        pytest.skip("needs python3-docker in /usr/bin/python3, which nobody can run (scripts/ensure-test-packages)")
    sock = "/var/run/docker.sock"
    if os.stat(sock).st_mode & 0o006:
        pytest.skip("the socket is world-accessible here")
    workdir = Path(tempfile.mkdtemp(prefix="cdcon-nobody-"))
    try:
        os.chmod(workdir, 0o777)
        wrapper = workdir / "python-as-nobody"
        wrapper.write_text("#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups %s \"$@\"\n" % python)
        wrapper.chmod(0o755)
        box = Sandbox(workdir, engine)
        result = box.run({"names": []}, python=str(wrapper), module="containment.docker.secure_container_audit",
                         env={"ANSIBLE_PIPELINING": "1"})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    group = __import__("grp").getgrgid(os.stat(sock).st_gid).gr_name
    assert msg(result) == (
        "permission denied on %s for user nobody (uid 65534) on %s: only root and the members of group %s may use the "
        "Docker socket. Fix: run the task as root (become: true), or add the user to the group (usermod -aG %s nobody) "
        "and then open a new SSH connection (Ansible keeps its connection open, and an open session keeps its old "
        "groups: run meta: reset_connection, or end the ControlPersist master); membership of that group is root on "
        "the host." % (sock, socket.gethostname(), group, group))


def test_missing_sdk_names_the_host_the_python_and_what_to_install(sandbox, tmp_path):
    base = SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else "python3"
    subprocess.run([base, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    result = sandbox.run({"names": []}, python=python, module="containment.docker.secure_container_audit")
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert msg(result) == ('the Docker SDK for Python (import docker), 4.1.0 or newer, is not installed, on %s with '
                           'Python %s (%s). Fix: run %s -m pip install "docker>=7.1.0" (in the environment of the Python '
                           'that runs the module).' % (socket.gethostname(), python, version, python))
