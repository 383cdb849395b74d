"""kill -9 of the whole Ansible process tree at each phase of a replace, then reruns.

One stack per phase, four services at version 1, all replaced in one run that is killed once every
service has reached the phase (the module's pause points):

    good_same    v1 -> v2 (good)      rerun with v2       expected: v2 serving
    good_prev    v1 -> v2 (good)      rerun with v1       expected: v1 serving
    crash_same   v1 -> v2 (crashes)   rerun with v2       expected: the rerun fails, rolled back, v1 serving
    crash_prev   v1 -> v2 (crashes)   rerun with v1       expected: v1 serving

A crashing version never gets past its watch, so the phases `proven` and `promoted` have the good
services only. After the rerun: exactly one container per service, no `__previous` / `__next`, the
expected version serving (probed from inside: env VERSION and the image's /VERSION), every leftover
of the killed run named in the service's actions and the service reported changed; the killed run's
host lock broken and the break reported. A further run with the specs now serving has nothing to do
and says so.
"""

from __future__ import annotations

import pytest

from fault_helpers import (LEFTOVER_SUFFIXES, actions_of, assert_no_raw_error, expected_probe, serving_version,
                           service)

STACK = "containment.docker.secure_stack"
CONTAINER = "containment.docker.secure_container"
PHASES = ["created", "stopped", "set_aside", "watching", "proven", "promoted"]
UNPROVEN = PHASES[:4]

# service key: (new version crashes, the rerun uses the new spec)
KINDS = {"good_same": (False, True), "good_prev": (False, False), "crash_same": (True, True), "crash_prev": (True, False)}


def kinds_for(phase):
    return [k for k, (crash, _same) in KINDS.items() if phase in UNPROVEN or not crash]


def specs(box, kinds):
    """{kind: (v1 spec, v2 spec)}; each service has its own uid."""
    out = {}
    for uid, kind in enumerate(kinds, start=1811):
        name, crash = box.name(kind.replace("_", "")), KINDS[kind][0]
        out[kind] = (service(name, 1, uid, images=box.images), service(name, 2, uid, crash=crash, images=box.images))
    return out


def by_name(result):
    return dict((s["name"], s) for s in result.get("services") or [])


def assert_state_at(host, phase, name, crash):
    """What the interface says the engine holds for `name` when its replace reached `phase`."""
    live = dict((n, host.inspect(n)) for n in (name, name + "__previous", name + "__next"))
    present = sorted(n[len(name):] or "NAME" for n, i in live.items() if i)
    status = dict((n[len(name):] or "NAME", (i["State"]["Status"], i["State"]["Running"])) for n, i in live.items() if i)
    expected = {"created": ["NAME", "__next"], "stopped": ["NAME", "__next"], "set_aside": ["__next", "__previous"],
                "watching": ["__next", "__previous"], "proven": ["__next", "__previous"], "promoted": ["NAME", "__previous"]}
    assert present == sorted(expected[phase]), "at %s: %s" % (phase, status)
    if phase == "created":
        assert status["NAME"][1] and status["__next"][0] == "created", status
    if phase == "stopped":
        assert not status["NAME"][1] and status["__next"][0] == "created", status
    if phase == "set_aside":
        assert not status["__previous"][1] and status["__next"][0] == "created", status
    if phase in ("watching", "proven"):
        assert not status["__previous"][1] and status["__next"][0] != "created", status
        if phase == "proven" or not crash:
            assert status["__next"][1], status
    if phase == "promoted":
        assert status["NAME"][1] and not status["__previous"][1], status


def kill_at(box, module, args, phase, names):
    """Start a run paused at `phase`, wait until every one of `names` reached it, kill the whole tree.
    Returns the module's pid (the host lock's holder) and the leftovers' ids per service."""
    run = box.start(module, args, pause=[phase])
    pids = set(run.paused_at(phase, name) for name in names)
    assert len(pids) == 1, "one module process: %s" % pids
    run.kill()
    leftovers = {}
    for name in names:
        leftovers[name] = dict((suffix, box.host.inspect(name + suffix)["Id"]) for suffix in LEFTOVER_SUFFIXES
                               if box.host.inspect(name + suffix))
    return pids.pop(), leftovers


def assert_lock_break_reported(box, result, pid):
    assert box.host.lock() is None, "the rerun released the host lock"
    warnings = [line for line in result["_output"].splitlines() if "WARNING" in line] + list(result.get("warnings") or [])
    assert any("lock" in w and str(pid) in w for w in warnings), \
        "the rerun reports breaking the lock of the killed run (pid %d): %s" % (pid, warnings)


def assert_one_container_each(box, names):
    assert box.host.names(box.prefix) == sorted(names), "exactly one container per service, no leftovers"


@pytest.mark.parametrize("phase", PHASES)
def test_stack_killed_at_a_phase_then_rerun(box, phase):
    host, kinds = box.host, kinds_for(phase)
    sv = specs(box, kinds)
    names = [sv[k][0]["name"] for k in kinds]
    first = box.run(STACK, {"services": [sv[k][0] for k in kinds], "prune": False})
    assert not first.get("failed"), first.get("msg")

    pid, leftovers = kill_at(box, STACK, {"services": [sv[k][1] for k in kinds], "prune": False}, phase, names)
    for kind in kinds:
        assert_state_at(host, phase, sv[kind][0]["name"], KINDS[kind][0])

    rerun_specs = [sv[k][1] if KINDS[k][1] else sv[k][0] for k in kinds]
    rerun = box.run(STACK, {"services": rerun_specs, "prune": False})
    assert_no_raw_error(rerun)
    results = by_name(rerun)
    assert_one_container_each(box, names)
    assert_lock_break_reported(box, rerun, pid)
    for kind in kinds:
        crash, same = KINDS[kind]
        name = sv[kind][0]["name"]
        res = results[name]
        expected = 2 if (same and not crash) else 1
        assert serving_version(host, name) == expected_probe(expected), "%s (%s after a kill at %s)" % (name, kind, phase)
        assert res["changed"] is True, "%s resumed what the killed run left: %s" % (name, res)
        steps = " | ".join(actions_of(res))
        for suffix, cid in leftovers[name].items():
            assert cid[:12] in steps, "the recovery of %s%s (%s) is in the actions: %s" % (name, suffix, cid[:12], steps)
        if crash and same:
            assert res.get("failed") is True and "rolled back" in res.get("msg", ""), res
            assert name in res["msg"]
        else:
            assert not res.get("failed"), res.get("msg")
    assert bool(rerun.get("failed")) == ("crash_same" in kinds), "the run fails exactly when a service was rolled back"

    # nothing left to do: the specs now serving give an unchanged run with no engine steps
    serving = [sv[k][1] if (KINDS[k][1] and not KINDS[k][0]) else sv[k][0] for k in kinds]
    again = box.run(STACK, {"services": serving, "prune": False})
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False, [(s["name"], s["action"], s["reasons"], actions_of(s)) for s in again["services"]]
    assert all(not actions_of(s) for s in again["services"])
    assert_one_container_each(box, names)


def test_single_container_killed_in_the_watch_of_a_crashing_version(box):
    """Issue 8, case 1, through secure_container: the kill during the watch of a crashing version must
    not cost the good container, and the rerun with the crashing spec fails, rolled back."""
    host = box.host
    good, bad = service(box.name("web"), 1, 1831, images=box.images), service(box.name("web"), 2, 1831, crash=True, images=box.images)
    first = box.run(CONTAINER, good)
    assert not first.get("failed"), first.get("msg")
    pid, leftovers = kill_at(box, CONTAINER, bad, "watching", [good["name"]])

    rerun = box.run(CONTAINER, bad)
    assert_no_raw_error(rerun)
    assert_one_container_each(box, [good["name"]])
    assert serving_version(host, good["name"]) == expected_probe(1)
    assert rerun["changed"] is True
    for cid in leftovers[good["name"]].values():
        assert cid[:12] in " | ".join(rerun["actions"]), rerun["actions"]
    assert_lock_break_reported(box, rerun, pid)
    assert rerun.get("failed") is True and "rolled back" in rerun["msg"], rerun.get("msg")
    assert rerun["failure"]["exit_code"] == 3
    again = box.run(CONTAINER, good)
    assert not again.get("failed") and again["changed"] is False and again["actions"] == [], again
