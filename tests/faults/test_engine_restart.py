"""Reboot survival: after the host's engine restarts (a graceful stop of dockerd, then a kill -9 of it),
every service that was running runs again without an Ansible run, whether it exits 0 or non-zero on
SIGTERM.

The services are deployed by the module with the default restart policy (docs/policy.md: `always`,
the one policy that survives both kinds of restart on Docker 20.10). After the engine answers again,
the test polls the engine (bounded) until both run again: a new StartedAt, Running, not Restarting.
"""

from __future__ import annotations

from fault_helpers import wait_until

STACK = "containment.docker.secure_stack"
RESTART_WAIT = 60


def test_services_run_again_after_the_engine_restarts_or_is_killed(box):
    host = box.host
    base = dict(image=box.images["CONTAINMENT_IMAGE_BUSYBOX_1"], memory="16m", cpus=0.25, grace_period=1, stop_timeout=1)
    zero = dict(base, name=box.name("zero"), user="1801:1801")  # the image's command: trap 'exit 0' TERM
    nonzero = dict(base, name=box.name("nonzero"), user="1802:1802",
                   command=["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 1; done"])
    result = box.run(STACK, {"services": [zero, nonzero], "prune": False})
    assert not result.get("failed"), result.get("msg")
    for svc in (zero, nonzero):
        inspect = host.inspect(svc["name"])
        assert inspect["HostConfig"]["RestartPolicy"]["Name"] == "always", "the default restart policy"
        assert inspect["State"]["Running"]

    for how, kill in (("a graceful stop of dockerd", False), ("kill -9 of dockerd", True)):
        before = dict((svc["name"], host.inspect(svc["name"])["State"]["StartedAt"]) for svc in (zero, nonzero))
        host.restart_engine(kill=kill)

        def both_running_again():
            states = dict((name, (host.inspect(name) or {}).get("State") or {}) for name in before)
            return all(s.get("Running") and not s.get("Restarting") and s.get("StartedAt") != before[n]
                       for n, s in states.items())
        wait_until(both_running_again, RESTART_WAIT, "both services to run again after %s" % how)
        for name in before:
            assert host.docker("exec", name, "true", check=False).returncode == 0, "%s answers from inside after %s" % (name, how)

    # the engine restarts are not a change to undo: the next run has nothing to do
    rerun = box.run(STACK, {"services": [zero, nonzero], "prune": False})
    assert not rerun.get("failed"), rerun.get("msg")
    assert rerun["changed"] is False, [(s["name"], s["action"], s["reasons"]) for s in rerun["services"]]
