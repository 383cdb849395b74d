"""The cost model of a run with nothing to do, counted (never timed): secure_stack reports the Engine
API calls it made, and a rerun on a host with N unchanged services of one image makes N + 6 of them
(engine info, the host lock's image check, take and release, one listing, one image resolution, and
one inspect per service). Counting calls, not seconds, keeps this a pass/fail test on any machine."""

from __future__ import annotations

MODULE = "containment.docker.secure_stack"


def services(sandbox, count):
    return [dict(name=sandbox.name("s%d" % i), image=sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_1"],
                 user="17%02d:17%02d" % (i, i), memory="16m", cpus=0.1, command=["sh", "-c", "sleep 3600"],
                 grace_period=0.5, stop_timeout=1) for i in range(count)]


def expected(count):
    return {"info": 1, "inspect_image": 2, "create_container_from_config": 1, "containers": 1,
            "inspect_container": count, "remove_container": 1, "total": count + 6}


def test_a_rerun_with_nothing_to_change_costs_one_inspect_per_service(sandbox):
    small, large = services(sandbox, 2), services(sandbox, 5)
    first = sandbox.run({"services": large, "prune": False}, module=MODULE)
    assert not first.get("failed"), first.get("msg")
    assert first["summary"]["create"] == 5

    runs = sandbox.run([{"services": small, "prune": False}, {"services": large, "prune": False}], module=MODULE)
    for count, result in zip((2, 5), runs):
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] is False and result["summary"]["none"] == count
        assert result["engine_calls"] == expected(count), result["engine_calls"]

    # check mode takes no lock; it only looks whether one is held (one more inspect)
    plan = sandbox.run({"services": large, "prune": False}, module=MODULE, check=True)
    assert plan["changed"] is False
    assert plan["engine_calls"] == {"info": 1, "containers": 1, "inspect_container": 6, "inspect_image": 1, "total": 9}
