"""Runs against one host at once: two and three started together, and staggered (the second started when
the first holds the host lock, or is in the middle of its replace, seen in `docker events`), over a stack
of five services, with changing and unchanged specs.

What must hold, whatever order the engine's lock gave them:
  - every run succeeds, without a raw library error;
  - the runs serialise: the lock container is created and destroyed in turn, never held twice;
  - the outcome is that of *some* order of the runs (staggered: the order they were started in): each
    run's `changed` is true exactly when its spec differed from what the run before it left, the last
    run's spec serves, and a run's reported containers are the live ones exactly when no later run
    changed anything;
  - exactly one container per service, no `__previous` / `__next`, no lock left.
And the lock itself: a second run with a short lock_timeout fails naming the holder while the first
is paused (check mode too); a lock left by a killed run is broken by the next run, which says so.
"""

from __future__ import annotations

import getpass
import itertools
import socket

import pytest

from fault_helpers import (LOCK_NAME, Events, actions_of, assert_no_raw_error, event_is, expected_probe,
                           serving_version, service)

STACK = "containment.docker.secure_stack"
SERVICES = 5


def stack(box, version, **options):
    args = {"services": [service(box.name("s%d" % i), version, 1841 + i, images=box.images) for i in range(SERVICES)],
            "prune": False}
    args.update(options)
    return args


def names(box):
    return [box.name("s%d" % i) for i in range(SERVICES)]


def deploy(box, version):
    result = box.run(STACK, stack(box, version))
    assert not result.get("failed"), result.get("msg")
    return result


def observed(result):
    services = result["services"]
    changed = set(s["changed"] for s in services)
    assert len(changed) == 1, "all services of a run change together here: %s" % [(s["name"], s["changed"]) for s in services]
    run_changed = changed.pop()
    assert result["changed"] is run_changed
    return run_changed, dict((s["name"], s["container"]["id"]) for s in services)


def consistent_orders(initial, versions, results, final_ids, final_version, orders):
    """The orders of the runs that explain every observation (see the module docstring)."""
    obs = [observed(r) for r in results]
    good = []
    for order in orders:
        state, expected_changed = initial, {}
        for run in order:
            expected_changed[run] = versions[run] != state
            state = versions[run]
        if state != final_version or any(obs[r][0] != expected_changed[r] for r in order):
            continue
        later_changed = dict((run, any(expected_changed[o] for o in order[i + 1:])) for i, run in enumerate(order))
        if all((obs[r][1] == final_ids) != later_changed[r] for r in order):
            good.append(order)
    return good


def lock_turns(events):
    """The lock's create/destroy events in order, as 'create'/'destroy' strings."""
    return [e.get("Action") for e in events.seen if (e.get("Actor") or {}).get("Attributes", {}).get("name") == LOCK_NAME
            and e.get("Action") in ("create", "destroy")]


def check_outcome(box, events, initial, versions, results, orders):
    host = box.host
    for result in results:
        assert_no_raw_error(result)
        assert not result.get("failed"), result.get("msg")
    assert host.names(box.prefix) == sorted(names(box)), "one container per service, no leftovers"
    assert host.lock() is None, "no lock left"
    live_versions = set(serving_version(host, n) for n in names(box))
    assert len(live_versions) == 1, live_versions
    final_version = [v for v in (1, 2, 3) if expected_probe(v) in live_versions]
    assert final_version, live_versions
    final_ids = dict((n, host.inspect(n)["Id"]) for n in names(box))
    explained = consistent_orders(initial, versions, results, final_ids, final_version[0], orders)
    assert explained, "no order of the runs explains the outcome: %s" % [
        (versions[i], r["changed"], [(s["name"][-2:], s["action"], actions_of(s)) for s in r["services"]])
        for i, r in enumerate(results)]
    # every run took the lock in turn (an unchanged run too): create, destroy, create, destroy, ...
    events.wait_for(lambda e: lock_turns(events) == ["create", "destroy"] * len(results), "the lock's last release", timeout=10)
    assert lock_turns(events) == ["create", "destroy"] * len(results)


# the same change twice, two different changes, three runs: unchanged and two different changes
TOGETHER = [(2, 2), (2, 3), (1, 2, 3)]


@pytest.mark.parametrize("versions", TOGETHER, ids=["runs of v%s started together from v1" % "+v".join(map(str, v))
                                                    for v in TOGETHER])
def test_runs_started_together_serialise(box, versions):
    deploy(box, 1)
    with Events(box.host) as events:
        runs = [box.start(STACK, stack(box, v)) for v in versions]
        results = [run.wait() for run in runs]
        check_outcome(box, events, 1, versions, results, list(itertools.permutations(range(len(versions)))))


STAGGERED = [
    ("when the first holds the lock", (2, 3), event_is("create", name=LOCK_NAME)),
    ("when the first has set its old containers aside", (2, 2), lambda e: event_is("rename")(e) and (
        (e.get("Actor") or {}).get("Attributes", {}).get("name", "").endswith("__previous"))),
]


@pytest.mark.parametrize("when, versions, first_reached", STAGGERED, ids=[s[0] for s in STAGGERED])
def test_a_run_started_during_another_waits_then_succeeds(box, when, versions, first_reached):
    deploy(box, 1)
    with Events(box.host) as events:
        first = box.start(STACK, stack(box, versions[0]))
        events.wait_for(first_reached, "of the first run (%s)" % when)
        assert box.host.lock() is not None, "the first run holds the lock %s" % when
        second = box.start(STACK, stack(box, versions[1]))
        results = [first.wait(), second.wait()]
        check_outcome(box, events, 1, versions, results, [(0, 1)])


def test_a_short_lock_timeout_names_the_holder_and_a_dead_holders_lock_is_broken(box):
    host = box.host
    deploy(box, 1)
    before = dict((n, host.inspect(n)["Id"]) for n in names(box))
    holder = box.start(STACK, stack(box, 2), pause=["locked"])
    pid = holder.paused_at("locked", "_run")

    for check in (False, True):
        waited = box.run(STACK, stack(box, 2, lock_timeout=1), check=check)
        assert_no_raw_error(waited)
        assert waited.get("failed") is True, waited
        msg = waited["msg"]
        who = "%s@%s" % (getpass.getuser(), socket.gethostname())
        assert who in msg and str(pid) in msg and "since" in msg, "the message names the holder: %s" % msg
        assert "lock_timeout" in msg, "the message says how to fix it: %s" % msg
    assert dict((n, host.inspect(n)["Id"]) for n in names(box)) == before, "nothing changed"

    holder.kill()
    assert host.lock() is not None, "the killed run left its lock"
    after = box.run(STACK, stack(box, 1))
    assert_no_raw_error(after)
    assert not after.get("failed"), after.get("msg")
    assert after["changed"] is False, "nothing to do: the killed run had changed nothing"
    warnings = [line for line in after["_output"].splitlines() if "WARNING" in line] + list(after.get("warnings") or [])
    assert any("lock" in w and str(pid) in w for w in warnings), "the break of pid %d's lock is reported: %s" % (pid, warnings)
    assert host.lock() is None
    assert dict((n, host.inspect(n)["Id"]) for n in names(box)) == before
