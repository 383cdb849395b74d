"""Unit tests of the audit (plugins/module_utils/_audit.py) and its reports
(plugins/module_utils/_reports.py): pure functions over `docker inspect` shapes, no engine.

The good container shape is the one the collection itself would create (_spec.desired_inspect),
so these tests follow the real spec code rather than a hand-written copy of it."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml
from ansible.parsing.utils.yaml import from_yaml

import github_sarif_rules
from ansible_collections.containment.docker.plugins.filter import audit as audit_filters
from ansible_collections.containment.docker.plugins.module_utils import _audit, _policy, _reports, _spec

TOP = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((TOP / "tests" / "data" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
GALAXY = yaml.safe_load((TOP / "galaxy.yml").read_text(encoding="utf-8"))
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

def test_sarif_is_valid_sarif_2_1_0(fleet, sourced):
    for report in (fleet, sourced):
        sarif = _reports.to_sarif(report)
        jsonschema.Draft4Validator.check_schema(SARIF_SCHEMA)
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(json.dumps(sarif)))


INVENTORY = """\
# group_vars/web.yml of an inventory in Git
secure_services_services:
  - name: web
    image: registry.example.com/web:1.4.2
  - name: edge
    image: registry.example.com/edge:2
"""


@pytest.fixture
def sourced(tmp_path):
    """node1 of `fleet`, its services declared in an inventory file under the source root, as the audit
    playbook passes them (loaded by ansible-core, which tags each item with its file and line)."""
    declared = from_yaml(INVENTORY, file_name=str(tmp_path / "inventory" / "group_vars" / "web.yml"))
    web = managed("web", 1501)
    web["HostConfig"]["PidsLimit"] = 0  # a failing baseline control on a managed container
    edge = managed("edge", 1502, cap_add=["NET_BIND_SERVICE"], exceptions={"cap_drop_all": EXCEPTION_REASON})
    node1 = _audit.audit([web, edge, by_hand("legacy")], host_cpus=2)
    node1["daemon"] = _audit.daemon_result({"info": {"LiveRestoreEnabled": False}, "settings": {}, "bridge": None})
    return audit_filters.audit_report({"node1": node1, "down": {"failed": True, "msg": "engine down"}},
                                      generated_at="2026-01-02T03:04:05Z", source_root=str(tmp_path),
                                      services={"node1": declared["secure_services_services"]})


def test_the_report_says_where_the_inventory_declares_a_managed_container(sourced, tmp_path):
    jsonschema.validate(sourced, _reports.REPORT_SCHEMA)
    containers = dict((c["name"], c) for c in sourced["hosts"][1]["containers"])
    assert containers["web"]["source"] == {"path": "inventory/group_vars/web.yml", "line": 3}
    assert containers["edge"]["source"] == {"path": "inventory/group_vars/web.yml", "line": 5}
    assert containers["legacy"]["source"] is None  # not managed: no declaration
    assert sourced["source_root"] == str(tmp_path)
    assert sourced["tool"]["version"] == GALAXY["version"] and sourced["tool"]["information_uri"] == GALAXY["repository"]


def test_a_source_outside_the_root_is_kept_absolute_and_sarif_falls_back_to_the_engine():
    node = _audit.audit([managed("web", 1501, memory="64m")], host_cpus=2)
    node["findings"][0].update(status="fail")
    report = _reports.combine({"n": node}, sources={"n": {"web": {"path": "/elsewhere/hosts.yml", "line": 7}}},
                              source_root="/src")
    assert report["hosts"][0]["containers"][0]["source"] == {"path": "/elsewhere/hosts.yml", "line": 7}
    location = _reports.to_sarif(report)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "n/containers/web", "uriBaseId": "DOCKER_ENGINES"}, "region": {"startLine": 1}}


def test_sarif_physical_locations_point_at_the_inventory_line_else_the_engine(sourced):
    run = _reports.to_sarif(sourced)["runs"][0]
    where = dict(((r["properties"]["host"], r["properties"].get("container"), r["ruleId"]),
                  r["locations"][0]["physicalLocation"]) for r in run["results"])
    assert where[("node1", "web", "pids_limit")] == {
        "artifactLocation": {"uri": "inventory/group_vars/web.yml", "uriBaseId": "%SRCROOT%"}, "region": {"startLine": 3}}
    assert where[("node1", "edge", "cap_drop_all")]["region"] == {"startLine": 5}
    assert where[("node1", "legacy", "memory_limit")] == {
        "artifactLocation": {"uri": "node1/containers/legacy", "uriBaseId": "DOCKER_ENGINES"}, "region": {"startLine": 1}}
    assert where[("node1", None, "live_restore")]["artifactLocation"] == {"uri": "node1/daemon", "uriBaseId": "DOCKER_ENGINES"}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file://%s/" % sourced["source_root"]
    assert run["originalUriBaseIds"]["DOCKER_ENGINES"]["uri"] == "docker:///"
    for result in run["results"]:  # the logical location stays beside the physical one
        assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith("node1")


def test_sarif_driver_has_the_collection_version_and_its_information_uri(sourced):
    driver = _reports.to_sarif(sourced)["runs"][0]["tool"]["driver"]
    assert driver["version"] == driver["semanticVersion"] == GALAXY["version"]
    assert driver["informationUri"] == GALAXY["repository"]
    assert audit_filters.collection_metadata() == {"version": GALAXY["version"], "information_uri": GALAXY["repository"]}


def test_collection_metadata_of_an_installed_collection_is_its_manifest(tmp_path):
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": "1.2.3", "repository": "https://x"}}))
    assert audit_filters.collection_metadata(str(tmp_path)) == {"version": "1.2.3", "information_uri": "https://x"}
    assert audit_filters.collection_metadata(str(tmp_path / "none")) == {"version": None, "information_uri": None}


def test_sarif_security_severity_follows_the_tier(sourced):
    rules = _reports.to_sarif(sourced)["runs"][0]["tool"]["driver"]["rules"]
    severity = dict((r["id"], r["properties"]["security-severity"]) for r in rules)
    assert severity["no_new_privileges"] == "8.0" and severity["tls_on_tcp"] == "8.0"   # floor: high
    assert severity["cap_drop_all"] == "5.0" and severity["live_restore"] == "5.0"     # baseline: medium
    assert severity["healthcheck"] == "2.0" and severity["userns_remap"] == "2.0"      # advisory: low
    assert len(severity) == len(_policy.AUDIT_CONTROLS) + len(_policy.DAEMON_CONTROLS)


def test_sarif_help_tells_both_fixes_in_markdown(sourced):
    rules = dict((r["id"], r) for r in _reports.to_sarif(sourced)["runs"][0]["tool"]["driver"]["rules"])
    help_ = rules["no_new_privileges"]["help"]
    assert _policy.CONTROLS_BY_ID["no_new_privileges"].fix in help_["text"]
    assert "--security-opt no-new-privileges" in help_["text"] and "`docker run`" in help_["markdown"]
    assert rules["live_restore"]["help"]["text"].startswith("Fix: set \"live-restore\": true")


def test_sarif_fingerprints_are_stable_across_runs_and_automation_ids_per_host_set(sourced, fleet):
    later = json.loads(json.dumps(sourced))
    later["generated_at"] = "2026-02-03T04:05:06Z"
    first, second = (_reports.to_sarif(r)["runs"][0] for r in (sourced, later))
    assert [r["partialFingerprints"] for r in first["results"]] == [r["partialFingerprints"] for r in second["results"]]
    assert first["automationDetails"]["id"] == "containment.docker/audit/down,node1/2026-01-02T03:04:05Z"
    category = first["automationDetails"]["id"].rsplit("/", 1)[0]
    assert second["automationDetails"]["id"].rsplit("/", 1)[0] == category
    other = _reports.to_sarif(fleet)["runs"][0]["automationDetails"]["id"].rsplit("/", 1)[0]
    assert other == "containment.docker/audit/down,far,node1,node2" and other != category
    many = _reports.combine(dict(("host-%03d.example.com" % i, {"unreachable": True}) for i in range(40)))
    assert re.match(r"^containment\.docker/audit/40-hosts-[0-9a-f]{16}/$", _reports.automation_id(many))


@pytest.mark.parametrize("source, what, check", github_sarif_rules.RULES, ids=[r[2].__name__ for r in github_sarif_rules.RULES])
def test_sarif_meets_github_code_scanning_rules(fleet, sourced, source, what, check):
    for report in (fleet, sourced):
        assert check(_reports.to_sarif(report)) == [], "%s: %s" % (source, what)


def _first_location(sarif):
    return sarif["runs"][0]["results"][0]["locations"][0]


# One breakage per rule above: the check must see it (a rule that sees nothing proves nothing).
BREAKAGES = {
    "version": lambda s: s.update(version="2.0.0"),
    "runs_limit": lambda s: s.update(runs=s["runs"] * 21),
    "driver_name": lambda s: s["runs"][0]["tool"]["driver"].pop("name"),
    "run_limits": lambda s: s["runs"][0].update(results=s["runs"][0]["results"] * 25001),
    "rule_texts": lambda s: s["runs"][0]["tool"]["driver"]["rules"][0].pop("help"),
    "rule_level": lambda s: s["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"].update(level="fatal"),
    "rule_tags": lambda s: s["runs"][0]["tool"]["driver"]["rules"][0]["properties"].update(tags=["t%d" % i for i in range(11)]),
    "security_severity": lambda s: s["runs"][0]["tool"]["driver"]["rules"][0]["properties"].update({"security-severity": 8.0}),
    "result_rule": lambda s: s["runs"][0]["results"][0].update(ruleIndex=s["runs"][0]["results"][0]["ruleIndex"] + 1),
    "result_message_and_level": lambda s: s["runs"][0]["results"][0].update(level="warn"),
    "result_locations": lambda s: s["runs"][0]["results"][0].update(locations=[]),
    "physical_location": lambda s: _first_location(s)["physicalLocation"].pop("region"),
    "uri_in_repository": lambda s: _first_location(s)["physicalLocation"]["artifactLocation"].update(uri="docker://node1/web"),
    "uri_base_ids": lambda s: s["runs"][0]["originalUriBaseIds"].pop("DOCKER_ENGINES"),
    "fingerprints": lambda s: s["runs"][0]["results"][1].update(ruleId=s["runs"][0]["results"][0]["ruleId"],
                                                                partialFingerprints=s["runs"][0]["results"][0]["partialFingerprints"]),
    "automation_details": lambda s: s["runs"][0].pop("automationDetails"),
}


def test_every_github_rule_has_a_breakage():
    assert sorted(BREAKAGES) == sorted(r[2].__name__ for r in github_sarif_rules.RULES)


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_each_github_rule_catches_its_breakage(sourced, name):
    sarif = json.loads(json.dumps(_reports.to_sarif(sourced)))
    BREAKAGES[name](sarif)
    check = next(r[2] for r in github_sarif_rules.RULES if r[2].__name__ == name)
    assert check(sarif), name


def test_sarif_keeps_the_most_severe_results_within_githubs_limit(monkeypatch, sourced):
    monkeypatch.setattr(_reports, "SARIF_MAX_RESULTS", 3)
    run = _reports.to_sarif(sourced)["runs"][0]
    assert [r["properties"]["status"] for r in run["results"]] == ["fail"] * 3
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any(n["level"] == "warning" and "the 3 most severe" in n["message"]["text"] for n in notes)


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


# ---------------------------------------------------------------- console (kube-bench style)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_console_has_a_line_per_failing_control_with_the_fix_for_how_the_container_was_made(sourced):
    lines = _reports.to_console(sourced, report_dir="/srv/reports").split("\n")
    failing = [f for f in sourced["findings"] + sourced["daemon_findings"] if f["status"] == "fail"]
    fail_lines = [line for line in lines if line.startswith("[FAIL] ") and "Fix: " in line]
    assert len(fail_lines) == len(failing)
    # by hand: the docker run flag; managed (the web service): the module option
    assert "[FAIL] 5.26 no_new_privileges          legacy: no-new-privileges is not set, so setuid binaries can escalate. " \
           "Fix: run it with --security-opt no-new-privileges" in lines
    pids = next(line for line in lines if " pids_limit " in line and "web:" in line)
    assert pids.startswith("[FAIL] 5.29 ") and pids.endswith("Fix: " + _policy.CONTROLS_BY_ID["pids_limit"].fix)
    assert any(line.startswith("[FAIL] 2.15 ") and "live_restore" in line and "node1 daemon: live-restore is off" in line
               and 'Fix: set "live-restore": true' in line for line in lines)
    assert "[INFO] node1/legacy: containment-test/busybox:1 (not made by containment.docker, fixes are docker run flags)" in lines
    assert "[INFO] node1/web: containment-test/web:1 (service web of containment.docker, fixes are its options)" in lines
    excepted = next(line for line in lines if " cap_drop_all " in line and "edge:" in line)
    assert excepted.startswith("[INFO] 5.4 ") and "excepted (%s)" % EXCEPTION_REASON in excepted
    warned = [f for f in sourced["findings"] + sourced["daemon_findings"] if f["status"] == "warn"]
    assert len([line for line in lines if line.startswith("[WARN] ")]) == len(warned) > 0
    assert any(line.startswith("[WARN] 5.27 healthcheck ") and "legacy: no healthcheck is defined. Fix: run it with "
               "--health-cmd" in line for line in lines)
    assert "[FAIL] down: not audited: engine down" in lines
    assert lines[-2] == "Reports (JSON, JUnit XML, SARIF, HTML): /srv/reports"
    counts, daemons = sourced["summary"]["by_status"], sourced["summary"]["daemons"]["by_status"]
    assert lines[-1] == ("== Summary: %d PASS, %d FAIL, %d WARN, %d EXCEPTED in 3 container(s); %d PASS, %d FAIL, %d WARN, "
                         "%d EXCEPTED in 1 daemon(s); 1 of 2 host(s) audited; FAILED ==" % (
                             counts["pass"], counts["fail"], counts["warn"], counts["excepted"],
                             daemons["pass"], daemons["fail"], daemons["warn"], daemons["excepted"]))
    assert not any(ANSI.search(line) for line in lines)


def test_console_columns_line_up_and_passing_containers_take_one_line():
    report = _reports.combine({"a": _audit.audit([managed("web", 1501), by_hand("x")], 2)})
    lines = _reports.to_console(report).split("\n")
    assert "[PASS] a/web: every control passes (%d)" % len(_policy.AUDIT_CONTROLS) in lines
    rows = [line for line in lines if "Fix: " in line]
    assert len({line.index(" x: ") for line in rows}) == 1  # CIS and control columns padded alike
    assert not any("web" in line for line in rows)


def test_console_colours_only_the_tags_when_asked(sourced):
    plain = _reports.to_console(sourced)
    coloured = _reports.to_console(sourced, colour=True)
    assert ANSI.sub("", coloured) == plain
    for tag, code in (("FAIL", 31), ("WARN", 33), ("INFO", 34)):
        assert plain.count("[%s] " % tag) == coloured.count("\x1b[%dm[%s]\x1b[0m " % (code, tag)) > 0
    passing = _reports.to_console(_reports.combine({"a": _audit.audit([managed("web", 1501)], 2)}), colour=True)
    assert passing.startswith("\x1b[34m[INFO]\x1b[0m a: ") and "\n\x1b[32m[PASS]\x1b[0m a/web: " in passing


@pytest.mark.parametrize("tty, env, expected", [
    (True, {}, True),
    (False, {}, False),                               # a pipe, a file, a CI log
    (True, {"NO_COLOR": "1"}, False),                 # no-color.org: any value
    (True, {"NO_COLOR": ""}, True),
    (True, {"ANSIBLE_NOCOLOR": "1"}, False),
    (True, {"ANSIBLE_NOCOLOR": "true"}, False),
    (True, {"ANSIBLE_NOCOLOR": "0"}, True),
    (True, {"CI": "true"}, False),                    # GitHub Actions, GitLab CI set CI
    (True, {"CI": "false"}, True),
])
def test_console_colour_only_on_a_terminal_and_never_with_no_color_or_in_ci(tty, env, expected):
    assert _reports.console_colour(tty, env) is expected
