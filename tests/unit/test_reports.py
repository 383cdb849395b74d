"""Unit tests of the audit (plugins/module_utils/_audit.py) and its reports
(plugins/module_utils/_reports.py): pure functions over `docker inspect` shapes, no engine.

The good container shape is the one the collection itself would create (_spec.desired_inspect),
so these tests follow the real spec code rather than a hand-written copy of it."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from ansible_collections.containment.docker.plugins.module_utils import _audit, _policy, _reports, _spec

SARIF_SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
EXCEPTION_REASON = "NET_BIND_SERVICE so the legacy client can keep using port 80"


def managed(name, uid, **extra):
    raw = dict(name=name, image="containment-test/web:1", user="%d:%d" % (uid, uid), memory="64m", cpus=0.5,
               healthcheck={"test": "true"})
    raw.update(extra)
    inspect = _spec.desired_inspect(_spec.normalize_spec(raw), "sha256:" + "ab" * 32, {})
    inspect["Id"] = ("%s-id" % name).ljust(64, "0")
    inspect["State"] = {"Status": "running"}
    return inspect


def by_hand(name, **host_config):
    """A container as `docker run` leaves it with no hardening flag at all."""
    host = {"Memory": 0, "MemorySwap": 0, "NanoCpus": 0, "PidsLimit": None, "ReadonlyRootfs": False,
            "CapAdd": None, "CapDrop": None, "SecurityOpt": None, "Privileged": False, "Binds": None,
            "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
            "NetworkMode": "default", "PidMode": "", "Tmpfs": None}
    host.update(host_config)
    return {"Name": "/" + name, "Id": ("%s-id" % name).ljust(64, "0"), "Image": "sha256:" + "cd" * 32,
            "State": {"Status": "exited"}, "Mounts": [],
            "Config": {"Image": "containment-test/busybox:1", "User": "", "Labels": {}}, "HostConfig": host}


def statuses(result, container):
    return dict((f["control"], f["status"]) for f in result["findings"] if f["container"] == container)


@pytest.fixture
def fleet():
    """Two audited hosts, one whose engine is down and one that Ansible could not reach."""
    good = managed("web", 1501)
    edge = managed("edge", 1502, cap_add=["NET_BIND_SERVICE"], exceptions={"cap_drop_all": EXCEPTION_REASON})
    root = by_hand("legacy", PortBindings={"80/tcp": [{"HostIp": "::", "HostPort": "80"}]})
    node1 = _audit.audit([good, edge, root], host_cpus=2)
    node1["engine"] = {"docker_host": "unix:///var/run/docker.sock", "name": "node1", "server_version": "20.10",
                       "host_cpus": 2}
    node2 = _audit.audit([managed("web", 1501)], host_cpus=2)
    results = {
        "node1": node1,
        "node2": node2,
        "down": {"failed": True, "msg": "cannot reach the Docker engine at unix:///nope.sock"},
        "far": {"unreachable": True, "msg": "Failed to connect to the host via ssh"},
    }
    return _reports.combine(results, generated_at="2026-01-02T03:04:05Z")


# ---------------------------------------------------------------- the audit itself

def test_audit_runs_every_control_of_the_table_on_every_container():
    result = _audit.audit([managed("aa", 1501), by_hand("bb")], host_cpus=2)
    assert [c["name"] for c in result["containers"]] == ["aa", "bb"]
    for name in ("aa", "bb"):
        assert list(statuses(result, name)) == [c.id for c in _policy.AUDIT_CONTROLS]


def test_audit_findings_are_the_policy_findings_plus_the_container():
    inspect = by_hand("bb", CapAdd=["cap_sys_admin"])
    result = _audit.audit([inspect], host_cpus=2)
    expected = _policy.evaluate(inspect, {"host_cpus": 2, "uid_owners": {}})
    for finding, want in zip(result["findings"], expected):
        assert finding["container"] == "bb" and finding["container_id"] == inspect["Id"]
        assert finding["image"] == "containment-test/busybox:1"
        for key, value in want.items():
            if key != "fix":
                assert finding[key] == value
        # a container made by hand is told the docker run flag, a managed one the option
        assert finding["fix"] == _policy.CONTROLS_BY_ID[finding["control"]].run_fix
    assert statuses(result, "bb")["cap_drop_all"] == "fail"
    fixes = dict((f["control"], f["fix"]) for f in result["findings"])
    assert fixes["no_new_privileges"] == "run it with --security-opt no-new-privileges"
    assert fixes["cap_drop_all"].startswith("run it with --cap-drop ALL") and "remove cap_add" not in fixes["cap_drop_all"]
    good = _audit.audit([managed("aa", 1501)], host_cpus=2)["findings"]
    assert [f["fix"] for f in good] == [c.fix for c in _policy.AUDIT_CONTROLS]


def test_good_container_passes_and_exception_is_excepted_with_reason():
    edge = managed("edge", 1502, cap_add=["net_bind_service"], exceptions={"cap_drop_all": EXCEPTION_REASON})
    result = _audit.audit([managed("web", 1501), edge], 2)
    assert set(statuses(result, "web").values()) == {"pass"}
    edge = [f for f in result["findings"] if f["container"] == "edge"]
    cap = next(f for f in edge if f["control"] == "cap_drop_all")
    assert cap["status"] == "excepted" and cap["reason"] == EXCEPTION_REASON
    assert all(f["reason"] is None for f in edge if f["control"] != "cap_drop_all")
    assert result["summary"]["failing_containers"] == []
    assert result["containers"][0]["status"] == "excepted"  # edge sorts first; worst status is 'excepted'


def test_unique_uid_is_computed_across_the_audited_containers():
    alone = _audit.audit([managed("aa", 1501)], 2)
    assert statuses(alone, "aa")["unique_uid"] == "pass"
    shared = _audit.audit([managed("aa", 1501), managed("bb", 1501)], 2)
    assert statuses(shared, "aa")["unique_uid"] == "fail"
    assert statuses(shared, "bb")["unique_uid"] == "fail"
    assert _audit.uid_owners([managed("aa", 1501), managed("bb", 1501), by_hand("cc")]) == {"1501": {"aa", "bb"}}


def test_host_cpus_bounds_cpu_limit():
    assert statuses(_audit.audit([managed("aa", 1501, cpus=2)], host_cpus=2), "aa")["cpu_limit"] == "pass"
    assert statuses(_audit.audit([managed("aa", 1501, cpus=2)], host_cpus=1), "aa")["cpu_limit"] == "fail"


def test_summary_counts_per_status_and_per_control():
    result = _audit.audit([managed("aa", 1501), by_hand("bb"), by_hand("cc")], 2)
    findings = result["findings"]
    summary = result["summary"]
    assert summary["containers"] == 3
    assert summary["by_status"] == _policy.summarize(findings)
    assert sum(summary["by_status"].values()) == 3 * len(_policy.AUDIT_CONTROLS)
    assert summary["by_control"]["memory_limit"] == {"pass": 1, "fail": 2, "excepted": 0, "warn": 0}
    assert summary["failing_containers"] == ["bb", "cc"]


@pytest.mark.parametrize("patterns,name,expected", [
    ([], "anything", True),
    (["web"], "web", True),
    (["web"], "web-1", False),
    (["web-*"], "web-1", True),
    (["db", "web-?"], "web-1", True),
])
def test_name_patterns(patterns, name, expected):
    assert _audit.name_matches({"Name": "/" + name}, patterns) is expected


def test_docker_filters():
    assert _audit.docker_filters() == {}
    assert _audit.docker_filters(["team=a"], managed_only=True) == {"label": ["team=a", "containment.managed=true"]}


def test_container_status_is_the_worst():
    assert _audit.container_status([{"status": s} for s in ("pass", "warn", "excepted")]) == "excepted"
    assert _audit.container_status([{"status": s} for s in ("pass", "warn", "fail")]) == "fail"
    assert _audit.container_status([]) == "pass"


# ---------------------------------------------------------------- the combined JSON report

def test_report_matches_its_documented_schema(fleet):
    jsonschema.Draft7Validator.check_schema(_reports.REPORT_SCHEMA)
    jsonschema.validate(json.loads(json.dumps(fleet)), _reports.REPORT_SCHEMA)


def test_report_schema_rejects_a_wrong_shape(fleet):
    broken = copy.deepcopy(fleet)
    broken["findings"][0]["status"] = "ok"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, _reports.REPORT_SCHEMA)


def test_unreachable_and_not_audited_hosts_are_reported_apart_and_do_not_hide_the_others(fleet):
    hosts = dict((h["host"], h) for h in fleet["hosts"])
    assert [h["host"] for h in fleet["hosts"]] == ["down", "far", "node1", "node2"]
    # the module ran and failed (engine, socket, TLS, SDK): not audited, with the module's reason
    assert hosts["down"]["status"] == "not_audited"
    assert hosts["down"]["error"] == "not audited: cannot reach the Docker engine at unix:///nope.sock"
    # Ansible never got there (SSH): unreachable
    assert hosts["far"]["status"] == "unreachable"
    assert hosts["far"]["error"] == "unreachable: Failed to connect to the host via ssh"
    assert hosts["node1"]["status"] == hosts["node2"]["status"] == "ok"
    assert fleet["summary"]["unreachable_hosts"] == ["far"]
    assert fleet["summary"]["not_audited_hosts"] == ["down"]
    assert fleet["summary"]["hosts"] == 4 and fleet["summary"]["containers"] == 4
    assert fleet["summary"]["failing_containers"] == ["node1/legacy"]
    assert {f["host"] for f in fleet["findings"]} == {"node1", "node2"}
    assert fleet["passed"] is False


def test_missing_or_skipped_result_counts_as_not_audited():
    report = _reports.combine({"ghost": None, "skipped": {"skipped": True}})
    assert [h["status"] for h in report["hosts"]] == ["not_audited", "not_audited"]
    assert [h["error"] for h in report["hosts"]] == ["not audited: no audit result", "not audited: the host was skipped"]
    assert report["passed"] is False


def test_report_passes_only_without_failures_and_unreachable_hosts():
    assert _reports.combine({"a": _audit.audit([managed("web", 1501)], 2)})["passed"] is True
    assert _reports.combine({"a": _audit.audit([by_hand("b")], 2)})["passed"] is False


# ---------------------------------------------------------------- JUnit XML

def test_junit_counts_match_the_findings(fleet):
    root = ET.fromstring(_reports.to_junit(fleet))
    counts = fleet["summary"]["by_status"]
    unreachable = len(fleet["summary"]["unreachable_hosts"]) + len(fleet["summary"]["not_audited_hosts"])
    assert root.tag == "testsuites"
    assert int(root.get("tests")) == len(fleet["findings"]) + unreachable
    assert int(root.get("failures")) == counts["fail"]
    assert int(root.get("skipped")) == counts["excepted"]
    assert int(root.get("errors")) == unreachable
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == int(root.get("tests"))
    assert len(root.findall("./testsuite/testcase/failure")) == counts["fail"]
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))


def test_junit_failure_carries_evidence_and_exception_its_reason(fleet):
    root = ET.fromstring(_reports.to_junit(fleet))
    legacy = root.find("./testsuite[@name='node1/legacy']")
    ports = legacy.find("./testcase[@name='ports_bound']/failure")
    assert "host IP '::'" in ports.get("message")
    assert "HostConfig.PortBindings" in ports.text and ":::80->80/tcp" in ports.text and "CIS Docker 1.6: 5.8, 5.14" in ports.text
    user = legacy.find("./testcase[@name='non_root_user']/failure")
    assert 'Config.User: ""' in user.text
    skipped = root.find("./testsuite[@name='node1/edge']/testcase[@name='cap_drop_all']/skipped")
    assert skipped.get("message") == "excepted: " + EXCEPTION_REASON
    assert root.find("./testsuite[@name='node1/web']/testcase[@name='memory_limit']").find("failure") is None
    error = root.find("./testsuite[@name='down']/testcase[@name='engine audited']/error")
    assert error.get("type") == "not_audited" and "nope.sock" in error.get("message")
    error = root.find("./testsuite[@name='far']/testcase[@name='host reachable']/error")
    assert error.get("type") == "unreachable" and "ssh" in error.get("message")


def test_junit_drops_characters_xml_cannot_carry():
    inspect = by_hand("ctl\x01chars")
    report = _reports.combine({"h": _audit.audit([inspect], 2)})
    root = ET.fromstring(_reports.to_junit(report))
    assert root.find("./testsuite[@name='h/ctl?chars']") is not None


# ---------------------------------------------------------------- SARIF 2.1.0

def test_sarif_is_valid_sarif_2_1_0(fleet):
    sarif = _reports.to_sarif(fleet)
    jsonschema.Draft4Validator.check_schema(SARIF_SCHEMA)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(json.dumps(sarif)))


@pytest.mark.parametrize("breakage", [
    lambda s: s.update(version="2.0.0"),
    lambda s: s["runs"][0]["results"][0].update(level="fatal"),
    lambda s: s["runs"][0]["tool"]["driver"].pop("name"),
    lambda s: next(r for r in s["runs"][0]["results"] if "suppressions" in r)["suppressions"][0].update(kind="maybe"),
    lambda s: s["runs"][0]["logicalLocations"][0].update(parentIndex=-2),
])
def test_the_sarif_schema_in_test_data_does_catch_errors(fleet, breakage):
    sarif = json.loads(json.dumps(_reports.to_sarif(fleet)))
    breakage(sarif)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)


def test_sarif_rules_are_the_controls_with_their_references(fleet):
    run = _reports.to_sarif(fleet)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c.id for c in _policy.AUDIT_CONTROLS + _policy.DAEMON_CONTROLS]
    cap = rules[[r["id"] for r in rules].index("cap_drop_all")]
    assert cap["properties"]["cis"] == "5.4" and cap["properties"]["pss"].startswith("capabilities drop ALL")
    assert cap["properties"]["tier"] == "baseline" and "CIS-Docker-1.6-5.4" in cap["properties"]["tags"]
    health = rules[[r["id"] for r in rules].index("healthcheck")]
    assert health["defaultConfiguration"]["level"] == "note"
    live = rules[[r["id"] for r in rules].index("live_restore")]
    assert live["properties"]["cis"] == "2.15" and "CIS-Docker-1.6-2.15" in live["properties"]["tags"]


def test_sarif_results_per_fail_warn_and_excepted(fleet):
    run = _reports.to_sarif(fleet)["runs"][0]
    results = run["results"]
    counts = fleet["summary"]["by_status"]
    assert len(results) == counts["fail"] + counts["warn"] + counts["excepted"]
    assert sum(r["level"] == "error" and "suppressions" not in r for r in results) == counts["fail"]
    assert sum(r["level"] == "note" for r in results) == counts["warn"]
    suppressed = [r for r in results if "suppressions" in r]
    assert len(suppressed) == counts["excepted"] == 1
    assert suppressed[0]["suppressions"][0]["justification"] == EXCEPTION_REASON
    for result in results:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["logicalLocations"][0]
        assert location["fullyQualifiedName"] == "%s/%s" % (result["properties"]["host"], result["properties"]["container"])
        indexed = run["logicalLocations"][location["index"]]
        assert indexed["fullyQualifiedName"] == location["fullyQualifiedName"]
        assert run["logicalLocations"][indexed["parentIndex"]]["name"] == result["properties"]["host"]


def test_sarif_reports_unreachable_hosts_as_notifications(fleet):
    invocation = _reports.to_sarif(fleet)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert len(texts) == 2 and any("down" in t and "nope.sock" in t for t in texts)


# ---------------------------------------------------------------- HTML

def test_html_shows_every_container_failing_control_and_exception_reason(fleet):
    page = _reports.to_html(fleet)
    for host in fleet["hosts"]:
        assert "Host %s" % host["host"] in page
        for container in host["containers"]:
            assert container["name"] in page
    for finding in fleet["findings"]:
        if finding["status"] == "fail":
            assert 'class="cell fail" title="%s:' % finding["control"] in page
    assert EXCEPTION_REASON in page
    assert "nope.sock" in page and "FAILED" in page


def test_html_is_self_contained_and_escaped():
    report = _reports.combine({"h<1>": _audit.audit([by_hand('x"><script>alert(1)</script>')], 2)})
    page = _reports.to_html(report)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page and "h&lt;1&gt;" in page
    for external in ("<link", "src=", "url(", "@import", "http://", "https://"):
        assert external not in page


def test_html_passed_verdict():
    page = _reports.to_html(_reports.combine({"a": _audit.audit([managed("web", 1501)], 2)}))
    assert "PASSED" in page and "every control passes" in page
