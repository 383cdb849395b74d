"""Engine errors mid-run are per service: a host port taken by a container the collection does not manage
makes the engine refuse to start one service's new container. The other services of the stack still
converge, the refused one is rolled back to its last good container (or, new, leaves nothing behind,
not even its network), and the message names the service and the step and shows no raw library text.
"""

from __future__ import annotations

from fault_helpers import RAW_ERRORS, assert_no_raw_error, expected_probe, serving_version, service

STACK = "containment.docker.secure_stack"
TAKEN, FREE = 18082, 18081  # inside the fleet host's own network namespace


def test_a_port_taken_by_an_unmanaged_container_fails_only_its_service(box):
    host = box.host
    a, b, c, d = (box.name(s) for s in ("a", "b", "c", "d"))

    def v(version, name, uid, **options):
        return service(name, version, uid, images=box.images, **options)
    web = dict(network_mode=None)  # b and d publish ports: they get their own networks
    v1 = [v(1, a, 1861), v(1, b, 1862, ports=["127.0.0.1:%d:8080" % FREE], **web), v(1, c, 1863)]
    first = box.run(STACK, {"services": v1, "prune": False})
    assert not first.get("failed"), first.get("msg")
    old_b = host.inspect(b)["Id"]

    squatter = box.name("squat")
    host.docker("run", "-d", "--name", squatter, "--user", "1869:1869", "-p", "127.0.0.1:%d:8080" % TAKEN,
                box.images["CONTAINMENT_IMAGE_BUSYBOX_1"])
    v2 = [v(2, a, 1861), v(2, b, 1862, ports=["127.0.0.1:%d:8080" % TAKEN], **web), v(2, c, 1863),
          v(2, d, 1864, ports=["127.0.0.1:%d:8080" % TAKEN], **web)]
    result = box.run(STACK, {"services": v2, "prune": False})
    assert_no_raw_error(result)
    assert result.get("failed") is True
    services = dict((s["name"], s) for s in result["services"])

    for name in (a, c):
        assert not services[name].get("failed"), services[name].get("msg")
        assert serving_version(host, name) == expected_probe(2)
    for name in (b, d):
        msg = services[name].get("msg") or ""
        assert services[name].get("failed") is True, services[name]
        assert msg.startswith(name + ":"), "the message names the service first: %s" % msg
        assert "start" in msg, "the message names the step: %s" % msg
        assert "allocated" in msg or "in use" in msg, "the message says what the engine said: %s" % msg
        assert not any(raw in msg for raw in RAW_ERRORS), msg
    assert "rolled back" in services[b]["msg"]
    assert host.inspect(b)["Id"] == old_b and serving_version(host, b) == expected_probe(1), "b's last good container serves"
    assert host.names(box.prefix) == sorted([a, b, c, squatter]), "one container per service, no leftovers, no d"
    nets = host.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "containment_" + d not in nets, "the network the run made for d, which never ran, is removed"
    assert host.inspect(squatter)["State"]["Running"], "the unmanaged container is not touched"
