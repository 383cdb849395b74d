"""containment.docker.secure_container against the real Docker engine, through ansible-playbook.

Each test drives real playbooks (the `sandbox` fixture: conftest.py, integration_helpers.py) and
checks the outcome with the docker CLI, independently of the code under test. Names carry a
random per-test prefix; the fixture removes the test's containers, networks and image tags,
also when the test fails.
"""

from __future__ import annotations

import re
import time
import urllib.request

from ansible_collections.containment.docker.plugins.module_utils._policy import CONTROLS

from integration_helpers import docker, free_port, inspect

MIB = 1024 * 1024


def service(sandbox, suffix="app", **options):
    """Module options of a small busybox service; `options` override or add."""
    args = dict(name=sandbox.name(suffix), image=sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_1"],
                user="1500:1500", memory="32m", cpus=0.5, grace_period=1, stop_timeout=1)
    args.update(options)
    return args


def assert_ok(result):
    assert not result.get("failed"), result.get("msg")


def image_id(ref):
    return docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


def exec_in(name, *command, check=True):
    return docker("exec", name, *command, check=check)


def read_first(name, paths):
    """Content of the first of `paths` that exists inside the container (cgroup v1 or v2 layout)."""
    for path in paths:
        proc = exec_in(name, "cat", path, check=False)
        if proc.returncode == 0:
            return proc.stdout.strip()
    raise AssertionError("none of %s exists in %s" % (paths, name))


def fetch(port, attempts=150):
    """The page the web container serves on 127.0.0.1:port (waits up to ~15 s for it to come up)."""
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=2) as response:
                return response.read().decode("utf-8")
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)


def test_create_rerun_and_change_memory(sandbox):
    spec = service(sandbox)

    created = sandbox.run(spec)
    assert_ok(created)
    assert created["changed"] is True
    assert created["action"] == "create"
    live = inspect(spec["name"])
    assert live["State"]["Running"] is True
    assert created["container"]["id"] == live["Id"]
    assert created["container"]["status"] == "running"
    statuses = dict((f["control"], f["status"]) for f in created["findings"])
    assert set(c.id for c in CONTROLS) <= set(statuses), "every control of the policy table is reported"
    assert set(statuses.values()) <= {"pass", "warn"}, statuses
    host = live["HostConfig"]
    assert (live["Config"]["User"], host["Memory"], host["MemorySwap"]) == ("1500:1500", 32 * MIB, 32 * MIB)
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"] and host["PidsLimit"] == 256
    assert live["Config"]["Labels"]["containment.managed"] == "true"

    again = sandbox.run(spec)
    assert_ok(again)
    assert again["changed"] is False, again["reasons"]
    assert again["action"] == "none"
    assert inspect(spec["name"])["Id"] == live["Id"]

    bigger = sandbox.run(dict(spec, memory="64m"))
    assert_ok(bigger)
    assert bigger["changed"] is True
    assert bigger["action"] == "recreate"
    assert any("memory" in reason for reason in bigger["reasons"]), bigger["reasons"]
    new = inspect(spec["name"])
    assert new["Id"] != live["Id"] and new["Id"] == bigger["container"]["id"]
    assert new["State"]["Running"] is True
    assert (new["HostConfig"]["Memory"], new["HostConfig"]["MemorySwap"]) == (64 * MIB, 64 * MIB)
    assert inspect(live["Id"]) is None, "the old container is removed"


def test_drift_by_docker_update_is_detected_and_undone(sandbox):
    spec = service(sandbox)
    assert_ok(sandbox.run(spec))
    before = inspect(spec["name"])
    docker("update", "--memory", "64m", "--memory-swap", "128m", spec["name"])
    assert inspect(spec["name"])["HostConfig"]["Memory"] == 64 * MIB

    result = sandbox.run(spec)
    assert_ok(result)
    assert result["changed"] is True and result["action"] == "recreate"
    assert any(reason.startswith("memory") for reason in result["reasons"]), result["reasons"]
    after = inspect(spec["name"])
    assert after["Id"] != before["Id"] and after["State"]["Running"] is True
    assert (after["HostConfig"]["Memory"], after["HostConfig"]["MemorySwap"]) == (32 * MIB, 32 * MIB)


def test_out_of_band_container_is_detected_and_replaced(sandbox):
    spec = service(sandbox)
    assert_ok(sandbox.run(spec))
    docker("rm", "-f", spec["name"])
    docker("run", "-d", "--name", spec["name"], "--user", "0:0", "--cap-add", "NET_ADMIN", spec["image"])
    rogue = inspect(spec["name"])

    result = sandbox.run(spec)
    assert_ok(result)
    assert result["changed"] is True and result["action"] == "recreate"
    reasons = " | ".join(result["reasons"])
    assert "not created by containment.docker" in reasons
    assert "cap_add" in reasons and "user" in reasons, reasons
    after = inspect(spec["name"])
    assert after["Id"] != rogue["Id"] and inspect(rogue["Id"]) is None
    assert after["State"]["Running"] is True
    assert after["Config"]["User"] == "1500:1500"
    assert not after["HostConfig"]["CapAdd"] and after["HostConfig"]["CapDrop"] == ["ALL"]
    assert after["Config"]["Labels"]["containment.managed"] == "true"


def test_tag_moved_to_a_rebuilt_image_recreates(sandbox):
    images = sandbox.images
    tag = sandbox.tag_image(images["CONTAINMENT_IMAGE_BUSYBOX_1"], "rebuilt")
    spec = service(sandbox, image=tag)
    assert_ok(sandbox.run(spec))
    first = inspect(spec["name"])
    assert first["Image"] == image_id(images["CONTAINMENT_IMAGE_BUSYBOX_1"])

    sandbox.tag_image(images["CONTAINMENT_IMAGE_BUSYBOX_2"], "rebuilt")
    result = sandbox.run(spec)
    assert_ok(result)
    assert result["changed"] is True and result["action"] == "recreate"
    # the reason names the image by its tag and short ids, as a reviewer reads it
    assert "image %s is another image: live %s, wanted %s" % (tag, first["Image"][7:19], image_id(
        images["CONTAINMENT_IMAGE_BUSYBOX_2"])[7:19]) in result["reasons"], result["reasons"]
    second = inspect(spec["name"])
    assert second["Id"] != first["Id"] and second["State"]["Running"] is True
    assert second["Image"] == image_id(images["CONTAINMENT_IMAGE_BUSYBOX_2"]) == result["container"]["image_id"]
    assert exec_in(spec["name"], "cat", "/VERSION").stdout.strip() == "2"


# (options that break the floor, the field and the control the refusal must name)
REFUSED = [
    (dict(user="0:0"), "user", "non_root_user"),
    (dict(user="root"), "user", "non_root_user"),
    (dict(security_opts=["no-new-privileges:false"]), "security_opts", "no_new_privileges"),
    (dict(volumes=["/var/run/docker.sock:/var/run/docker.sock"]), "volumes", "no_docker_socket"),
    (dict(cpus=4096), "cpus", "cpu_limit"),
]


def test_refused_spec_leaves_the_running_container_alone(sandbox):
    spec = service(sandbox)
    assert_ok(sandbox.run(spec))
    before = inspect(spec["name"])

    results = sandbox.run([dict(spec, **options) for options, _field, _control in REFUSED])
    for (options, field, control), refused in zip(REFUSED, results):
        assert refused["failed"] is True, options
        msg = refused["msg"]
        for part in ("service %r" % spec["name"], "field %r" % field, control, "Fix:"):
            assert part in msg, "%s: %r not in %r" % (options, part, msg)
        problem = next(p for p in refused["problems"] if p["rule"].startswith(control))
        assert problem["service"] == spec["name"] and problem["field"] == field and problem["fix"], options

    after = inspect(spec["name"])
    assert after["Id"] == before["Id"]
    assert after["State"]["Running"] is True
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"], "not even restarted"


def test_new_version_that_exits_is_rolled_back_and_old_keeps_serving(sandbox):
    port = free_port()
    spec = service(sandbox, "web", image=sandbox.images["CONTAINMENT_IMAGE_WEB"], ports=["127.0.0.1:%d:8080" % port])
    assert_ok(sandbox.run(spec))
    before = inspect(spec["name"])
    assert "It works." in fetch(port)

    result = sandbox.run(dict(spec, command=["sh", "-c", "echo dying; exit 3"]))
    assert result["failed"] is True
    assert result["failure"]["exit_code"] == 3
    assert "dying" in result["failure"]["logs"]
    assert "exit code 3" in result["msg"] and "dying" in result["msg"]
    assert "rolled back" in result["msg"]

    after = inspect(spec["name"])
    assert after["Id"] == before["Id"] and after["State"]["Running"] is True
    assert after["Config"]["Cmd"] == before["Config"]["Cmd"]
    assert "It works." in fetch(port)
    names = docker("ps", "-a", "--format", "{{.Names}}", "--filter", "name=^/" + sandbox.prefix).stdout.split()
    assert names == [spec["name"]], "the failed container and no __previous are left behind"


def test_check_mode_changes_nothing_and_shows_the_diff(sandbox):
    spec = service(sandbox)
    assert_ok(sandbox.run(spec))
    before = inspect(spec["name"])
    marker = "Mk7-diff-marker"
    planned_only = service(sandbox, "never", env={"GREETING": "hi", "DB_PASSWORD": marker + "1"}, secret_env={"TOKEN": marker + "2"},
                           healthcheck={"test": "wget -q -O /dev/null http://127.0.0.1:8080/", "interval": "30s"},
                           tmpfs=[{"path": "/tmp", "size": "64m"}], labels={"team": "web"})

    change, create = sandbox.run([dict(spec, memory="64m", image=sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_2"]), planned_only],
                                 check=True, diff=True)
    printed = (sandbox.tmp_path / ("output-%d.txt" % sandbox.runs)).read_text(encoding="utf-8")
    assert_ok(change)
    assert change["changed"] is True and change["action"] == "recreate"
    was, now = change["diff"]["before"], change["diff"]["after"]
    assert was["memory"] == "32m" and now["memory"] == "64m"
    assert was["memory_swap"] == "32m" and now["memory_swap"] == "64m"
    assert (was["image"], now["image"]) == (spec["image"], sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_2"])
    assert "cpus" not in now and "labels" not in now, "only the fields that differ, the spec-hash label not among them"
    busybox_2 = image_id(sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_2"])
    assert "image %s is another image: live %s, wanted %s" % (
        sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_2"], image_id(spec["image"])[7:19], busybox_2[7:19]) in change["reasons"]
    assert_ok(create)
    assert create["changed"] is True and create["action"] == "create"
    # a new service as the inventory writes it: its image, env (secrets masked), labels, healthcheck, tmpfs
    created = create["diff"]["after"]
    assert create["diff"]["before"] == {} and created["memory"] == "32m" and created["image"] == planned_only["image"]
    assert created["env"] == {"GREETING": "hi", "DB_PASSWORD": "(secret)", "TOKEN": "(secret)"}
    assert created["labels"] == {"team": "web"}
    assert created["healthcheck"] == {"test": planned_only["healthcheck"]["test"], "interval": "30s", "timeout": "30s",
                                      "retries": 3, "start_period": "0s"}
    assert created["tmpfs"] == [{"path": "/tmp", "size": "64m", "mode": "1777"}]
    assert "image_id" not in created and "network_mode" not in created
    for text in ("sha256:", "spec-hash", marker, "67108864", "30000000000"):  # ids, the hash label, secrets, internal units
        assert text not in printed, text
    assert '"image": "%s"' % planned_only["image"] in printed and '"memory": "64m"' in printed, printed

    after = inspect(spec["name"])
    assert after["Id"] == before["Id"] and after["HostConfig"]["Memory"] == 32 * MIB
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]
    assert inspect(planned_only["name"]) is None
    assert docker("network", "inspect", "containment_" + planned_only["name"], check=False).returncode != 0


def test_state_stopped_then_absent(sandbox):
    spec = service(sandbox)
    assert_ok(sandbox.run(spec))
    network = "containment_" + spec["name"]
    assert spec["name"] in docker("network", "inspect", "--format", "{{json .Containers}}", network).stdout
    started = inspect(spec["name"])

    stopped, stopped_again = sandbox.run([dict(spec, state="stopped")] * 2)
    assert_ok(stopped)
    assert stopped["changed"] is True and stopped["action"] == "stop"
    assert stopped_again["changed"] is False, stopped_again["reasons"]
    live = inspect(spec["name"])
    assert live["Id"] == started["Id"] and live["State"]["Running"] is False

    absent, absent_again = sandbox.run([dict(spec, state="absent")] * 2)
    assert_ok(absent)
    assert absent["changed"] is True and absent["action"] == "remove"
    assert absent_again["changed"] is False
    assert inspect(spec["name"]) is None
    assert docker("network", "inspect", network, check=False).returncode != 0, "its own network is removed"


def test_floor_seen_from_inside_the_container(sandbox):
    spec = service(sandbox, user="1500:1501", memory="48m", pids_limit=64)
    assert_ok(sandbox.run(spec))
    name = spec["name"]

    ident = exec_in(name, "id").stdout
    assert re.search(r"\buid=1500\b", ident) and re.search(r"\bgid=1501\b", ident), ident
    for status_file in ("/proc/self/status", "/proc/1/status"):
        status = dict(line.split(":", 1) for line in exec_in(name, "cat", status_file).stdout.splitlines() if ":" in line)
        assert status["NoNewPrivs"].strip() == "1", status_file
        for caps in ("CapEff", "CapPrm", "CapBnd", "CapInh"):
            assert int(status[caps], 16) == 0, (status_file, caps, status[caps])

    write_root = exec_in(name, "sh", "-c", "echo x > /probe", check=False)
    assert write_root.returncode != 0 and "Read-only file system" in write_root.stderr
    mounts = [line.split() for line in exec_in(name, "cat", "/proc/mounts").stdout.splitlines()]
    tmp_options = next(m[3].split(",") for m in mounts if m[1] == "/tmp")
    assert {"rw", "nosuid", "nodev", "noexec"} <= set(tmp_options), tmp_options
    assert exec_in(name, "sh", "-c", "echo ok > /tmp/probe && cat /tmp/probe").stdout.strip() == "ok"
    docker("restart", "-t", "1", name)
    assert exec_in(name, "sh", "-c", "echo again > /tmp/probe && cat /tmp/probe").stdout.strip() == "again"

    memory = read_first(name, ["/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"])
    assert int(memory) == 48 * MIB
    pids = read_first(name, ["/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"])
    assert int(pids) == 64


def test_healthcheck_passing_becomes_healthy_failing_is_rolled_back(sandbox):
    healthy = dict(test="test -w /tmp", interval="1s", timeout="2s", retries=1)
    spec = service(sandbox, healthcheck=healthy, healthy_timeout=20)
    result = sandbox.run(spec)
    assert_ok(result)
    assert result["container"]["health"] == "healthy"
    before = inspect(spec["name"])
    assert before["State"]["Health"]["Status"] == "healthy"
    assert next(f for f in result["findings"] if f["control"] == "healthcheck")["status"] == "pass"

    failing = sandbox.run(dict(spec, healthcheck=dict(healthy, test="echo probe failed; exit 1")))
    assert failing["failed"] is True
    assert failing["failure"]["health"] == "unhealthy"
    assert "probe failed" in failing["failure"]["health_log"]
    assert "unhealthy" in failing["msg"] and "probe failed" in failing["msg"] and "rolled back" in failing["msg"]
    after = inspect(spec["name"])
    assert after["Id"] == before["Id"] and after["State"]["Running"] is True
    assert after["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "test -w /tmp"]


def test_rerun_with_a_healthcheck_is_unchanged(sandbox):
    spec = service(sandbox, healthcheck=dict(test="test -w /tmp", interval="1s", timeout="2s", retries=1),
                   healthy_timeout=20)
    created, again = sandbox.run([spec, spec])
    assert_ok(created)
    assert_ok(again)
    assert again["changed"] is False, again["reasons"]


def test_rerun_with_network_mode_none_is_unchanged(sandbox):
    spec = service(sandbox, network_mode="none")
    created, again = sandbox.run([spec, spec])
    assert_ok(created)
    assert_ok(again)
    assert again["changed"] is False, again["reasons"]
