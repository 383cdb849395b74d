"""The daemon under the containers, on simulated hosts (tests/fleet/fleet.sh, this file's own fleet
prefix and network): the audit's daemon controls over daemons started with weak and hardened
settings, containers judged by what the kernel shows, and the role secure_engine converging a
daemon while its containers keep running.

    host1  daemon.json {} (Docker's defaults), later no-new-privileges turned on; its dockerd also
           listens on plaintext TCP (fleet.sh CDFLEET_TCP_1=plain: -H tcp://NET.1.2:2375 --tls=false)
    host2  the hardened daemon.json of the role's defaults
    host3  a user's daemon.json (a registry mirror, an insecure registry), hardened by the role

The fleet is this module's own: brought up and taken down here."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import yaml

from ansible_collections.containment.docker.plugins.module_utils import _policy, _reports

from integration_helpers import ANSIBLE_ENV, ANSIBLE_PLAYBOOK, TOP, Sandbox

FLEET = TOP / "tests" / "fleet" / "fleet.sh"
# a fleet of its own; two checkouts testing on one machine give one of them others
FLEET_ENV = {"CDFLEET_PREFIX": os.environ.get("CONTAINMENT_DAEMON_FLEET_PREFIX", "cddmn"),
             "CDFLEET_NET": os.environ.get("CONTAINMENT_DAEMON_FLEET_NET", "10.248")}
RUN = "/run/%s" % FLEET_ENV["CDFLEET_PREFIX"]  # fleet.sh's per-host files: RUN/hostI/daemon.json
AUDIT = "containment.docker.secure_container_audit"
HARDENED = yaml.safe_load((TOP / "roles" / "secure_engine" / "defaults" / "main.yml").read_text())["secure_engine_hardened"]
USER_CONFIG = {"registry-mirrors": ["https://mirror.example.com"], "insecure-registries": ["registry.lab:5000"]}
INSECURE_REASON = "the lab registry gets its certificate in Q3 (ticket LAB-12)"
WEAK_FAILS = ["live_restore", "default_log_limits", "icc_disabled", "userland_proxy_off", "default_no_new_privileges",
              "tls_on_tcp"]


def fleet_sh(*args, env=None):
    return subprocess.run([str(FLEET), *args], check=True, timeout=300, capture_output=True, text=True,
                          env=dict(os.environ, **FLEET_ENV, **(env or {})))


def hdocker(sock, *args):
    proc = subprocess.run(["docker", *args], check=False, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, DOCKER_HOST=sock))
    assert proc.returncode == 0, "docker %s on %s: %s" % (" ".join(args), sock, proc.stderr)
    return proc.stdout.strip()


def configure(fleet, i, config):
    path = fleet["tmp"] / ("daemon-%d.json" % i)
    path.write_text(json.dumps(config), encoding="utf-8")
    fleet_sh("config", str(i), str(path))


@pytest.fixture(scope="module")
def fleet(engine, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("daemon-fleet")
    inventory = tmp / "inventory.yml"
    try:
        fleet_sh("up", "3", env={"CDFLEET_INVENTORY": str(inventory), "CDFLEET_TCP_1": "plain"})
        hosts = yaml.safe_load(inventory.read_text(encoding="utf-8"))["fleet"]["hosts"]
        for name, host in hosts.items():
            host["containment_docker_daemon_config"] = "%s/%s/daemon.json" % (RUN, name)
        inventory.write_text(yaml.safe_dump({"fleet": {"hosts": hosts}}), encoding="utf-8")
        result = {"tmp": tmp, "inventory": inventory, "hosts": hosts,
                  "sockets": dict((h, hosts[h]["containment_docker_host"]) for h in hosts)}
        configure(result, 1, {})
        configure(result, 2, HARDENED)
        configure(result, 3, USER_CONFIG)
        yield result
    finally:
        fleet_sh("down")


@pytest.fixture(scope="module")
def box(fleet, engine, tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("daemon-box"), engine)
    yield sandbox
    for sock in fleet["sockets"].values():
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", "name=^/" + sandbox.prefix], capture_output=True, text=True,
                             check=False, env=dict(os.environ, DOCKER_HOST=sock)).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False, env=dict(os.environ, DOCKER_HOST=sock))


def audit(box, fleet, host, **options):
    options = dict(dict(docker_host=fleet["sockets"][host], daemon_config="%s/%s/daemon.json" % (RUN, host),
                        names=[box.prefix + "*"]), **options)
    result = box.run(options, module=AUDIT)
    assert not result.get("failed"), result.get("msg")
    return result


def daemon_statuses(result):
    return dict((f["control"], f["status"]) for f in result["daemon"]["findings"])


def container_findings(result, name):
    return dict((f["control"], f) for f in result["findings"] if f["container"] == name)


def run_container(fleet, box, host, suffix, *flags):
    hdocker(fleet["sockets"][host], "run", "-d", "--name", box.name(suffix), "--restart", "always", "--user", "1500:1500",
            *flags, box.images["CONTAINMENT_IMAGE_BUSYBOX_1"], "sleep", "100000")
    return int(hdocker(fleet["sockets"][host], "inspect", "-f", "{{.State.Pid}}", box.name(suffix)))


# ---------------------------------------------------------------- the daemon controls

@pytest.fixture(scope="module")
def reports(fleet, box):
    """audit.yml over host1 (defaults) and host2 (hardened): the four reports."""
    report_dir = fleet["tmp"] / "reports"
    variables = dict(containment_audit_hosts="host1:host2", containment_audit_report_dir=str(report_dir),
                     containment_audit_names=[box.prefix + "*"])
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(fleet["inventory"]), "containment.docker.audit", "-e", json.dumps(variables)],
                          check=False, capture_output=True, text=True, timeout=300, env=dict(os.environ, **ANSIBLE_ENV))
    return proc, report_dir


def test_defaults_fail_and_hardened_settings_pass_every_daemon_control(fleet, box, reports):
    weak, hardened = audit(box, fleet, "host1"), audit(box, fleet, "host2")
    assert weak["daemon"]["settings_source"] == "%s/host1/daemon.json and the dockerd command line" % RUN
    assert weak["daemon"]["failing_controls"] == WEAK_FAILS
    assert daemon_statuses(weak) == dict(
        {c.id: "pass" for c in _policy.DAEMON_CONTROLS}, **{c: "fail" for c in WEAK_FAILS},
        userns_remap="warn", default_ulimits="warn", authorization_plugin="warn")
    assert daemon_statuses(hardened) == dict({c.id: "pass" for c in _policy.DAEMON_CONTROLS},
                                             userns_remap="warn", authorization_plugin="warn")
    fixes = dict((f["control"], f) for f in weak["daemon"]["findings"])
    assert fixes["live_restore"]["evidence"] == {"info.LiveRestoreEnabled": False}
    assert fixes["icc_disabled"]["evidence"]["bridge com.docker.network.bridge.enable_icc"] == "true"
    assert all('daemon.json' in fixes[c]["fix"] for c in WEAK_FAILS if c != "tls_on_tcp")
    # CIS 2.7 on the real daemon: its plaintext TCP listener, read from its command line
    plaintext = "tcp://%s:2375" % fleet["hosts"]["host1"]["cdfleet_address"]
    assert fixes["tls_on_tcp"]["evidence"] == {"setting hosts": [fleet["sockets"]["host1"], plaintext],
                                               "setting tlsverify": False}
    assert fixes["tls_on_tcp"]["message"] == ("the daemon listens on %s without tlsverify: anyone who reaches it is "
                                              "root on the host" % plaintext)
    assert fixes["tls_on_tcp"]["fix"].startswith('listen on the unix socket only, or set "tlsverify": true')
    assert daemon_statuses(hardened)["tls_on_tcp"] == "pass"  # the unix socket only


def test_away_from_the_engine_host_unread_settings_warn(fleet, box):
    result = audit(box, fleet, "host2", daemon_config=str(fleet["tmp"] / "elsewhere.json"))
    statuses = daemon_statuses(result)
    assert statuses["userland_proxy_off"] == "warn" and statuses["live_restore"] == "pass"  # docker info still tells
    assert "no dockerd on this host serves this engine" in result["daemon"]["settings_source"]


def test_the_four_reports_carry_the_daemons(fleet, reports):
    proc, report_dir = reports
    assert proc.returncode != 0 and "failing daemon control(s) on" in proc.stdout + proc.stderr and "host1" in proc.stdout
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, _reports.REPORT_SCHEMA)
    assert report["summary"]["daemons"]["failing_hosts"] == ["host1"]
    assert dict((h["host"], h["daemon"]["status"]) for h in report["hosts"]) == {"host1": "fail", "host2": "warn"}  # advisory: userns, authz
    junit = ET.parse(str(report_dir / "report.junit.xml")).getroot()
    suites = dict((s.get("name"), s) for s in junit.iter("testsuite"))
    assert suites["host1/daemon"].get("failures") == str(len(WEAK_FAILS)) and suites["host2/daemon"].get("failures") == "0"
    assert [c.get("name") for c in suites["host1/daemon"].iter("testcase")] == [c.id for c in _policy.DAEMON_CONTROLS]
    sarif = json.loads((report_dir / "report.sarif").read_text(encoding="utf-8"))["runs"][0]
    assert sorted(r["ruleId"] for r in sarif["results"] if r["level"] == "error") == sorted(WEAK_FAILS)
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert '<a href="#daemon-host1">host1</a>' in page and '<a href="#daemon-host2">host2</a>' in page


# ---------------------------------------------------------------- containers judged by the kernel

def test_containers_before_and_after_the_daemon_no_new_privileges_are_judged_by_the_kernel(fleet, box, reports):
    run_container(fleet, box, "host1", "before")
    configure(fleet, 1, {"no-new-privileges": True})  # restarts the daemon; `before` comes back by its restart policy
    run_container(fleet, box, "host1", "after")
    result = audit(box, fleet, "host1")
    before, after = container_findings(result, box.name("before")), container_findings(result, box.name("after"))
    for findings in (before, after):  # neither asked for no-new-privileges itself
        assert findings["no_new_privileges"]["evidence"]["HostConfig.SecurityOpt"] == []
    assert before["no_new_privileges"]["status"] == "fail" and before["no_new_privileges"]["evidence"]["kernel.NoNewPrivs"] == 0
    assert before["kernel_matches_config"]["status"] == "fail"
    assert "created before the daemon set no-new-privileges" in before["kernel_matches_config"]["message"]
    assert after["no_new_privileges"]["status"] == "pass" and after["no_new_privileges"]["evidence"]["kernel.NoNewPrivs"] == 1
    assert after["kernel_matches_config"]["status"] == "pass"
    assert after["kernel_matches_config"]["evidence"]["kernel.Uid"] == [1500] * 4


# ---------------------------------------------------------------- the role secure_engine

def run_role(fleet, tmp_name, check=False, **role_vars):
    host = "host3"
    variables = dict(secure_engine_daemon_json="%s/%s/daemon.json" % (RUN, host),
                     secure_engine_docker_host=fleet["sockets"][host], secure_engine_pidfile="%s/%s/docker.pid" % (RUN, host),
                     secure_engine_restart_command="env CDFLEET_PREFIX=%s CDFLEET_NET=%s %s restart-engine 3" % (
                         FLEET_ENV["CDFLEET_PREFIX"], FLEET_ENV["CDFLEET_NET"], FLEET),
                     **role_vars)
    playbook = fleet["tmp"] / ("%s.yml" % tmp_name)
    playbook.write_text(json.dumps([{"hosts": host, "gather_facts": False, "vars": variables,
                                     "roles": ["containment.docker.secure_engine"]}]), encoding="utf-8")
    cmd = [ANSIBLE_PLAYBOOK, "-i", str(fleet["inventory"]), str(playbook)] + (["--check", "--diff"] if check else [])
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300, env=dict(os.environ, **ANSIBLE_ENV))
    (fleet["tmp"] / ("%s.txt" % tmp_name)).write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return proc.returncode, proc.stdout + proc.stderr


def daemon_json(fleet):
    with open("%s/host3/daemon.json" % RUN, encoding="utf-8") as handle:
        return json.load(handle)


def test_role_refuses_an_unreasoned_relaxation_and_changes_nothing(fleet):
    rc, output = run_role(fleet, "refused")
    assert rc != 0 and "insecure_registries" in output and "secure_engine_exceptions.insecure_registries" in output
    assert daemon_json(fleet) == USER_CONFIG


def test_role_converges_keeps_containers_running_records_the_relaxation_and_reruns_unchanged(fleet, box):
    pid = run_container(fleet, box, "host3", "keep")
    exceptions = {"insecure_registries": INSECURE_REASON}
    rc, output = run_role(fleet, "check", check=True, secure_engine_exceptions=exceptions)
    assert rc == 0 and '+  "live-restore": true,' in output, output
    assert daemon_json(fleet) == USER_CONFIG  # check mode changed nothing
    rc, output = run_role(fleet, "converge", secure_engine_exceptions=exceptions)
    assert rc == 0, output
    config = daemon_json(fleet)
    assert config == dict(HARDENED, **USER_CONFIG)  # the user's keys kept beside the hardened ones
    # the restart kept the container running: the very same process
    assert hdocker(fleet["sockets"]["host3"], "inspect", "-f", "{{.State.Running}} {{.State.Pid}}", box.name("keep")) == "true %d" % pid
    assert "Restart the daemon (live-restore keeps the containers running)" in output
    rc, output = run_role(fleet, "rerun", secure_engine_exceptions=exceptions)
    assert rc == 0 and "changed=0" in output, output
    result = audit(box, fleet, "host3")
    found = dict((f["control"], f) for f in result["daemon"]["findings"])
    assert found["insecure_registries"]["status"] == "excepted" and found["insecure_registries"]["reason"] == INSECURE_REASON
    # icc applies to the default bridge only at a restart with no container running: said, not hidden
    assert found["icc_disabled"]["status"] == "fail" and "no container running" in found["icc_disabled"]["message"]
    assert result["daemon"]["failing_controls"] == ["icc_disabled"]
    # created before the daemon's no-new-privileges: the kernel says so, and recreating it fixes it
    kept = container_findings(result, box.name("keep"))["kernel_matches_config"]
    assert kept["status"] == "fail" and "created before the daemon set no-new-privileges" in kept["message"]
