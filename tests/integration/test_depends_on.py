"""Start order (depends_on) and the recreate / restart triggers of secure_stack, on the real engine.

Order is proven from the engine's own timestamps, never from sleeps: a dependant's State.StartedAt
is not before the moment its dependency became healthy (the End of the first passing probe in the
dependency's Health log, right after a failing one) or, for service_started, started.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timezone

from integration_helpers import ANSIBLE_ENV, ANSIBLE_PLAYBOOK, inspect

STACK = "containment.docker.secure_stack"
READY = "/tmp/ready"


def timestamp(text):
    """The engine's RFC 3339 time with nanoseconds, to the microsecond."""
    whole, _dot, fraction = text.rstrip("Z").partition(".")
    return datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(
        microsecond=int((fraction + "000000")[:6]), tzinfo=timezone.utc)


def base(sandbox, name, uid, **extra):
    service = dict(name=sandbox.name(name), image=sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_1"], user="%d:%d" % (uid, uid),
                   memory="16m", cpus=0.1, network_mode="none", command=["sh", "-c", "sleep 3600"],
                   grace_period=0.5, stop_timeout=1)
    service.update(extra)
    return service


def database(sandbox, **extra):
    """Healthy only once the file appears, which the command creates after `sleep 3`."""
    options = dict(command=["sh", "-c", "sleep 3; touch %s; sleep 3600" % READY],
                   healthcheck={"test": "test -e %s" % READY, "interval": "2s", "timeout": "1s", "retries": 3})
    return base(sandbox, "db", 1901, **dict(options, **extra))


def stack(sandbox, db=None, api=None, web=None):
    return [database(sandbox, **(db or {})),
            base(sandbox, "api", 1902, **dict({"depends_on": {sandbox.name("db"): {"condition": "service_healthy"}}}, **(api or {}))),
            base(sandbox, "web", 1903, **dict({"depends_on": [sandbox.name("api")]}, **(web or {})))]


def by_name(result):
    return dict((s["name"], s) for s in result["services"])


def became_healthy(container):
    """End of the first passing probe that follows a failing one in the Health log."""
    log = container["State"]["Health"]["Log"]
    for before, entry in zip(log, log[1:]):
        if before["ExitCode"] != 0 and entry["ExitCode"] == 0:
            return timestamp(entry["End"])
    raise AssertionError("the Health log does not show the change to healthy: %s" % log)


def started(container):
    return timestamp(container["State"]["StartedAt"])


def test_a_dependant_starts_only_after_its_dependency_is_healthy(sandbox):
    result = sandbox.run({"services": stack(sandbox), "prune": False}, module=STACK)
    assert not result.get("failed"), result.get("msg")
    assert result["summary"]["create"] == 3
    db, api, web = (inspect(sandbox.name(n)) for n in ("db", "api", "web"))
    assert db["State"]["Health"]["Status"] == "healthy"
    assert started(api) >= became_healthy(db), (api["State"]["StartedAt"], db["State"]["Health"]["Log"])
    assert started(web) >= started(api), "service_started: web after api runs"

    again = sandbox.run({"services": stack(sandbox), "prune": False}, module=STACK)
    assert again["changed"] is False and again["summary"]["none"] == 3, again["services"]


def test_a_failing_dependency_stops_its_dependants_replace(sandbox):
    first = sandbox.run({"services": stack(sandbox), "prune": False}, module=STACK)
    assert not first.get("failed"), first.get("msg")
    before = dict((n, inspect(sandbox.name(n))) for n in ("db", "api", "web"))

    # db's new version crashes; api and web change too, but must not be replaced
    broken = stack(sandbox, db={"command": ["sh", "-c", "echo db cannot start; exit 3"]},
                   api={"env": {"VERSION": "2"}}, web={"env": {"VERSION": "2"}})
    result = sandbox.run({"services": broken, "prune": False}, module=STACK)
    assert result.get("failed") is True
    services = by_name(result)
    db, api, web = (services[sandbox.name(n)] for n in ("db", "api", "web"))
    assert "rolled back" in db["msg"] and db["failure"]["exit_code"] == 3, db
    assert api["failed"] and "%s: not replaced: its dependency %s failed" % (api["name"], db["name"]) == api["msg"], api
    assert web["failed"] and "%s: not replaced: its dependency %s failed" % (web["name"], api["name"]) == web["msg"], web
    assert "not replaced: its dependency" in result["msg"]
    for name in ("db", "api", "web"):
        after = inspect(sandbox.name(name))
        assert after["Id"] == before[name]["Id"] and after["State"]["Running"], name
        assert inspect(sandbox.name(name) + "__next") is None and inspect(sandbox.name(name) + "__previous") is None
    for name in ("api", "web"):  # never stopped: the old container was left exactly as it was
        assert inspect(sandbox.name(name))["State"]["StartedAt"] == before[name]["State"]["StartedAt"], name


def test_a_cycle_or_an_unknown_name_is_refused_with_nothing_changed(sandbox):
    first = sandbox.run({"services": stack(sandbox), "prune": False}, module=STACK)
    assert not first.get("failed"), first.get("msg")
    ids = dict((n, inspect(sandbox.name(n))["Id"]) for n in ("db", "api", "web"))

    cycle = stack(sandbox, db={"depends_on": [sandbox.name("web")], "env": {"VERSION": "2"}})
    unknown = stack(sandbox, api={"depends_on": [sandbox.name("nosuch")], "env": {"VERSION": "2"}})
    refused = sandbox.run([{"services": cycle, "prune": False}, {"services": unknown, "prune": False}], module=STACK)
    assert "cycle" in refused[0]["msg"], refused[0]["msg"]
    assert "%s -> %s -> %s -> %s" % tuple(sandbox.name(n) for n in ("api", "db", "web", "api")) in refused[0]["msg"]
    assert [(p["service"], p["field"]) for p in refused[0]["problems"]] == [(sandbox.name("api"), "depends_on")]
    assert [(p["service"], p["field"], p["rule"]) for p in refused[1]["problems"]] == [
        (sandbox.name("api"), "depends_on", "unknown service")]
    for result in refused:
        assert result.get("failed") is True and "nothing was changed" in result["msg"]
    assert dict((n, inspect(sandbox.name(n))["Id"]) for n in ids) == ids


def test_recreate_and_restart_triggers(sandbox):
    worker = base(sandbox, "worker", 1904)
    first = sandbox.run({"services": [worker], "prune": False}, module=STACK)
    assert not first.get("failed"), first.get("msg")
    old = inspect(worker["name"])

    plan = sandbox.run([{"services": [dict(worker, recreate=True)], "prune": False},
                        {"services": [dict(worker, restart=True)], "prune": False}], module=STACK, check=True)
    assert [(r["changed"], r["services"][0]["action"]) for r in plan] == [(True, "recreate"), (True, "restart")]
    assert inspect(worker["name"])["State"]["StartedAt"] == old["State"]["StartedAt"], "check mode changed nothing"

    recreated = sandbox.run({"services": [dict(worker, recreate=True)], "prune": False}, module=STACK)
    assert not recreated.get("failed"), recreated.get("msg")
    assert recreated["changed"] is True and recreated["services"][0]["action"] == "recreate"
    new = inspect(worker["name"])
    assert new["Id"] != old["Id"] and new["State"]["Running"]
    assert new["Config"]["Labels"]["containment.spec-hash"] == old["Config"]["Labels"]["containment.spec-hash"], \
        "recreate is an operation option: not in the spec hash"

    restarted = sandbox.run({"services": [dict(worker, restart=True)], "prune": False}, module=STACK)
    assert not restarted.get("failed"), restarted.get("msg")
    assert restarted["changed"] is True and restarted["services"][0]["action"] == "restart"
    assert restarted["services"][0]["steps"] == ["stopped", "started"]
    after = inspect(worker["name"])
    assert after["Id"] == new["Id"] and after["State"]["Running"]
    assert started(after) > started(new)

    unchanged = sandbox.run({"services": [worker], "prune": False}, module=STACK)
    assert unchanged["changed"] is False


def test_a_restart_that_does_not_come_up_fails_with_the_exit_code_and_logs(sandbox):
    """The handler's case: a configuration file the service reads changed, the restart reads it."""
    config = sandbox.tmp_path / "app.conf"
    config.write_text("good\n", encoding="utf-8")
    config.chmod(0o644)
    # restart_policy no: under on-failure the crash loop's restarts are judged by RestartCount (branch faults)
    app = base(sandbox, "app", 1905, volumes=["%s:/run/app.conf:ro" % config], restart_policy="no",
               command=["sh", "-c", "grep -q good /run/app.conf || { echo bad config; exit 3; }; exec sleep 3600"])
    first = sandbox.run({"services": [app], "prune": False}, module=STACK)
    assert not first.get("failed"), first.get("msg")
    old = inspect(app["name"])

    with open(config, "w", encoding="utf-8") as handle:  # in place: the bind mount sees the same file
        handle.write("bad\n")
    result = sandbox.run({"services": [dict(app, restart=True)], "prune": False}, module=STACK)
    assert result.get("failed") is True
    service = result["services"][0]
    assert service["action"] == "restart" and service["failure"]["exit_code"] == 3, service
    assert "bad config" in service["failure"]["logs"]
    assert "no older container to roll back to" in service["msg"], service["msg"]
    assert inspect(app["name"])["Id"] == old["Id"], "restarted in place, nothing replaced"


def test_the_role_passes_depends_on_restart_and_recreate_through(sandbox):
    """Deployed through the role (its argument specs accept the options), then the plan of a handler's
    restart and a forced recreate, in check mode: the summary says what would be done."""
    worker = base(sandbox, "worker", 1906)
    services = [dict(s, enabled=True) for s in stack(sandbox)] + [worker]

    def role(overrides, check):
        play = [{"hosts": "localhost", "gather_facts": False,
                 "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", "secure_services_services": services,
                          "secure_services_prune": False, "secure_services_overrides": overrides},
                 "roles": ["containment.docker.secure_services"]}]
        path = sandbox.tmp_path / ("role-%d.yml" % len(list(sandbox.tmp_path.glob("role-*.yml"))))
        path.write_text(json.dumps(play), encoding="utf-8")
        proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(path)] + (["--check"] if check else []),
                              capture_output=True, text=True, env=dict(os.environ, **ANSIBLE_ENV), timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        return proc.stdout

    role({}, check=False)
    db, api = inspect(sandbox.name("db")), inspect(sandbox.name("api"))
    assert started(api) >= became_healthy(db)

    plan = role({worker["name"]: {"restart": True}, sandbox.name("web"): {"recreate": True}}, check=True)
    assert "%s: would be restarted (restart: true)" % worker["name"] in plan, plan
    assert "%s: would be recreated (recreate: true)" % sandbox.name("web") in plan, plan
    assert "restarted 1" in plan and "recreated 1" in plan
