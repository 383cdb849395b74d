"""The options of issue 10 on the real engine, table-driven: each row of OPTIONS is created with its first
value, rerun unchanged, changed to its second value (recreated, the reason names the option, the new value
read back from `docker inspect` and, where it shows, from inside the container), rerun unchanged again;
then drift by hand where `docker update` allows it, and removal with only the name.

All rows go into one service (`opts`), beside the images that decide things themselves (app:1 with ENV,
WORKDIR, EXPOSE, STOPSIGNAL and a VOLUME; web:1 with a HEALTHCHECK --start-period), a custom seccomp
profile and a client that resolves the alias of `opts`: one secure_stack run per phase keeps it fast.
"""

from __future__ import annotations

import json

import pytest

from integration_helpers import docker, free_port, inspect

STACK = "containment.docker.secure_stack"
MIB = 1024 * 1024
SUBNET, IP_FIRST, IP_SECOND = "10.246.200.0/24", "10.246.200.10", "10.246.200.11"


def host(path):
    return lambda i: i["HostConfig"].get(path)


def config(path):
    return lambda i: i["Config"].get(path)


def endpoint(net):
    def read(inspect):
        found = inspect["NetworkSettings"]["Networks"][net]
        return sorted(a for a in found["Aliases"] if a in ("opts-a", "opts-b")), found["IPAMConfig"]["IPv4Address"]
    return read


def cgroup(path):
    return ["cat", "/sys/fs/cgroup/" + path]


# (rslave and slave need a shared source mount, which this machine has none of: private and rprivate here)
# What the rows below need beside them: devices, swap and a restart policy other than always are baseline breaches.
EXCEPTIONS = {"no_devices": "reads /dev/null and /dev/zero, nothing else", "no_swap": "a test of memory_swap",
              "restart_policy": "a test of on-failure and its retries"}


# option: (first, second, read from docker inspect, (first, second) as inspect shows them,
#          command inside the container or None, (first, second) it prints (or a part of what it prints))
def binds(keep):
    return lambda i: sorted(b for b in i["HostConfig"]["Binds"] if keep(b.split(":")[1]))


MOUNTS_TARGETS = ("/spool", "/appdata")
SPOOL_OPTIONS = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1500"}
# the option a change is named by in the reasons: mounts land in Binds beside volumes and are compared as them
REASON = {"mounts": "volumes"}


def rows(net, volume, bind_dir, ports, spool, app_volume):
    return {
        "hostname": ("opts-one", "opts-two", config("Hostname"), ("opts-one", "opts-two"), ["hostname"], ("opts-one", "opts-two")),
        "domainname": ("a.example", "b.example", config("Domainname"), ("a.example", "b.example"),
                       ["cat", "/proc/sys/kernel/domainname"], ("a.example", "b.example")),
        "working_dir": ("/tmp", "/bin", config("WorkingDir"), ("/tmp", "/bin"), ["pwd"], ("/tmp", "/bin")),
        "init": (True, False, host("Init"), (True, False), ["cat", "/proc/1/comm"], ("docker-init", "sleep")),
        "stop_signal": ("SIGQUIT", "SIGUSR1", config("StopSignal"), ("SIGQUIT", "SIGUSR1"), None, None),
        "shm_size": ("32m", "48m", host("ShmSize"), (32 * MIB, 48 * MIB), ["df", "-k", "/dev/shm"], ("32768", "49152")),
        "ulimits": (["nofile:1024:2048"], ["nofile:4096:8192"], host("Ulimits"),
                    ([{"Name": "nofile", "Soft": 1024, "Hard": 2048}], [{"Name": "nofile", "Soft": 4096, "Hard": 8192}]),
                    ["sh", "-c", "grep 'open files' /proc/1/limits | tr -s ' '"], ("open files 1024 2048", "open files 4096 8192")),
        "sysctls": ({"net.ipv4.ip_unprivileged_port_start": "80"}, {"net.ipv4.ip_unprivileged_port_start": "443"}, host("Sysctls"),
                    ({"net.ipv4.ip_unprivileged_port_start": "80"}, {"net.ipv4.ip_unprivileged_port_start": "443"}),
                    ["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"], ("80", "443")),
        "etc_hosts": ({"db.internal": "10.1.2.3"}, {"db.internal": "10.1.2.4"}, host("ExtraHosts"),
                      (["db.internal:10.1.2.3"], ["db.internal:10.1.2.4"]), ["cat", "/etc/hosts"], ("10.1.2.3\tdb.internal", "10.1.2.4\tdb.internal")),
        "dns_servers": (["10.246.0.53"], ["10.246.0.54"], host("Dns"), (["10.246.0.53"], ["10.246.0.54"]), None, None),
        "dns_search_domains": (["a.internal"], ["b.internal"], host("DnsSearch"), (["a.internal"], ["b.internal"]),
                               ["cat", "/etc/resolv.conf"], ("search a.internal", "search b.internal")),
        "dns_opts": (["ndots:2"], ["ndots:3"], host("DnsOptions"), (["ndots:2"], ["ndots:3"]), ["cat", "/etc/resolv.conf"],
                     ("ndots:2", "ndots:3")),
        "groups": (["1600"], ["1601"], host("GroupAdd"), (["1600"], ["1601"]), ["id", "-G"], ("1600", "1601")),
        "memory_reservation": ("16m", "24m", host("MemoryReservation"), (16 * MIB, 24 * MIB),
                               cgroup("memory/memory.soft_limit_in_bytes"), (str(16 * MIB), str(24 * MIB))),
        "cpu_shares": (512, 256, host("CpuShares"), (512, 256), cgroup("cpu/cpu.shares"), ("512", "256")),
        "cpuset_cpus": ("0", "1", host("CpusetCpus"), ("0", "1"), cgroup("cpuset/cpuset.cpus"), ("0", "1")),
        "device_read_bps": ([{"path": "/dev/vda", "rate": "1m"}], [{"path": "/dev/vda", "rate": "2m"}], host("BlkioDeviceReadBps"),
                            ([{"Path": "/dev/vda", "Rate": MIB}], [{"Path": "/dev/vda", "Rate": 2 * MIB}]),
                            cgroup("blkio/blkio.throttle.read_bps_device"), (" %d" % MIB, " %d" % (2 * MIB))),
        "device_write_bps": ([{"path": "/dev/vda", "rate": "1m"}], [{"path": "/dev/vda", "rate": "3m"}], host("BlkioDeviceWriteBps"),
                             ([{"Path": "/dev/vda", "Rate": MIB}], [{"Path": "/dev/vda", "Rate": 3 * MIB}]),
                             cgroup("blkio/blkio.throttle.write_bps_device"), (" %d" % MIB, " %d" % (3 * MIB))),
        "device_read_iops": ([{"path": "/dev/vda", "rate": 100}], [{"path": "/dev/vda", "rate": 200}], host("BlkioDeviceReadIOps"),
                             ([{"Path": "/dev/vda", "Rate": 100}], [{"Path": "/dev/vda", "Rate": 200}]),
                             cgroup("blkio/blkio.throttle.read_iops_device"), (" 100", " 200")),
        "device_write_iops": ([{"path": "/dev/vda", "rate": 100}], [{"path": "/dev/vda", "rate": 300}], host("BlkioDeviceWriteIOps"),
                              ([{"Path": "/dev/vda", "Rate": 100}], [{"Path": "/dev/vda", "Rate": 300}]),
                              cgroup("blkio/blkio.throttle.write_iops_device"), (" 100", " 300")),
        "command": ("sleep 3600", ["sleep", "3599"], config("Cmd"), (["sleep", "3600"], ["sleep", "3599"]), None, None),
        "entrypoint": (["env"], ["/bin/env"], config("Entrypoint"), (["env"], ["/bin/env"]), None, None),
        "stop_timeout": (1, 2, config("StopTimeout"), (1, 2), None, None),
        "memory_swap": ("64m", "80m", host("MemorySwap"), (64 * MIB, 80 * MIB), None, None),
        # on-failure needs the exception for restart_policy (EXCEPTIONS); the retries count for on-failure only
        "restart_policy": ("on-failure", "always", host("RestartPolicy"),
                           ({"Name": "on-failure", "MaximumRetryCount": 2}, {"Name": "always", "MaximumRetryCount": 0}), None, None),
        "restart_retries": (2, 3, lambda i: i["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], (2, 0), None, None),
        "devices": (["/dev/null:/dev/xnull:r"], ["/dev/zero:/dev/xzero:r"],
                    lambda i: [d["PathInContainer"] for d in i["HostConfig"]["Devices"]], (["/dev/xnull"], ["/dev/xzero"]),
                    ["ls", "/dev"], ("xnull", "xzero")),
        "log_driver": ("json-file", "local", lambda i: i["HostConfig"]["LogConfig"]["Type"], ("json-file", "local"), None, None),
        "log_options": ({"max-size": "5m", "max-file": "2"}, {"max-size": "7m", "max-file": "4"}, host("LogConfig"),
                        ({"Type": "json-file", "Config": {"max-size": "5m", "max-file": "2"}},
                         {"Type": "local", "Config": {"max-size": "7m", "max-file": "4"}}), None, None),
        "ports": (["127.0.0.1:%d-%d:8000-8001/TCP" % ports[0]], ["127.0.0.1:%d-%d:8000-8001" % ports[1]],
                  lambda i: sorted((k, v[0]["HostPort"]) for k, v in i["HostConfig"]["PortBindings"].items()),
                  ([("8000/tcp", str(ports[0][0])), ("8001/tcp", str(ports[0][1]))],
                   [("8000/tcp", str(ports[1][0])), ("8001/tcp", str(ports[1][1]))]), None, None),
        "volumes": ([volume + ":/data:nocopy", bind_dir + ":/config:ro,private", "/etc/hostname:/run/host-hostname"],
                    [volume + ":/data:ro,nocopy", bind_dir + ":/config:ro,rprivate", "/etc/hostname:/run/host-hostname"],
                    binds(lambda target: target not in MOUNTS_TARGETS),
                    (sorted([volume + ":/data:rw,nocopy", bind_dir + ":/config:ro,private", "/etc/hostname:/run/host-hostname:ro"]),
                     sorted([volume + ":/data:ro,nocopy", bind_dir + ":/config:ro,rprivate", "/etc/hostname:/run/host-hostname:ro"])),
                    ["cat", "/proc/self/mountinfo"], (" /data rw,", " /data ro,")),
        # a volume the module makes with its driver options, and one made by hand that binds a folder (judged as that bind)
        "mounts": ([{"type": "volume", "source": spool, "target": "/spool", "volume_driver": "local", "volume_options": SPOOL_OPTIONS},
                    {"source": app_volume, "target": "/appdata", "read_only": True}],
                   [{"type": "volume", "source": spool, "target": "/spool", "volume_driver": "local", "volume_options": SPOOL_OPTIONS,
                     "read_only": True}, {"source": app_volume, "target": "/appdata", "read_only": True}],
                   binds(lambda target: target in MOUNTS_TARGETS),
                   ([app_volume + ":/appdata:ro", spool + ":/spool:rw"], [app_volume + ":/appdata:ro", spool + ":/spool:ro"]),
                   ["cat", "/proc/self/mounts"], ("tmpfs /spool tmpfs rw,", "tmpfs /spool tmpfs ro,")),
        "healthcheck": ({"test": "true", "interval": "1s500ms", "start_period": "1s"}, {"test": "true", "interval": "2s", "start_period": "1m30s"},
                        lambda i: (i["Config"]["Healthcheck"]["Interval"], i["Config"]["Healthcheck"].get("StartPeriod")),
                        ((1500 * 10 ** 6, 10 ** 9), (2 * 10 ** 9, 90 * 10 ** 9)), None, None),
        "networks": ([{"name": net, "aliases": ["opts-a"], "ipv4_address": IP_FIRST}], [{"name": net, "aliases": ["opts-b"], "ipv4_address": IP_SECOND}],
                     endpoint(net), ((["opts-a"], IP_FIRST), (["opts-b"], IP_SECOND)), None, None),
    }


SECCOMP_FIRST = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
SECCOMP_SECOND = {"defaultAction": "SCMP_ACT_ALLOW",
                  "syscalls": [{"names": ["mkdir", "mkdirat", "rmdir", "unlink", "unlinkat"], "action": "SCMP_ACT_ERRNO"}]}


@pytest.fixture
def world(sandbox, tmp_path):
    """A network with a subnet (for static addresses), a named volume, a folder to bind and a seccomp profile;
    removed at the end with the sandbox's containers (and the volumes they held)."""
    net, volume = sandbox.name("net"), sandbox.name("vol")
    docker("network", "create", "--subnet", SUBNET, net)
    bind_dir = tmp_path / "config"
    bind_dir.mkdir()
    (bind_dir / "app.conf").write_text("greeting=hello\n")
    bind_dir.chmod(0o755)
    profile = tmp_path / "seccomp.json"
    profile.write_text(json.dumps(SECCOMP_FIRST))
    profile.chmod(0o644)
    # a local volume that binds a folder of the host (made by hand), one that binds /etc
    app_volume, etc_volume = sandbox.name("appdata"), sandbox.name("etc")
    (tmp_path / "appdata").mkdir()
    (tmp_path / "appdata" / "seen").write_text("from the host\n")
    for name, device in ((app_volume, tmp_path / "appdata"), (etc_volume, "/etc")):
        docker("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device=%s" % device, name)
    state = dict(net=net, volume=volume, bind_dir=str(bind_dir), profile=str(profile), anonymous=[], spool=sandbox.name("spool"),
                 app_volume=app_volume, etc_volume=etc_volume)
    yield state
    sandbox.cleanup()
    docker("network", "rm", net, check=False)
    docker("volume", "rm", volume, state["spool"], app_volume, etc_volume, *state["anonymous"], check=False)


def services(sandbox, world, table, which, app_env):
    index = 0 if which == "first" else 1
    img = sandbox.images
    opts = dict(name=sandbox.name("opts"), image=img["CONTAINMENT_IMAGE_BUSYBOX_1"], user="1500:1500", memory="64m", cpus=0.5,
                grace_period=1, exceptions=EXCEPTIONS)
    opts.update(dict((option, row[index]) for option, row in table.items()))
    return [
        opts,
        # the image decides env, workdir, exposed port, stop signal and holds a VOLUME
        dict(name=sandbox.name("app"), image=img["CONTAINMENT_IMAGE_APP"], user="1501:1501", memory="32m", cpus=0.25,
             env={"RUN": app_env}, grace_period=1, stop_timeout=1),
        # a service healthcheck over the image's HEALTHCHECK --start-period=5s: Docker fills the zero start period
        dict(name=sandbox.name("web"), image=img["CONTAINMENT_IMAGE_WEB"], user="1502:1502", memory="32m", cpus=0.25,
             healthcheck={"test": "wget -q -O /dev/null http://127.0.0.1:8080/", "interval": "1s"}, grace_period=1, stop_timeout=1),
        dict(name=sandbox.name("sec"), image=img["CONTAINMENT_IMAGE_BUSYBOX_1"], command="sleep 3600", user="1503:1503",
             memory="32m", cpus=0.25, security_opts=["seccomp=" + world["profile"]], grace_period=1, stop_timeout=1),
        dict(name=sandbox.name("client"), image=img["CONTAINMENT_IMAGE_BUSYBOX_1"], command="sleep 3600", user="1504:1504",
             memory="32m", cpus=0.25, networks=[world["net"]], grace_period=1, stop_timeout=1),
    ]


def stack(sandbox, services_):
    result = sandbox.run({"services": services_, "prune": False}, module=STACK)
    assert not result.get("failed"), result.get("msg")
    return dict((s["name"], s) for s in result["services"])


def actions(results):
    return dict((name, s["action"]) for name, s in results.items())


def anonymous_volume(name):
    return next(m["Name"] for m in inspect(name)["Mounts"] if m["Destination"] == "/data")


def volume_inspect(name):
    proc = docker("volume", "inspect", name, check=False)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def volume_exists(name):
    return docker("volume", "inspect", name, check=False).returncode == 0


def test_every_option_converges_reruns_unchanged_changes_and_drifts_back(sandbox, world):
    ports = [(p, p + 1) for p in (free_port(), free_port())]  # two consecutive host ports; the engine refuses a taken one
    table = rows(world["net"], world["volume"], world["bind_dir"], ports, world["spool"], world["app_volume"])
    opts, app, web, sec, client = (sandbox.name(s) for s in ("opts", "app", "web", "sec", "client"))

    # 1. create, with every first value
    first = stack(sandbox, services(sandbox, world, table, "first", "1"))
    assert set(actions(first).values()) == {"create"}, first
    world["anonymous"].append(anonymous_volume(app))
    live = inspect(opts)
    for option, (_a, _b, read, expected, command, inside) in table.items():
        assert read(live) == expected[0], option
        if command:
            assert inside[0] in docker("exec", opts, *command).stdout, option
    assert "opts-a" in docker("exec", client, "nslookup", "opts-a").stdout  # the alias resolves from another container
    assert inspect(web)["Config"]["Healthcheck"]["StartPeriod"] == 5 * 10 ** 9  # from the image's HEALTHCHECK
    made = docker("exec", sec, "mkdir", "/tmp/blocked", check=False)
    assert made.returncode != 0 and "Operation not permitted" in made.stderr  # the profile's content, sent as JSON
    assert docker("exec", sec, "touch", "/tmp/allowed").returncode == 0
    app_config = inspect(app)["Config"]
    assert (app_config["WorkingDir"], app_config["StopSignal"], "9000/tcp" in app_config["ExposedPorts"]) == ("/srv/app", "SIGQUIT", True)
    assert "GREETING=hello" in app_config["Env"]

    made = volume_inspect(world["spool"])  # made by the module with its driver options
    assert (made["Driver"], made["Options"], made["Labels"]) == ("local", SPOOL_OPTIONS, {"containment.managed": "true"})
    assert "created volume %s" % world["spool"] in first[opts]["steps"]
    assert docker("exec", opts, "cat", "/appdata/seen").stdout == "from the host\n"

    # 2. the same again: nothing to do, for every option and every image-decided field
    again = stack(sandbox, services(sandbox, world, table, "first", "1"))
    assert set(actions(again).values()) == {"none"}, dict((n, s["reasons"]) for n, s in again.items() if s["action"] != "none")

    # refused before anything changes: the made volume with other options (named, without the values), and a
    # volume line naming the volume that binds /etc (judged as that bind)
    base = dict(image=sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_1"], user="1505:1505", memory="32m", cpus=0.25)
    refused = sandbox.run({"services": [
        dict(base, name=sandbox.name("other"),
             mounts=[{"source": world["spool"], "target": "/spool", "volume_options": dict(SPOOL_OPTIONS, o="size=2m")}]),
        dict(base, name=sandbox.name("etc"), user="1506:1506", volumes=[world["etc_volume"] + ":/host-etc:ro"])]}, module=STACK)
    assert refused["failed"], refused
    assert "volume %s exists with driver local and other options" % world["spool"] in refused["msg"], refused["msg"]
    assert "options that differ: o" in refused["msg"] and "size=" not in refused["msg"]
    assert "volume %s (a bind of /etc) of sensitive host path /etc" % world["etc_volume"] in refused["msg"], refused["msg"]
    assert inspect(sandbox.name("other")) is None and inspect(sandbox.name("etc")) is None
    assert volume_inspect(world["spool"])["Options"] == SPOOL_OPTIONS

    # 3. every second value (and a new seccomp profile in the same file): recreated, each option named
    with open(world["profile"], "w") as handle:
        json.dump(SECCOMP_SECOND, handle)
    second = stack(sandbox, services(sandbox, world, table, "second", "2"))
    assert actions(second) == {opts: "recreate", app: "recreate", web: "none", sec: "recreate", client: "none"}, second
    reasons = " ".join(second[opts]["reasons"])
    for option in table:
        assert "%s differs" % REASON.get(option, option) in reasons, (option, second[opts]["reasons"])
    assert "security_opts differs" in " ".join(second[sec]["reasons"])
    world["anonymous"].append(anonymous_volume(app))
    live = inspect(opts)
    for option, (_a, _b, read, expected, command, inside) in table.items():
        assert read(live) == expected[1], option
        if command:
            assert inside[1] in docker("exec", opts, *command).stdout, option
    resolved = docker("exec", client, "nslookup", "opts-b")
    assert IP_SECOND in resolved.stdout, resolved.stdout
    assert docker("exec", client, "nslookup", "opts-a", check=False).returncode != 0
    assert docker("exec", sec, "touch", "/tmp/f").returncode == 0
    assert docker("exec", sec, "rm", "/tmp/f", check=False).returncode != 0  # unlinkat is blocked by the new profile

    # 4. and again: nothing to do with the second values either
    again = stack(sandbox, services(sandbox, world, table, "second", "2"))
    assert set(actions(again).values()) == {"none"}, dict((n, s["reasons"]) for n, s in again.items() if s["action"] != "none")

    # 5. drift by hand where docker update allows it: seen and undone
    docker("update", "--cpu-shares", "300", "--memory-reservation", "20m", "--cpuset-cpus", "0", opts)
    docker("update", "--cpu-shares", "100", app)
    docker("network", "disconnect", world["net"], client)
    drifted = stack(sandbox, services(sandbox, world, table, "second", "2"))
    assert actions(drifted) == {opts: "recreate", app: "recreate", web: "none", sec: "none", client: "recreate"}, drifted
    reasons = " ".join(drifted[opts]["reasons"])
    for option in ("cpu_shares", "memory_reservation", "cpuset_cpus"):
        assert "%s differs" % option in reasons, drifted[opts]["reasons"]
    assert "cpu_shares differs" in " ".join(drifted[app]["reasons"]) and "networks differs" in " ".join(drifted[client]["reasons"])
    assert inspect(opts)["HostConfig"]["CpuShares"] == 256
    world["anonymous"].append(anonymous_volume(app))

    # 6. a third recreate of the image with a VOLUME; every other service removed, giving only its name
    removing = [dict(name=name, state="absent") for name in (opts, web, sec, client)]
    app_service = services(sandbox, world, table, "second", "3")[1]
    last = stack(sandbox, [app_service] + removing)
    assert actions(last) == {app: "recreate", opts: "remove", web: "remove", sec: "remove", client: "remove"}, last
    world["anonymous"].append(anonymous_volume(app))
    assert [volume_exists(v) for v in world["anonymous"]] == [False, False, False, True]  # no anonymous volume left behind
    assert volume_exists(world["volume"])  # the named volume survives its container
    assert all(inspect(name) is None for name in (opts, web, sec, client))
    stack(sandbox, [dict(name=app, state="absent")])
    assert not volume_exists(world["anonymous"][-1])


def test_a_setting_the_engine_discards_fails_the_create_and_leaves_nothing(sandbox):
    """No blkio weight on this kernel (no CFQ/BFQ on cgroup v1): the engine would run the container without it."""
    name = sandbox.name("weight")
    result = sandbox.run(dict(name=name, image=sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_1"], command="sleep 3600",
                              user="1500:1500", memory="32m", cpus=0.25, blkio_weight=300, grace_period=1))
    if not result.get("failed"):  # a kernel with a block IO weight: then it converges and reruns unchanged
        assert inspect(name)["HostConfig"]["BlkioWeight"] == 300
        return
    assert "discarded" in result["msg"].lower() and inspect(name) is None and inspect(name + "__next") is None
