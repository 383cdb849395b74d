"""Fixtures of the integration tests (helpers: integration_helpers.py).

    engine    -- session: the Docker engine answers and the test images exist.
    sandbox   -- per test: an integration_helpers.Sandbox (unique name prefix, run() of
                 playbooks); its containers, networks and image tags are removed after
                 the test, also when it fails.
    ssh_fleet -- session: three SSH hosts (tests/fleet/fleet.sh up 3 --ssh) of the session's own
                 fleet prefix and net, shared by every test module that uses them (test_role.py,
                 test_audit_playbook.py, test_connection.py), taken down at the end. Ansible
                 reaches host1 and host2 over SSH; the module runs there with /usr/bin/python3 and
                 Debian's python3-docker. host3 (CDFLEET_TCP_3=tls) serves its engine also on
                 tcp://NET.3.2:2376 with mutual TLS; its inventory entry reaches it from the
                 controller with the role's TLS variables. `trap_env` sets REQUESTS_CA_BUNDLE and
                 CURL_CA_BUNDLE to an unrelated CA (`other_ca`), as corporate hosts do.
    ssh_user  -- session: a non-root user on those hosts (they share this machine's
                 /etc/passwd), allowed in with the fleet's key, not in group docker; removed
                 at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
import yaml

from integration_helpers import TOP, Sandbox, docker, openssl_ca

FLEET = TOP / "tests" / "fleet" / "fleet.sh"
# The session's SSH fleet: names and addresses of its own, beside the default fleet (cdfleet),
# molecule's (cdmol), the fault suite's (cdflt) and the benchmark's (cdbench). Two checkouts
# testing on one machine give one of them others (CONTAINMENT_SSH_FLEET_PREFIX / _NET).
SSH_FLEET_ENV = {"CDFLEET_PREFIX": os.environ.get("CONTAINMENT_SSH_FLEET_PREFIX", "cdsit"),
                 "CDFLEET_NET": os.environ.get("CONTAINMENT_SSH_FLEET_NET", "10.241")}


@pytest.fixture(scope="session")
def engine(test_images):
    """The engine answers and the test images exist (built by scripts/build-images if not)."""
    if docker("version", "--format", "{{.Server.Version}}", check=False).returncode != 0:
        pytest.fail("no Docker engine answers; run scripts/ensure-docker (make engine)")
    if any(docker("image", "inspect", tag, check=False).returncode for tag in test_images.values()):
        subprocess.run([str(TOP / "scripts" / "build-images")], check=True)
    return test_images


@pytest.fixture
def sandbox(tmp_path, engine):
    box = Sandbox(tmp_path, engine)
    yield box
    box.cleanup()


class SshFleet(object):
    """The session's SSH hosts: `inventory` (fleet.sh's, group fleet), `hosts` (its host variables),
    `tls_host` (the one reached over TCP with mutual TLS), `other_ca` and `trap_env`."""

    tls_host = "host3"

    def __init__(self, inventory, other_ca):
        self.inventory = inventory
        self.hosts = yaml.safe_load(inventory.read_text(encoding="utf-8"))["fleet"]["hosts"]
        self.other_ca = other_ca
        self.trap_env = {"REQUESTS_CA_BUNDLE": str(other_ca[0]), "CURL_CA_BUNDLE": str(other_ca[0])}

    def docker(self, host, *args, check=True):
        """The docker CLI on this machine against `host`'s engine (checks from outside)."""
        proc = subprocess.run(["docker", *args], check=False, capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, DOCKER_HOST=self.hosts[host]["cdfleet_docker_host"]))
        if check and proc.returncode != 0:
            raise AssertionError("docker %s on %s failed: %s" % (" ".join(args), host, proc.stderr.strip()))
        return proc

    def remove(self, prefix):
        """Remove the containers and networks whose names carry `prefix`, on every host."""
        for host in self.hosts:
            ids = self.docker(host, "ps", "-aq", "--filter", "name=^/" + prefix, check=False).stdout.split()
            if ids:
                self.docker(host, "rm", "-f", *ids, check=False)
            nets = self.docker(host, "network", "ls", "-q", "--filter", "name=containment_" + prefix,
                               check=False).stdout.split()
            if nets:
                self.docker(host, "network", "rm", *nets, check=False)


@pytest.fixture(scope="session")
def ssh_fleet(engine, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the SSH fleet needs root (network and mount namespaces, dockerd, sshd)")
    if not os.path.exists("/usr/sbin/sshd"):
        pytest.skip("no /usr/sbin/sshd for the SSH fleet: scripts/ensure-test-packages installs openssh-server")
    if not shutil.which("openssl"):
        pytest.skip("no openssl for the SSH fleet's TLS host: scripts/ensure-test-packages installs it")
    if subprocess.run(["/usr/bin/python3", "-c", "import docker"], check=False, capture_output=True).returncode:
        pytest.skip("/usr/bin/python3 has no Docker SDK for the SSH fleet: scripts/ensure-test-packages installs python3-docker")
    workdir = tmp_path_factory.mktemp("ssh-fleet")
    inventory = workdir / "inventory.yml"
    env = dict(os.environ, CDFLEET_INVENTORY=str(inventory), CDFLEET_TCP_3="tls", **SSH_FLEET_ENV)
    try:
        subprocess.run([str(FLEET), "up", "3", "--ssh"], check=True, timeout=600, env=env)
        yield SshFleet(inventory, openssl_ca(workdir, "other-ca"))
    finally:
        subprocess.run([str(FLEET), "down"], check=False, timeout=600, env=env)


@pytest.fixture(scope="session")
def ssh_user(ssh_fleet):
    """A user without access to the Docker socket; `*` as password: no password, not locked (sshd
    refuses a locked account), so the fleet's key lets it in."""
    name = "cdsit%s" % uuid.uuid4().hex[:6]
    keys = os.path.join(ssh_fleet.hosts["host1"]["cdfleet_authorized_keys"], name)
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", "--password", "*", name], check=True)
    try:
        with open(os.path.join(ssh_fleet.hosts["host1"]["cdfleet_authorized_keys"], "root"), encoding="utf-8") as root:
            with open(keys, "w", encoding="utf-8") as mine:
                mine.write(root.read())
        os.chmod(keys, 0o644)
        yield name
    finally:
        if os.path.exists(keys):
            os.unlink(keys)
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
