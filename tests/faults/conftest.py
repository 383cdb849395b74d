"""Fixtures of the fault-injection suite (helpers: fault_helpers.py).

    fault_host -- session: ONE simulated Docker host of the suite's own (tests/fleet/fleet.sh up 1 with
                  the suite's fleet prefix and net), shared by every fault test, taken down at the end.
    box        -- per test: a name prefix, `run()` / `start()` of module tasks against fault_host, and
                  the removal of what the test created on it (also when the test fails).

The fleet's names are set here, not taken from the shell, so `make faults` and CI get the same fleet
and never touch another one (override with CONTAINMENT_FAULTS_FLEET_PREFIX / _NET to run two
checkouts at once).
"""

from __future__ import annotations

import os

import pytest

from fault_helpers import LOCK_NAME, FleetHost, Run, new_prefix

FLEET_PREFIX = os.environ.get("CONTAINMENT_FAULTS_FLEET_PREFIX", "cdflt")
FLEET_NET = os.environ.get("CONTAINMENT_FAULTS_FLEET_NET", "10.243")


@pytest.fixture(scope="session")
def fault_host(tmp_path_factory, test_images):
    if os.geteuid() != 0:
        pytest.fail("the fault suite needs root: it runs a simulated Docker host (tests/fleet/fleet.sh)")
    env = dict(os.environ, CDFLEET_PREFIX=FLEET_PREFIX, CDFLEET_NET=FLEET_NET,
               CDFLEET_INVENTORY=str(tmp_path_factory.mktemp("fleet") / "inventory.yml"))
    host = FleetHost(env)
    host.fleet("up", "1")
    try:
        yield host
    finally:
        host.fleet("down")


class Box(object):
    """One test's share of the fault host."""

    def __init__(self, host, tmp_path, images, tag):
        self.host, self.tmp, self.images = host, tmp_path, images
        self.prefix = new_prefix(tag)
        self.runs = []

    def name(self, suffix):
        return self.prefix + suffix

    def start(self, module, args, pause=None, check=False):
        run = Run(self.host, self.tmp, module, args, pause=pause, check=check)
        self.runs.append(run)
        return run

    def run(self, module, args, check=False):
        return self.start(module, args, check=check).wait()

    def cleanup(self):
        for run in self.runs:
            if run.proc.poll() is None:
                run.kill()
        self.host.remove(self.prefix)
        lock = self.host.lock()
        if lock is not None:  # a run of this test died holding it: the next test must not wait for it
            self.host.docker("rm", "-f", LOCK_NAME, check=False)


@pytest.fixture
def box(fault_host, tmp_path, test_images, request):
    tag = "".join(c for c in request.node.originalname if c.isalnum())[-6:]
    b = Box(fault_host, tmp_path, test_images, tag)
    yield b
    b.cleanup()
