"""How the modules reach engines, against real engines: a dockerd of its own serving TCP with
mutual TLS in a network namespace (tls_engine.py), and the machine's engine for the local
failure modes. Every TLS run has REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE pointing at an unrelated
CA, as on corporate hosts: the engine's own CA (ca_path) must win.

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

from integration_helpers import ANSIBLE_ENV, ANSIBLE_PLAYBOOK, Sandbox, inspect
from tls_engine import SERVER_NAME, TlsEngine

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("openssl") or not shutil.which("nsenter"),
                                reason="needs root, openssl and nsenter (scripts/ensure-test-packages)")

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


@pytest.fixture(scope="module")
def tls_engine(engine, tmp_path_factory):
    prefix = os.environ.get("CDFLEET_PREFIX", "cdcon")[:6]
    net = os.environ.get("CDFLEET_NET", "10.245")
    served = TlsEngine(tmp_path_factory.mktemp("tls-engine"), prefix=prefix, net=net)
    try:
        served.start([engine["CONTAINMENT_IMAGE_BUSYBOX_1"]])
        served.trap_env = {"REQUESTS_CA_BUNDLE": str(served.other_ca[0]), "CURL_CA_BUNDLE": str(served.other_ca[0])}
        yield served
    finally:
        served.stop()
        assert served.leftovers() == [], "the TLS engine left things behind"


@pytest.fixture
def remote(tls_engine, sandbox):
    """The sandbox's containers and networks on the TLS engine are removed after the test too."""
    yield tls_engine
    ids = tls_engine.docker("ps", "-aq", "--filter", "name=^/" + sandbox.prefix, check=False).stdout.split()
    if ids:
        tls_engine.docker("rm", "-f", *ids, check=False)
    nets = tls_engine.docker("network", "ls", "-q", "--filter", "name=containment_" + sandbox.prefix, check=False).stdout.split()
    if nets:
        tls_engine.docker("network", "rm", *nets, check=False)


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
    audit = dict(remote.options(), names=[sandbox.prefix + "*"], _module="containment.docker.secure_container_audit")
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


def test_the_docker_cli_environment_reaches_the_engine(remote, sandbox):
    env = dict(remote.trap_env, DOCKER_HOST=remote.url, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(remote.cert_dir),
               DOCKER_TLS_HOSTNAME=SERVER_NAME, DOCKER_API_VERSION="1.41")
    result = sandbox.run({"names": ["nothing-*"]}, env=env, module="containment.docker.secure_container_audit")
    assert not result.get("failed"), result.get("msg")
    assert result["engine"]["docker_host"] == remote.url and result["engine"]["server_version"]


def test_tls_failures_name_the_certificate_and_the_host_name(remote, sandbox):
    pki = remote.pki
    spec = service(sandbox)
    results = sandbox.run([
        dict(spec, **remote.options(ca_path=str(remote.other_ca[0]))),
        dict(spec, **remote.options(tls_hostname="wrong.example")),
        dict(spec, **remote.options(tls_hostname=SERVER_NAME, state="absent")),
        dict(spec, **dict((k, v) for k, v in remote.options().items() if k not in ("client_cert", "client_key"))),
        dict(spec, **remote.options(client_cert=str(remote.stranger[0]), client_key=str(remote.stranger[1]))),
        dict(spec, **remote.options(client_key=str(pki / "nope.pem"))),
        dict(spec, docker_host=remote.url),
        dict(spec, docker_host=remote.url, allow_plaintext_tcp=True),
    ], env=remote.trap_env)
    wrong_ca, wrong_name, right_name, no_cert, stranger, no_file, plaintext, plaintext_allowed = results
    assert msg(wrong_ca) == (
        "the engine at %s:2376 presented a certificate that ca_path (%s) does not trust: unable to get local issuer "
        "certificate. Fix: set ca_path to the CA that signed the engine's certificate (the CA of dockerd --tlscacert's "
        "chain); REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE are not used for the engine when ca_path is set."
        % (remote.address, remote.other_ca[0]))
    assert msg(wrong_name).startswith("the engine at %s:2376 presented a certificate that does not name "
                                      "'wrong.example'" % remote.address)
    assert "set tls_hostname to a name in the certificate's subject alternative names" in msg(wrong_name)
    assert not right_name.get("failed"), right_name.get("msg")
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


def test_role_and_audit_playbook_through_tls_with_unreachable_and_not_audited_hosts(remote, sandbox, tmp_path):
    """The role deploys through the TLS engine from containment_docker_* inventory variables; the
    audit playbook then reports it, a host without the Docker SDK as not audited (with the SDK
    message) and a host SSH cannot reach as unreachable."""
    no_sdk = tmp_path / "no-sdk"
    subprocess.run([SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else "python3", "-m", "venv", "--without-pip",
                    str(no_sdk)], check=True)
    tls_vars = dict(("containment_" + k if k == "docker_host" else "containment_docker_" + k, v)
                    for k, v in remote.options().items())
    inventory = {"all": {"hosts": {
        "tlshost": dict(tls_vars, ansible_connection="local", ansible_python_interpreter="{{ ansible_playbook_python }}",
                        secure_services_prune=False, secure_services_services=[service(sandbox, "role")]),
        "nosdk": {"ansible_connection": "local", "ansible_python_interpreter": str(no_sdk / "bin" / "python")},
        "gone": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh", "ansible_user": "nobody",
                 "ansible_ssh_common_args": "-o BatchMode=yes -o StrictHostKeyChecking=no"},
    }}}
    (tmp_path / "hosts.yml").write_text(json.dumps(inventory), encoding="utf-8")
    env = dict(os.environ, **dict(ANSIBLE_ENV, **remote.trap_env))

    def playbook(name, **extra):
        proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "hosts.yml"), "containment.docker.%s" % name,
                               "-e", json.dumps(extra)], capture_output=True, text=True, env=env, timeout=300,
                              check=False)
        (tmp_path / ("%s.txt" % name)).write_text(proc.stdout + proc.stderr, encoding="utf-8")
        return proc

    deployed = playbook("deploy", containment_deploy_hosts="tlshost")
    assert deployed.returncode == 0, deployed.stdout[-3000:]
    assert remote_inspect(remote, sandbox.name("role"))["State"]["Running"] is True

    audited = playbook("audit", containment_audit_report_dir=str(tmp_path / "reports"),
                       containment_audit_names=[sandbox.prefix + "*"])
    assert audited.returncode != 0, "hosts not audited fail the run"
    report = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
    hosts = dict((h["host"], h) for h in report["hosts"])
    assert hosts["tlshost"]["status"] == "ok"
    assert [c["name"] for c in hosts["tlshost"]["containers"]] == [sandbox.name("role")]
    assert hosts["nosdk"]["status"] == "not_audited"
    assert hosts["nosdk"]["error"].startswith("not audited: the Docker SDK for Python (import docker), 4.1.0 or newer, "
                                              "is not installed, on %s with Python %s" % (socket.gethostname(),
                                                                                          no_sdk / "bin" / "python"))
    assert hosts["gone"]["status"] == "unreachable" and hosts["gone"]["error"].startswith("unreachable: ")
    assert report["summary"]["unreachable_hosts"] == ["gone"] and report["summary"]["not_audited_hosts"] == ["nosdk"]
    assert "nosdk: not audited: the Docker SDK" in audited.stdout and "gone: unreachable: " in audited.stdout


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
