"""The host lock's stale rule (_lock.stale_reason) and its labels: pure, no engine."""

from __future__ import annotations

import os

import pytest

from ansible_collections.containment.docker.plugins.module_utils import _lock

NOW = 1_800_000_000.0
HERE = ("machine-a", "boot-1")


def labels(**overrides):
    base = {"containment.lock": "true", "containment.lock.holder": "ci@runner-7", "containment.lock.pid": "4242",
            "containment.lock.pid-start": "987654", "containment.lock.boot-id": "boot-1",
            "containment.lock.machine-id": "machine-a", "containment.lock.since": "2027-01-15T08:00:00Z",
            "containment.lock.expires": str(int(NOW + 600))}
    base.update(overrides)
    return dict((k, v) for k, v in base.items() if v is not None)


def alive(pid):
    return "987654" if pid == 4242 else ""


@pytest.mark.parametrize("overrides, here, stale", [
    ({}, HERE, None),                                                          # holder alive here
    ({"containment.lock.pid-start": "111"}, HERE, "its process 4242 is gone"),  # pid reused by another process
    ({"containment.lock.pid": "4343"}, HERE, "its process 4343 is gone"),
    ({"containment.lock.boot-id": "boot-0"}, HERE, "the machine it ran on has rebooted since"),
    ({"containment.lock.expires": str(int(NOW - 1))}, HERE, "its lease ran out at"),
    ({"containment.lock.expires": None}, ("machine-b", "boot-9"), "it names no lease"),
    ({"containment.lock.expires": "soon"}, ("machine-b", "boot-9"), "it names no lease"),
    ({}, ("machine-b", "boot-9"), None),                                        # another machine, lease running
    ({"containment.lock.pid": "4343"}, ("machine-b", "boot-9"), None),          # its pid cannot be seen from here
    ({"containment.lock.pid": "x"}, HERE, None),
])
def test_stale_reason(overrides, here, stale):
    reason = _lock.stale_reason(labels(**overrides), now=NOW, here=here, start_of=alive)
    if stale is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(stale)


def test_own_labels_are_not_stale_and_say_who():
    mine = _lock.holder_labels(lease=60)
    assert mine["containment.lock.pid"] == str(os.getpid())
    assert "@" in mine["containment.lock.holder"]
    assert _lock.stale_reason(mine) is None
    assert _lock.describe(mine).startswith(mine["containment.lock.holder"] + " (pid %d) since " % os.getpid())


def test_a_dead_local_pid_is_stale():
    mine = _lock.holder_labels(lease=60, pid=os.getpid())
    mine["containment.lock.pid"] = str(2 ** 22 + 17)  # above the default pid_max: no such process
    assert _lock.stale_reason(mine).startswith("its process")


def test_lease_covers_the_runs_own_waits():
    specs = [({"stop_timeout": 10}, {"grace_period": 3, "healthy_timeout": 60}),
             ({"stop_timeout": 5}, {"grace_period": 30, "healthy_timeout": 20})]
    assert _lock.lease_for(specs) == _lock.LEASE_MARGIN + 70 + 35
