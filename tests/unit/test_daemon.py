"""Unit tests of the daemon controls (_policy.DAEMON_CONTROLS), the container controls that read
what the daemon and the kernel decided, the secure_engine plan (_engine_config) and the daemon's
part of the reports. Pure: facts as docker info, daemon.json and /proc/<pid>/status give them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import jsonschema
import pytest

from ansible_collections.containment.docker.plugins.module_utils import _audit, _engine_config, _policy, _reports, _spec

HARDENED = {"live-restore": True, "icc": False, "userland-proxy": False, "no-new-privileges": True,
            "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}, "experimental": False,
            "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 65536, "Hard": 65536}}}
INFO = {"LiveRestoreEnabled": False, "LoggingDriver": "json-file", "ExperimentalBuild": False, "Driver": "overlay2",
        "SecurityOptions": ["name=seccomp,profile=default"], "Plugins": {"Authorization": None}, "Debug": False,
        "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {"docker.io": {"Secure": True}}}}


def facts(settings=None, info=None, icc="true", **extra):
    result = {"info": dict(INFO, **(info or {})), "settings": settings, "settings_source": "test",
              "bridge": {_policy.BRIDGE_ICC: icc, "com.docker.network.bridge.default_bridge": "true"}}
    result.update(extra)
    return result


def statuses(findings):
    return dict((f["control"], f["status"]) for f in findings)


def hardened_facts():
    return facts(dict(HARDENED), {"LiveRestoreEnabled": True,
                                  "SecurityOptions": ["name=seccomp,profile=default", "name=userns"],
                                  "Plugins": {"Authorization": ["authz"]}}, icc="false")


def test_defaults_fail_the_daemon_controls_with_fixes():
    found = dict((f["control"], f) for f in _policy.evaluate_daemon(facts({})))
    assert [c for c, f in found.items() if f["status"] == "fail"] == [
        "live_restore", "default_log_limits", "icc_disabled", "userland_proxy_off", "default_no_new_privileges"]
    assert {c for c, f in found.items() if f["status"] == "warn"} == {"userns_remap", "default_ulimits", "authorization_plugin"}
    assert all(f["fix"] and f["cis"] for f in found.values())
    assert found["live_restore"]["evidence"] == {"info.LiveRestoreEnabled": False}


def test_hardened_settings_pass_every_daemon_control():
    assert set(statuses(_policy.evaluate_daemon(hardened_facts())).values()) == {"pass"}


@pytest.mark.parametrize("control,settings,info,icc,status", [
    ("live_restore", {}, {"LiveRestoreEnabled": True}, "true", "pass"),
    ("default_log_limits", {"log-opts": {"max-size": "0"}}, {}, "true", "fail"),
    ("default_log_limits", {}, {"LoggingDriver": "local"}, "true", "pass"),
    ("default_log_limits", {}, {"LoggingDriver": "fancy"}, "true", "warn"),
    ("icc_disabled", {"icc": False}, {}, "true", "fail"),  # set, but the bridge kept from before says otherwise
    ("icc_disabled", {}, {}, "false", "pass"),
    ("userland_proxy_off", {"userland-proxy": False}, {}, "true", "pass"),
    ("default_no_new_privileges", {"no-new-privileges": True}, {}, "true", "pass"),
    ("tls_on_tcp", {"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]}, {}, "true", "fail"),
    ("tls_on_tcp", {"hosts": ["tcp://0.0.0.0:2376"], "tlsverify": True}, {}, "true", "pass"),
    ("experimental_off", {}, {"ExperimentalBuild": True}, "true", "fail"),
    ("insecure_registries", {}, {"RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8", "10.0.0.0/8"]}}, "true", "fail"),
    ("insecure_registries", {}, {"RegistryConfig": {"IndexConfigs": {"reg.lab:5000": {"Secure": False}}}}, "true", "fail"),
    ("storage_driver", {}, {"Driver": "aufs"}, "true", "fail"),
    ("log_level", {"log-level": "debug"}, {}, "true", "fail"),
    ("log_level", {}, {"Debug": True}, "true", "fail"),
    ("iptables_on", {"iptables": False}, {}, "true", "fail"),
    ("userns_remap", {}, {"SecurityOptions": ["name=userns"]}, "true", "pass"),
    ("default_ulimits", {"default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1, "Hard": 2}}}, {}, "true", "pass"),
    ("authorization_plugin", {}, {"Plugins": {"Authorization": ["authz"]}}, "true", "pass"),
])
def test_each_daemon_control(control, settings, info, icc, status):
    finding = statuses(_policy.evaluate_daemon(facts(settings, info, icc)))
    assert finding[control] == status


def test_unreadable_settings_warn_with_the_reason_never_pass():
    found = dict((f["control"], f) for f in _policy.evaluate_daemon(
        facts(None, settings_source="no dockerd on this host serves this engine with /etc/docker/daemon.json")))
    for control in ("userland_proxy_off", "default_no_new_privileges", "tls_on_tcp", "default_ulimits", "iptables_on"):
        assert found[control]["status"] == "warn"
        assert "no dockerd on this host" in found[control]["message"]
    assert found["live_restore"]["status"] == "fail"  # docker info shows it


def test_an_exception_relaxes_a_baseline_daemon_control_never_the_floor():
    weak = facts({"hosts": ["tcp://0.0.0.0:2375"]})
    found = statuses(_policy.evaluate_daemon(weak, {"icc_disabled": "legacy app talks over docker0", "tls_on_tcp": "x"}))
    assert found["icc_disabled"] == "excepted" and found["tls_on_tcp"] == "fail"


def test_dockerd_command_line_is_read_as_daemon_json_keys():
    argv = ["dockerd", "--live-restore", "--icc=false", "-H", "tcp://0.0.0.0:2375", "--host=unix:///x.sock",
            "--log-opt", "max-size=10m", "--default-ulimit", "nofile=1024:2048", "--config-file", "/etc/d.json",
            "--userland-proxy=false", "-D", "--unknown", "x"]
    assert _policy.parse_dockerd_args(argv) == {
        "live-restore": True, "icc": False, "hosts": ["tcp://0.0.0.0:2375", "unix:///x.sock"],
        "log-opts": {"max-size": "10m"}, "default-ulimits": {"nofile": {"Name": "nofile", "Soft": "1024", "Hard": "2048"}},
        "config-file": "/etc/d.json", "userland-proxy": False, "debug": True}
    assert _policy.effective_daemon_settings({"icc": True, "data-root": "/d"}, {"icc": False}) == {"icc": False, "data-root": "/d"}
    assert _policy.effective_daemon_settings(None, None) is None


# ---------------------------------------------------------------- containers under the daemon and the kernel

def container(**host):
    raw = dict(name="web", image="containment-test/web:1", user="1500:1500", memory="64m", cpus=0.5, healthcheck={"test": "true"})
    inspect = _spec.desired_inspect(_spec.normalize_spec(raw), "sha256:" + "ab" * 32, {})
    inspect["HostConfig"].update(host)
    inspect["Id"] = "c" * 64
    return inspect


def finding(inspect, control, ctx):
    by_id = dict((f["control"], f) for f in _policy.evaluate(inspect, ctx) + _policy.evaluate_kernel(inspect, ctx))
    return by_id[control]


def kernel(nnp=1, cap_eff=0, uid=1500, gid=1500):
    return {"pid": 42, "status": {"NoNewPrivs": nnp, "CapEff": cap_eff, "Uid": [uid] * 4, "Gid": [gid] * 4}}


def test_daemon_no_new_privileges_passes_an_empty_security_opt():
    bare = container(SecurityOpt=[])
    assert finding(bare, "no_new_privileges", {})["status"] == "fail"
    assert finding(bare, "no_new_privileges", {"daemon": {"no_new_privileges": True}})["status"] == "pass"
    explicit_off = container(SecurityOpt=["no-new-privileges:false"])
    assert finding(explicit_off, "no_new_privileges", {"daemon": {"no_new_privileges": True}})["status"] == "fail"


def test_the_kernel_overrides_the_configuration():
    bare = container(SecurityOpt=[])
    ctx = {"daemon": {"no_new_privileges": True}, "kernel": kernel(nnp=0)}
    nnp = finding(bare, "no_new_privileges", ctx)
    assert nnp["status"] == "fail" and nnp["evidence"]["kernel.NoNewPrivs"] == 0
    mismatch = finding(bare, "kernel_matches_config", ctx)
    assert mismatch["status"] == "fail" and "created before the daemon set no-new-privileges" in mismatch["message"]
    ctx["kernel"] = kernel(nnp=1)
    assert finding(bare, "no_new_privileges", ctx)["status"] == "pass"
    assert finding(bare, "kernel_matches_config", ctx)["status"] == "pass"


@pytest.mark.parametrize("kernel_state,status,words", [
    (kernel(), "pass", ""),
    (kernel(cap_eff=1 << 21), "fail", "SYS_ADMIN"),
    (kernel(uid=0), "fail", "effective uid 0"),
    (kernel(gid=7), "fail", "effective gid 7"),
    ({"why": "the container is not running"}, "pass", ""),
])
def test_kernel_matches_config(kernel_state, status, words):
    found = finding(container(), "kernel_matches_config", {"kernel": kernel_state})
    assert found["status"] == status and words in found["message"]


def test_kernel_state_unread_is_said_in_the_evidence():
    found = finding(container(), "kernel_matches_config", {"kernel": {"why": "pid 9 is not on the host the audit runs on"}})
    assert found["evidence"] == {"kernel": "not read: pid 9 is not on the host the audit runs on"}


def test_apparmor_host_fails_an_unconfined_or_missing_profile():
    ctx = {"daemon": {"apparmor": True}}
    for profile, status in (("", "fail"), ("unconfined", "fail"), ("docker-default", "pass")):
        inspect = dict(container(), AppArmorProfile=profile)
        assert finding(inspect, "security_profiles", ctx)["status"] == status, profile
    assert finding(dict(container(), AppArmorProfile=""), "security_profiles", {})["status"] == "pass"  # no AppArmor


def test_proc_status_and_capability_names():
    text = "Name:\tsleep\nUid:\t1500\t1500\t1500\t1500\nGid:\t1\t2\t3\t4\nCapEff:\t0000000000000400\nNoNewPrivs:\t1\n"
    assert _policy.parse_proc_status(text) == {"Uid": [1500] * 4, "Gid": [1, 2, 3, 4], "CapEff": 0x400, "NoNewPrivs": 1}
    assert _policy.cap_names(0x400) == ["NET_BIND_SERVICE"]
    assert _policy.daemon_context(facts({"no-new-privileges": True}, {"SecurityOptions": ["name=apparmor"]})) == {
        "apparmor": True, "userns": False, "no_new_privileges": True}


def test_kernel_state_needs_the_container_id_in_the_pid_cgroup(tmp_path):
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "status").write_text("NoNewPrivs:\t1\n")
    (tmp_path / "42" / "cgroup").write_text("8:pids:/docker/%s\n" % ("c" * 64))
    running = {"Id": "c" * 64, "State": {"Running": True, "Pid": 42}}
    assert _audit.kernel_state(running, str(tmp_path)) == {"pid": 42, "status": {"NoNewPrivs": 1}}
    assert "not the container's" in _audit.kernel_state(dict(running, Id="d" * 64), str(tmp_path))["why"]
    assert "not on the host" in _audit.kernel_state(dict(running, State={"Running": True, "Pid": 43}), str(tmp_path))["why"]
    assert _audit.kernel_state({"State": {"Running": False}})["why"] == "the container is not running"


# ---------------------------------------------------------------- the secure_engine plan

def test_plan_from_an_empty_file_is_the_hardened_set_and_passes():
    plan = _engine_config.engine_config({}, HARDENED)
    assert plan["config"] == HARDENED and plan["differs"] and plan["errors"] == []
    assert plan["interim"] == {"live-restore": True}
    assert set(f["status"] for f in plan["findings"]) <= {"pass", "warn"}
    again = _engine_config.engine_config(plan["config"], HARDENED)
    assert not again["differs"] and again["interim"] is None


def test_plan_keeps_what_the_user_keeps_and_refuses_an_unreasoned_relaxation():
    current = {"data-root": "/srv/docker", "icc": True, "insecure-registries": ["reg.lab:5000"]}
    refused = _engine_config.engine_config(current, HARDENED)
    assert len(refused["errors"]) == 1 and "insecure_registries" in refused["errors"][0]
    assert "secure_engine_exceptions.insecure_registries" in refused["errors"][0]
    plan = _engine_config.engine_config(current, HARDENED, {"registry-mirrors": ["https://m.lab"]},
                                        {"insecure_registries": "the lab registry has no certificate yet",
                                         "icc_disabled": "the legacy pair talks over docker0"})
    assert plan["errors"] == []
    assert plan["config"]["data-root"] == "/srv/docker" and plan["config"]["registry-mirrors"] == ["https://m.lab"]
    assert plan["config"]["icc"] is True  # the excepted control keeps the current value
    assert plan["config"]["insecure-registries"] == ["reg.lab:5000"] and plan["config"]["live-restore"] is True
    assert _engine_config.record(plan["exceptions"])["exceptions"] == {
        "icc_disabled": "the legacy pair talks over docker0", "insecure_registries": "the lab registry has no certificate yet"}


@pytest.mark.parametrize("settings,exceptions,words", [
    ({"hosts": ["tcp://0.0.0.0:2375"]}, {}, "no exception relaxes this floor control"),
    ({}, {"tls_on_tcp": "reason"}, "floor control"),
    ({}, {"no_such": "reason"}, "not a daemon control"),
    ({}, {"icc_disabled": "  "}, "written reason"),
    ({"live-restore": False}, {}, "live_restore"),
])
def test_plan_errors_name_key_control_and_fix(settings, exceptions, words):
    assert any(words in e for e in _engine_config.engine_config({}, HARDENED, settings, exceptions)["errors"])


# ---------------------------------------------------------------- the reports

@pytest.fixture
def report():
    weak = _audit.audit([container()], 2)
    weak["daemon"] = _audit.daemon_result(facts({}))
    strong = _audit.audit([container()], 2)
    strong["daemon"] = _audit.daemon_result(hardened_facts(), {"icc_disabled": "legacy pair"})
    return _reports.combine({"weak": weak, "strong": strong}, generated_at="2026-01-02T03:04:05Z")


def test_report_has_the_daemons_per_host(report):
    jsonschema.validate(report, _reports.REPORT_SCHEMA)
    hosts = dict((h["host"], h) for h in report["hosts"])
    assert hosts["weak"]["daemon"]["status"] == "fail" and hosts["strong"]["daemon"]["status"] == "pass"
    assert report["summary"]["daemons"]["failing_hosts"] == ["weak"] and report["passed"] is False
    assert [c["id"] for c in report["daemon_controls"]] == [c.id for c in _policy.DAEMON_CONTROLS]


def test_junit_has_a_daemon_suite_with_a_case_per_control(report):
    root = ET.fromstring(_reports.to_junit(report).split("\n", 1)[1])
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "weak/daemon")
    cases = dict((c.get("name"), c) for c in suite.iter("testcase"))
    assert list(cases) == [c.id for c in _policy.DAEMON_CONTROLS]
    assert cases["live_restore"].find("failure") is not None and suite.get("failures") == "5"


def test_sarif_daemon_results_are_at_the_host(report):
    run = _reports.to_sarif(report)["runs"][0]
    live = [r for r in run["results"] if r["ruleId"] == "live_restore"]
    assert len(live) == 1 and live[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "weak"
    assert run["tool"]["driver"]["rules"][live[0]["ruleIndex"]]["id"] == "live_restore"


def test_html_has_a_daemon_row_per_host(report):
    page = _reports.to_html(report)
    assert 'id="daemons"' in page and '<a href="#daemon-weak">weak</a>' in page and '<a href="#daemon-strong">strong</a>' in page
    assert "live-restore is off" in page
