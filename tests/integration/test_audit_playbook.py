"""playbooks/audit.yml (containment.docker.audit) over a fleet of real Docker engines, over SSH.

Two hosts come from the session's SSH fleet (conftest.py ssh_fleet: tests/fleet/fleet.sh up 2
--ssh, each host a network and mount namespace with its own dockerd and sshd): the audit module
runs there with /usr/bin/python3 and Debian's python3-docker, on the host's /var/run/docker.sock.
A third inventory host (connection local) points at a socket that does not exist, like a host
whose engine is down. The playbook must write one combined report (JSON, JUnit XML, SARIF 2.1.0,
HTML) that the tests parse, and its exit code must follow the failures. A host Ansible cannot
reach over SSH is unreachable; hosts it reaches whose engine it cannot audit (no SDK, no access
to the socket) are "not audited", each with the module's reason.

Containers carry a random prefix, which is also the audit's name filter, so containers of other
tests on the same hosts never enter these reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import yaml

import github_sarif_rules

from ansible_collections.containment.docker.plugins.module_utils import _reports
from ansible_collections.containment.docker.plugins.module_utils._policy import AUDIT_CONTROLS, DAEMON_CONTROLS

from integration_helpers import ANSIBLE_ENV, ANSIBLE_PLAYBOOK, TOP, Sandbox, free_port

SARIF_SCHEMA = json.loads((TOP / "tests" / "data" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
GALAXY = yaml.safe_load((TOP / "galaxy.yml").read_text(encoding="utf-8"))
EXCEPTION_REASON = "NET_BIND_SERVICE so the legacy client can keep using port 80"
REPORTS = ("report.json", "report.junit.xml", "report.sarif", "report.html")


def hdocker(sock, *args, check=True):
    proc = subprocess.run(["docker", *args], check=False, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, DOCKER_HOST=sock))
    if check and proc.returncode != 0:
        raise AssertionError("docker %s on %s failed: %s" % (" ".join(args), sock, proc.stderr.strip()))
    return proc


@pytest.fixture(scope="module")
def fleet(ssh_fleet):
    """The SSH fleet's inventory, and {host: its engine as this machine reaches it} for the setup."""
    return {"inventory": ssh_fleet.inventory,
            "sockets": dict((h, ssh_fleet.hosts[h]["cdfleet_docker_host"]) for h in ("host1", "host2"))}


@pytest.fixture(scope="module")
def deployed(fleet, engine, tmp_path_factory):
    """host1: a container made by hand (fails) and a hardened one; host2: a hardened one with an
    exception. All deployed before any audit; removed at the end, also on failure."""
    box = Sandbox(tmp_path_factory.mktemp("deploy"), engine)
    sockets = fleet["sockets"]
    image = engine["CONTAINMENT_IMAGE_BUSYBOX_1"]
    hardened = dict(image=image, memory="32m", cpus=0.5, grace_period=0.5, stop_timeout=1,
                    healthcheck={"test": "true", "interval": "1s"})
    try:
        hdocker(sockets["host1"], "run", "-d", "--name", box.name("by-hand"), "-p", "0.0.0.0::8080", image)
        results = box.run([
            dict(hardened, name=box.name("web"), user="1801:1801", docker_host=sockets["host1"]),
            dict(hardened, name=box.name("edge"), user="1802:1802", docker_host=sockets["host2"],
                 cap_add=["NET_BIND_SERVICE"], exceptions={"cap_drop_all": EXCEPTION_REASON}),
        ])
        for result in results:
            assert not result.get("failed"), result.get("msg")
        yield box
    finally:
        for sock in sockets.values():
            ids = hdocker(sock, "ps", "-aq", "--filter", "name=^/" + box.prefix, check=False).stdout.split()
            if ids:
                hdocker(sock, "rm", "-f", *ids, check=False)
            nets = hdocker(sock, "network", "ls", "-q", "--filter", "name=containment_" + box.prefix,
                           check=False).stdout.split()
            if nets:
                hdocker(sock, "network", "rm", *nets, check=False)


def run_audit(fleet, tmp_path, names, hosts="host1:host2:gone", more_hosts=None, **extra_vars):
    """ansible-playbook containment.docker.audit, from tmp_path (the source root of the reports), over the
    fleet plus host `gone` (engine down) and `more_hosts` ({name: host variables}, in the inventory file
    unreachable.yml). Returns (exit code, output, report dir)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    extra = tmp_path / "unreachable.yml"
    extra.write_text(yaml.safe_dump({"unreachable": {"hosts": dict({"gone": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "containment_docker_host": "unix://%s/gone/docker.sock" % tmp_path}}, **(more_hosts or {}))}},
        sort_keys=False, default_flow_style=False), encoding="utf-8")
    report_dir = tmp_path / "reports"
    variables = dict(containment_audit_hosts=hosts, containment_audit_report_dir=str(report_dir),
                     containment_audit_names=names, **extra_vars)
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(fleet["inventory"]), "-i", str(extra),
                           "containment.docker.audit", "-e", json.dumps(variables)],
                          check=False, capture_output=True, text=True, timeout=300, env=dict(os.environ, **ANSIBLE_ENV),
                          cwd=str(tmp_path))
    (tmp_path / "output.txt").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return proc.returncode, proc.stdout + proc.stderr, report_dir


def load_reports(report_dir):
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(REPORTS)
    return (json.loads((report_dir / "report.json").read_text(encoding="utf-8")),
            ET.parse(str(report_dir / "report.junit.xml")).getroot(),
            json.loads((report_dir / "report.sarif").read_text(encoding="utf-8")),
            (report_dir / "report.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def failing_run(fleet, deployed, tmp_path_factory):
    """The audit of all three containers; host2's inventory declares the edge service as the role reads it."""
    services = {"host2": {"secure_services_services": [{"name": deployed.name("edge"), "image": "registry.example.com/edge:2"}]}}
    return run_audit(fleet, tmp_path_factory.mktemp("failing"), [deployed.prefix + "*"], more_hosts=services)


def declared_line(inventory, service):
    """The line of inventory (a file) where the list item of service starts."""
    lines = inventory.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip() == "- name: %s" % service)


def test_a_failing_container_fails_the_run_after_the_reports_are_written(failing_run, deployed):
    rc, output, report_dir = failing_run
    assert rc != 0, output
    assert "The audit failed" in output and "host1/%sby-hand" % deployed.prefix in output
    report = load_reports(report_dir)[0]
    assert report["passed"] is False


def test_one_combined_json_report_of_the_documented_shape(failing_run, deployed):
    report = load_reports(failing_run[2])[0]
    jsonschema.validate(report, _reports.REPORT_SCHEMA)
    hosts = dict((h["host"], h) for h in report["hosts"])
    assert sorted(hosts) == ["gone", "host1", "host2"]
    # reached (connection local) but its engine is not there: not audited, with the module's reason
    assert hosts["gone"]["status"] == "not_audited" and "gone/docker.sock" in hosts["gone"]["error"]
    assert hosts["gone"]["error"].startswith("not audited: no Docker engine socket at ")
    assert sorted(c["name"] for c in hosts["host1"]["containers"]) == [deployed.name("by-hand"), deployed.name("web")]
    assert [c["name"] for c in hosts["host2"]["containers"]] == [deployed.name("edge")]
    # the module ran on the host, on the host's own socket
    assert hosts["host1"]["engine"]["docker_host"] == "unix:///var/run/docker.sock"
    assert report["summary"]["failing_containers"] == ["host1/" + deployed.name("by-hand")]
    assert report["summary"]["unreachable_hosts"] == [] and report["summary"]["not_audited_hosts"] == ["gone"]
    assert len(report["findings"]) == 3 * len(AUDIT_CONTROLS)
    statuses = dict(((f["host"], f["container"], f["control"]), f) for f in report["findings"])
    edge = statuses[("host2", deployed.name("edge"), "cap_drop_all")]
    assert edge["status"] == "excepted" and edge["reason"] == EXCEPTION_REASON
    by_hand = statuses[("host1", deployed.name("by-hand"), "ports_bound")]
    assert by_hand["status"] == "fail" and by_hand["evidence"]["HostConfig.PortBindings"] == ["0.0.0.0:->8080/tcp"]
    assert all(f["status"] in ("pass", "excepted") for f in report["findings"] if f["container"] != deployed.name("by-hand"))


def test_junit_report_counts_match_the_findings(failing_run, deployed):
    report, junit = load_reports(failing_run[2])[:2]
    counts = report["summary"]["by_status"]
    daemon = report["daemon_findings"]  # a HOST/daemon suite per host beside the containers'
    daemon_counts = dict((s, sum(1 for f in daemon if f["status"] == s)) for s in ("fail", "excepted"))
    assert int(junit.get("tests")) == len(report["findings"]) + len(daemon) + 1 == len(junit.findall("./testsuite/testcase"))
    assert int(junit.get("failures")) == counts["fail"] + daemon_counts["fail"] == len(junit.findall("./testsuite/testcase/failure"))
    assert int(junit.get("skipped")) == counts["excepted"] + daemon_counts["excepted"] == 1
    assert int(junit.get("errors")) == 1
    failure = junit.find("./testsuite[@name='host1/%s']/testcase[@name='memory_limit']/failure" % deployed.name("by-hand"))
    assert "HostConfig.Memory: 0" in failure.text
    skipped = junit.find("./testsuite[@name='host2/%s']/testcase[@name='cap_drop_all']/skipped" % deployed.name("edge"))
    assert EXCEPTION_REASON in skipped.get("message")
    assert junit.find("./testsuite[@name='gone']/testcase/error") is not None


def test_sarif_report_is_valid_sarif_2_1_0(failing_run, deployed):
    report, sarif = load_reports(failing_run[2])[0:3:2]
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    run = sarif["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [c.id for c in AUDIT_CONTROLS + DAEMON_CONTROLS]
    findings = report["findings"] + report["daemon_findings"]
    assert len(run["results"]) == sum(1 for f in findings if f["status"] in ("fail", "warn", "excepted"))
    failed = sorted(r["ruleId"] for r in run["results"] if r["level"] == "error" and "suppressions" not in r)
    assert failed == sorted(f["control"] for f in findings if f["status"] == "fail")
    names = {l["fullyQualifiedName"] for r in run["results"] for l in r["locations"][0]["logicalLocations"]}
    assert "host1/" + deployed.name("by-hand") in names
    assert run["invocations"][0]["executionSuccessful"] is False


def test_sarif_report_meets_github_code_scanning_rules(failing_run, deployed):
    """Physical locations: the inventory line that declares a managed container's service (edge, declared
    in unreachable.yml under the run's working directory), else the engine's synthetic artifact."""
    rc, output, report_dir = failing_run
    sarif = load_reports(report_dir)[2]
    assert github_sarif_rules.problems(sarif) == []
    run = sarif["runs"][0]
    where = dict(((r["properties"]["host"], r["properties"].get("container"), r["ruleId"]), r["locations"][0]["physicalLocation"])
                 for r in run["results"])
    edge = where[("host2", deployed.name("edge"), "cap_drop_all")]
    assert edge == {"artifactLocation": {"uri": "unreachable.yml", "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": declared_line(report_dir.parent / "unreachable.yml", deployed.name("edge"))}}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file://%s/" % report_dir.parent
    by_hand = where[("host1", deployed.name("by-hand"), "no_new_privileges")]
    assert by_hand["artifactLocation"] == {"uri": "host1/containers/" + deployed.name("by-hand"), "uriBaseId": "DOCKER_ENGINES"}
    assert where[("host1", None, "live_restore")]["artifactLocation"]["uri"] == "host1/daemon"
    driver = run["tool"]["driver"]
    assert driver["version"] == GALAXY["version"] and driver["informationUri"] == GALAXY["repository"]
    assert run["automationDetails"]["id"].startswith("containment.docker/audit/gone,host1,host2/")
    severity = dict((r["id"], r["properties"]["security-severity"]) for r in driver["rules"])
    assert (severity["no_new_privileges"], severity["cap_drop_all"], severity["healthcheck"]) == ("8.0", "5.0", "2.0")


def test_console_lists_each_failing_control_with_the_fix_and_ends_with_the_counts(failing_run, deployed):
    rc, output, report_dir = failing_run
    report = load_reports(report_dir)[0]
    lines = output.splitlines()
    hand, edge, web = deployed.name("by-hand"), deployed.name("edge"), deployed.name("web")
    failing = [f for f in report["findings"] if f["status"] == "fail"] + [f for f in report["daemon_findings"] if f["status"] == "fail"]
    rows = [line for line in lines if line.startswith("[FAIL] ") and " Fix: " in line and not line.startswith("[FAIL] gone: ")]
    assert len(rows) == len(failing) > 0
    # made by hand: the docker run flags
    for control, flag in (("no_new_privileges", "--security-opt no-new-privileges"), ("read_only_rootfs", "--read-only"),
                          ("non_root_user", "--user 1500:1500"), ("memory_limit", "--memory 256m")):
        row = next(line for line in rows if (" %s " % control) in line and (" %s: " % hand) in line)
        assert ("Fix: run it with " + flag) in row, row
    assert "[INFO] host1/%s: %s (not made by containment.docker, fixes are docker run flags)" % (
        hand, deployed.images["CONTAINMENT_IMAGE_BUSYBOX_1"]) in lines
    excepted = next(line for line in lines if " cap_drop_all " in line and (" %s: " % edge) in line)
    assert excepted.startswith("[INFO] 5.4 ") and "excepted (%s)" % EXCEPTION_REASON in excepted
    assert any(line.startswith("[PASS] host1/%s: every control passes (" % web) for line in lines)
    assert any(line.startswith("[FAIL] gone: not audited: no Docker engine socket at ") for line in lines)
    summary = report["summary"]
    counts = next(line for line in lines if line.startswith("== Summary: "))
    assert counts.startswith("== Summary: %d PASS, %d FAIL, %d WARN, %d EXCEPTED in 3 container(s); " % tuple(
        summary["by_status"][s] for s in ("pass", "fail", "warn", "excepted")))
    assert counts.endswith("in 2 daemon(s); 2 of 3 host(s) audited; FAILED ==")
    assert "\x1b[" not in output  # not a terminal (and ANSIBLE_NOCOLOR): no colour


def test_html_report_shows_every_container_and_failing_control(failing_run, deployed):
    report, page = load_reports(failing_run[2])[0:4:3]
    for name in ("by-hand", "web", "edge"):
        assert deployed.name(name) in page
    for finding in report["findings"]:
        if finding["status"] == "fail":
            assert 'class="cell fail" title="%s:' % finding["control"] in page
    assert EXCEPTION_REASON in page and "gone" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_report_only_writes_the_same_reports_and_exits_zero(fleet, deployed, tmp_path):
    rc, output, report_dir = run_audit(fleet, tmp_path, [deployed.prefix + "*"], containment_audit_report_only=True)
    assert rc == 0, output
    report = load_reports(report_dir)[0]
    assert report["summary"]["failing_containers"] == ["host1/" + deployed.name("by-hand")]


def test_unreachable_host_gates_the_run_unless_told_otherwise(fleet, deployed, tmp_path):
    good = [deployed.name("web"), deployed.name("edge")]
    rc, output = run_audit(fleet, tmp_path / "gated", good)[:2]
    assert rc != 0 and "not audited: gone" in output, output
    # the fleet's daemons run with defaults, which fail the daemon controls (tests/integration/test_daemon_audit.py)
    rc, output, report_dir = run_audit(fleet, tmp_path / "tolerated", good,
                                       containment_audit_fail_on_unreachable=False, containment_audit_daemon=False)
    assert rc == 0, output
    report = load_reports(report_dir)[0]
    assert report["summary"]["by_status"]["fail"] == 0 and report["summary"]["containers"] == 2
    assert report["summary"]["not_audited_hosts"] == ["gone"] and report["passed"] is False


def test_not_audited_hosts_name_the_reason_and_differ_from_an_unreachable_one(
        fleet, ssh_fleet, ssh_user, deployed, tmp_path):
    """Over SSH to host1: as a user outside group docker (permission denied on the socket), with a
    Python that has no Docker SDK (a venv without it), and to an address where no sshd listens."""
    venv = tmp_path / "venv-without-docker"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    assert subprocess.run([python, "-c", "import docker"], check=False, capture_output=True).returncode != 0
    ssh = dict((k, v) for k, v in ssh_fleet.hosts["host1"].items() if k.startswith("ansible_"))
    more = {"nonroot": dict(ssh, ansible_user=ssh_user),
            "nosdk": dict(ssh, ansible_python_interpreter=python),
            "nossh": dict(ssh, ansible_host="127.0.0.1", ansible_port=free_port())}
    rc, output, report_dir = run_audit(fleet, tmp_path, [deployed.name("web")], hosts="host1:nonroot:nosdk:nossh",
                                       more_hosts=more)
    assert rc != 0, output
    report = load_reports(report_dir)[0]
    hosts = dict((h["host"], h) for h in report["hosts"])
    assert [c["name"] for c in hosts["host1"]["containers"]] == [deployed.name("web")]
    assert report["summary"]["unreachable_hosts"] == ["nossh"]
    assert sorted(report["summary"]["not_audited_hosts"]) == ["nonroot", "nosdk"]
    assert hosts["nossh"]["status"] == "unreachable" and hosts["nossh"]["error"].startswith("unreachable: ")
    uid = subprocess.run(["id", "-u", ssh_user], check=True, capture_output=True, text=True).stdout.strip()
    denied = hosts["nonroot"]["error"]
    assert hosts["nonroot"]["status"] == "not_audited"
    assert denied.startswith("not audited: permission denied on /var/run/docker.sock for user %s (uid %s) on " % (ssh_user, uid)), denied
    assert "usermod -aG docker %s" % ssh_user in denied and "new SSH connection" in denied
    missing = hosts["nosdk"]["error"]
    assert hosts["nosdk"]["status"] == "not_audited"
    assert missing.startswith("not audited: the Docker SDK for Python (import docker), 4.1.0 or newer, is not installed, on "), missing
    assert "with Python %s (" % python in missing and "Fix: " in missing
    assert "unreachable: nossh; not audited: nonroot, nosdk." in output


CONSOLE_PLAY = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - containment.docker.audit_console:
        report: "{{ {'h1': {'findings': [], 'containers': [], 'engine': {}}, 'down': {'failed': true, 'msg': 'engine down'}}
                    | containment.docker.audit_report }}"
"""


@pytest.mark.parametrize("env, coloured", [({}, True), ({"CI": "true"}, False)])
def test_console_is_coloured_on_a_terminal_only(tmp_path, env, coloured):
    """On a terminal (script(1) gives the playbook one), not in a CI log (NO_COLOR and ANSIBLE_NOCOLOR: the
    unit tests of console_colour; a pipe: the failing run above)."""
    play = tmp_path / "console.yml"
    play.write_text(CONSOLE_PLAY, encoding="utf-8")
    base = dict((k, v) for k, v in dict(os.environ, **ANSIBLE_ENV).items() if k not in ("ANSIBLE_NOCOLOR", "NO_COLOR", "CI"))
    command = "%s -i localhost, -c local %s" % (ANSIBLE_PLAYBOOK, play)
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], check=False, capture_output=True, text=True, timeout=120,
                          env=dict(base, **env))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("\x1b[31m[FAIL]\x1b[0m down: not audited: engine down" in proc.stdout) is coloured, proc.stdout
    assert "down: not audited: engine down" in proc.stdout
