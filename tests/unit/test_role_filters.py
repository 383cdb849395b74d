"""The role secure_services's own logic, on the controller: the merge of a host's services, the one-pass
check of its variables (with the fingerprint that lets deploy.yml's check stand for the role's) and the
report lines. Pure; the role's integration tests (tests/integration/test_role.py) run them in Ansible."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.containment.docker.plugins.filter import services as role

BASE = {"image": "containment-test/busybox:1", "user": "1501:1501", "memory": "16m", "cpus": 0.1}


def variables(**values):
    """A host's role variables, the role's defaults under the given ones (as the role sees them)."""
    found = dict(secure_services_services=[], secure_services_defaults={}, secure_services_overrides={},
                 secure_services_extra_services=[], secure_services_prune=True, secure_services_bind_address="127.0.0.1",
                 secure_services_docker_host="", secure_services_timeout=60, secure_services_lock_timeout=300,
                 secure_services_summary=True)
    found.update(("secure_services_" + key, value) for key, value in values.items())
    return found


def test_defaults_under_each_service_and_the_hosts_override_over_it_dicts_merged_lists_replaced():
    merged = role.secure_services_merge(
        [dict(name="api", env={"WORKERS": "4"}, tmpfs=[{"path": "/tmp"}]), dict(name="web")],
        extra=[dict(name="search", memory="64m")],
        defaults=dict(memory="32m", env={"TZ": "UTC", "WORKERS": "1"}, tmpfs=[{"path": "/run"}]),
        overrides={"api": dict(env={"WORKERS": "8"}, memory="512m")})
    api, web, search = merged["stack"]
    assert api == dict(name="api", memory="512m", env={"TZ": "UTC", "WORKERS": "8"}, tmpfs=[{"path": "/tmp"}])
    assert web == dict(name="web", memory="32m", env={"TZ": "UTC", "WORKERS": "1"}, tmpfs=[{"path": "/run"}])
    assert search["memory"] == "64m" and merged["names"] == ["api", "web", "search"]
    assert merged["problems"] == [] and merged["disabled"] == []


@pytest.mark.parametrize("address, port, bound", [
    ("127.0.0.1", "8080:80", "127.0.0.1:8080:80"),
    ("127.0.0.1", "80", "127.0.0.1::80"),
    ("127.0.0.1", 80, "127.0.0.1::80"),
    ("127.0.0.1", " 8080:80/udp ", "127.0.0.1:8080:80/udp"),
    ("::1", "8080:80", "[::1]:8080:80"),
    ("[::1]", "8080:80", "[::1]:8080:80"),          # bracketed once
    ("127.0.0.1", "10.0.0.5:8080:80", "10.0.0.5:8080:80"),
    ("127.0.0.1", "[2001:db8::5]:53:53/udp", "[2001:db8::5]:53:53/udp"),
    ("127.0.0.1", "::1:8080:80", "::1:8080:80"),    # an unbracketed IPv6 host IP, as Compose takes it
])
def test_a_port_without_an_address_binds_to_the_bind_address(address, port, bound):
    merged = role.secure_services_merge([dict(name="web", ports=[port])], bind_address=address)
    assert merged["stack"][0]["ports"] == [bound]


def test_a_port_list_of_another_type_is_left_for_the_check_to_report():
    assert role.secure_services_merge([dict(name="web", ports="8080:80")])["stack"][0]["ports"] == "8080:80"


@pytest.mark.parametrize("enabled", [False, "no", "false", 0, "off"])
def test_a_disabled_service_is_split_off_and_the_role_key_is_removed(enabled):
    merged = role.secure_services_merge([dict(name="web", enabled=enabled), dict(name="api", enabled="yes")])
    assert merged["disabled"] == [dict(name="web")] and merged["stack"] == [dict(name="api")]
    assert merged["names"] == ["web", "api"]


def test_the_merge_names_a_service_given_twice_and_an_override_that_names_no_service():
    merged = role.secure_services_merge([dict(name="web"), dict(), dict(name="web")], overrides={"nosuch": {}})
    assert merged["names"] == ["web", "(service #2 without a name)", "web"]
    assert merged["problems"] == [
        "service web is defined twice (give a host's own service another name, or change the group's service"
        " with secure_services_overrides)",
        "secure_services_overrides names nosuch, which is not a service of this host (its services: web,"
        " (service #2 without a name), web)"]


@pytest.mark.parametrize("call, message", [
    (lambda: role.secure_services_merge("web"), "secure_services_services must be a list, not str"),
    (lambda: role.secure_services_merge(["web"]), "secure_services_services[0] must be a mapping of options, not str"),
    (lambda: role.secure_services_merge([dict(name="web")], overrides={"web": "x"}),
     "secure_services_overrides[web] must be a mapping of options, not str"),
])
def test_a_merge_of_the_wrong_shapes_says_which(call, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_services_that_pass_give_no_problem_and_the_fingerprint_of_the_role_variables():
    values = variables(services=[dict(BASE, name="web")], result={"changed": False})  # a registered result is no input
    checked = role.secure_services_check(values, host="web1")
    assert checked == {"problems": [], "fingerprint": role.secure_services_fingerprint(values)}
    assert checked["fingerprint"] != role.secure_services_fingerprint(variables(services=[dict(BASE, name="api")]))
    assert checked["fingerprint"] == role.secure_services_fingerprint(dict(values, result={"changed": True},
                                                                           ansible_host="elsewhere"))


@pytest.mark.parametrize("where", ["secret_env", "env", "volume_options", "defaults", "override"])
def test_the_fingerprint_tells_nothing_of_a_secret_value(where):
    """It sits in a fact that -v shows: two variables that differ only in a secret value give the same one."""
    def values(secret):
        service = dict(BASE, name="db")
        extra = {}
        if where == "secret_env":
            service["secret_env"] = {"DB_PASSWORD": secret}
        elif where == "env":
            service["env"] = {"API_TOKEN": secret, "TZ": "UTC"}
        elif where == "volume_options":
            service["mounts"] = [{"type": "volume", "source": "share", "target": "/data", "volume_driver": "local",
                                  "volume_options": {"type": "cifs", "o": "username=u,password=" + secret}}]
        elif where == "defaults":
            extra["defaults"] = {"secret_env": {"DB_PASSWORD": secret}}
        else:
            extra["overrides"] = {"db": {"secret_env": {"DB_PASSWORD": secret}}}
        return variables(services=[service], **extra)

    first, second = values("hunter2-first"), values("s3cr3t-second")
    assert role.secure_services_fingerprint(first) == role.secure_services_fingerprint(second)
    checked = role.secure_services_check(first, host="web1")
    assert checked["problems"] == [] and checked["fingerprint"] == role.secure_services_fingerprint(second)
    assert role.secure_services_fingerprint(first) != role.secure_services_fingerprint(
        dict(first, secure_services_timeout=61))


def test_every_problem_of_every_service_merged_is_named_with_host_and_service_secrets_masked():
    values = variables(services=[dict(BASE, name="api", memroy="32m", user="0:0", secret_env={"API_TOKEN": "s3cr3t"}),
                                 dict(BASE, name="web", enabled=False, read_only_rootfs=True)],
                       overrides={"nosuch": {}})
    checked = role.secure_services_check(values, host="web1")
    assert checked["fingerprint"] is None
    problems = checked["problems"]
    assert problems[0].startswith("secure_services_overrides names nosuch")
    assert any(p.startswith("web1: service 'api': field 'memroy': unknown option: there is no option 'memroy'. "
                            "Fix: did you mean 'memory'?") for p in problems), problems
    assert any(p.startswith("web1: service 'api': field 'user': non_root_user (floor)") for p in problems), problems
    assert any(p.startswith("web1: service 'web': field 'read_only_rootfs': unknown option") for p in problems)
    assert not any("s3cr3t" in p for p in problems)


def test_a_variable_of_the_wrong_type_is_refused_before_the_merge_with_secrets_masked():
    secret = {"name": "api", "secret_env": {"DB_PASSWORD": "hunter22"}}
    checked = role.secure_services_check(variables(services=[secret, "hunter22"], timeout="soon"), host="web1")
    assert checked["fingerprint"] is None
    assert any("secure_services_timeout" in p for p in checked["problems"]), checked["problems"]
    assert any("secure_services_services" in p for p in checked["problems"]), checked["problems"]
    assert not any("hunter22" in p for p in checked["problems"]), checked["problems"]


def test_an_override_that_is_not_a_mapping_is_a_problem_not_a_crash():
    checked = role.secure_services_check(variables(services=[dict(BASE, name="web")], overrides={"web": "big"}))
    assert checked["problems"] == ["secure_services_overrides[web] must be a mapping of options, not str"]


def test_the_check_reads_the_roles_own_argument_specs():
    specs = role.role_specs()
    assert {"secure_services_services", "secure_services_overrides", "secure_services_timeout"} <= set(specs)
    assert specs["secure_services_services"]["elements"] == "dict" and "options" in specs["secure_services_services"]


RESULT = {"services": [
    {"name": "web", "action": "none", "steps": [], "container": {"Id": "x" * 64}},
    {"name": "api", "action": "recreate", "reasons": ["memory differs", "spec changed"], "steps": ["create"]},
    {"name": "db", "action": "create", "failed": True, "msg": "db: exited 1", "steps": []}],
    "pruned": [{"name": "old", "reasons": ["no longer listed"]}],
    "summary": {"create": 1, "recreate": 1, "none": 1, "failed": 1, "pruned": 1, "remove": 0}}


def test_the_report_says_per_service_what_was_done_and_the_counts():
    assert role.secure_services_report(RESULT) == [
        "web: unchanged", "api: recreated (memory differs; spec changed)", "db: FAILED to create - db: exited 1",
        "old: removed (no longer listed)",
        "created 1, recreated 1, restarted 0, started 0, stopped 0, removed 1, unchanged 1, failed 1"]


def test_the_report_of_a_plan_says_would_be_in_check_mode_or_when_no_service_has_steps():
    lines = role.secure_services_report(RESULT, check_mode=True)
    assert lines[1] == "api: would be recreated (memory differs; spec changed)"
    assert lines[3] == "old: would be removed (no longer listed)"
    assert lines[-1].startswith("plan, nothing changed (check mode): created 1")
    planned = {"services": [dict(e) for e in RESULT["services"]]}
    for entry in planned["services"]:
        entry.pop("steps")
    assert role.secure_services_report(planned)[1].startswith("api: would be recreated")


def test_the_report_of_no_run_is_the_counts_alone():
    assert role.secure_services_report(None) == [
        "created 0, recreated 0, restarted 0, started 0, stopped 0, removed 0, unchanged 0, failed 0"]
