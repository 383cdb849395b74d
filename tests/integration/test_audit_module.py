"""containment.docker.secure_container_audit against the real Docker engine, through ansible-playbook.

Containers are made in every bad shape this engine accepts, directly with the docker CLI (the
way a fleet gets them: by hand, by other tools), on top of a hardened set of flags so each shape
breaks exactly the controls it is about; good ones are deployed by the collection's own module.
The audit must then report the exact status of every control of every container.

Everything carries a random prefix and a label `cdt-audit=<prefix>`, which is also the audit's
filter: other engineers' containers on the shared engine never enter these results.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.containment.docker.plugins.module_utils._policy import AUDIT_CONTROLS as CONTROLS  # the audit adds the kernel checks

from integration_helpers import Sandbox, docker, free_port

AUDIT = "containment.docker.secure_container_audit"
EXCEPTION_REASON = "NET_BIND_SERVICE so the legacy client can keep using port 80"
HARDENED_TMPFS = "/tmp:rw,nosuid,nodev,noexec,size=16m,mode=1777"


def hardened(uid):
    """docker CLI flags that satisfy every control; a shape overrides some of them."""
    return {
        "--user": ["%d:%d" % (uid, uid)],
        "--security-opt": ["no-new-privileges"],
        "--memory": ["32m"],
        "--memory-swap": ["32m"],
        "--cpus": ["0.5"],
        "--pids-limit": ["64"],
        "--read-only": [None],
        "--tmpfs": [HARDENED_TMPFS],
        "--cap-drop": ["ALL"],
        "--health-cmd": ["true"],
        "--health-interval": ["60s"],
        "--log-opt": ["max-size=10m", "max-file=3"],
    }


# suffix: (how it is made, flags replaced (None drops the flag), flags added, expected non-pass statuses)
# Statuses not listed must be 'pass'. 'run' starts the container, 'create' only creates it.
SHAPES = {
    "user-root": ("run", {"--user": ["root"]}, [], {"non_root_user": "fail"}),
    "user-0-0": ("run", {"--user": ["0:0"]}, [], {"non_root_user": "fail"}),
    "user-root-root": ("run", {"--user": ["root:root"]}, [], {"non_root_user": "fail"}),
    "user-from-image": ("run", {"--user": None}, [], {"non_root_user": "fail"}),
    "group-add-root": ("run", {}, ["--group-add", "0"], {"non_root_user": "fail"}),
    "group-add-name": ("create", {}, ["--group-add", "daemon"], {"non_root_user": "fail"}),
    "group-add-numeric": ("run", {}, ["--group-add", "1660"], {}),
    "log-unbounded": ("run", {"--log-opt": None}, [], {"log_bounded": "fail"}),
    "log-max-size-only": ("run", {"--log-opt": ["max-size=10m"]}, [], {"log_bounded": "fail"}),
    "log-none": ("run", {"--log-opt": None}, ["--log-driver", "none"], {}),
    "sysctl-namespaced": ("run", {}, ["--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "--sysctl", "kernel.shmmax=65536"], {}),
    # (a host-wide sysctl such as vm.swappiness: the docker CLI refuses to create it; the unit rows cover its failure)
    "ulimits": ("run", {}, ["--ulimit", "nofile=1024:2048", "--ulimit", "memlock=65536"], {}),
    "etc-file-ro": ("run", {}, ["-v", "/etc/hostname:/run/hostname:ro"], {}),
    "etc-shadow-ro": ("create", {}, ["-v", "/etc/shadow:/run/shadow:ro"], {"no_sensitive_mounts": "fail"}),
    "no-limits": ("run", {"--memory": None, "--memory-swap": None, "--cpus": None, "--pids-limit": None}, [],
                  {"memory_limit": "fail", "cpu_limit": "fail", "no_swap": "fail", "pids_limit": "fail"}),
    "swap-default": ("run", {"--memory-swap": None}, [], {"no_swap": "fail"}),
    "writable-root": ("run", {"--read-only": None}, [], {"read_only_rootfs": "fail"}),
    "cap-sys-admin": ("run", {}, ["--cap-add", "SYS_ADMIN"], {"cap_drop_all": "fail"}),
    "cap-bind-no-drop": ("run", {"--cap-drop": None}, ["--cap-add", "net_bind_service"], {"cap_drop_all": "fail"}),
    "cap-bind-no-reason": ("run", {}, ["--cap-add", "CAP_NET_BIND_SERVICE"], {"cap_drop_all": "fail"}),
    "seccomp-unconfined": ("run", {}, ["--security-opt", "seccomp=unconfined"], {"security_profiles": "fail"}),
    "nnp-false": ("run", {"--security-opt": ["no-new-privileges:false"]}, [], {"no_new_privileges": "fail"}),
    "nnp-true-then-false": ("run", {}, ["--security-opt", "no-new-privileges:false"], {"no_new_privileges": "fail"}),
    "port-any-v4": ("run", {}, ["-p", "0.0.0.0:{port}:8080"], {"ports_bound": "fail"}),
    "port-any-v6": ("run", {}, ["-p", "[::]:{port}:8080"], {"ports_bound": "fail"}),
    "port-no-ip": ("run", {}, ["-p", "{port}:8080"], {"ports_bound": "fail"}),
    "port-low": ("create", {}, ["-p", "127.0.0.1:80:8080"], {"ports_bound": "warn"}),
    "docker-sock-ro": ("run", {}, ["-v", "/var/run/docker.sock:/var/run/docker.sock:ro"], {"no_docker_socket": "fail"}),
    "var-run-rw": ("run", {}, ["-v", "/var/run:/host-run"], {"no_docker_socket": "fail", "no_sensitive_mounts": "fail"}),
    "etc-ro": ("run", {}, ["-v", "/etc:/host-etc:ro"], {"no_sensitive_mounts": "fail"}),
    "tmpfs-bare": ("run", {"--tmpfs": ["/tmp"]}, [], {"tmpfs_hardened": "fail"}),
    "tmpfs-exec": ("run", {"--tmpfs": ["/tmp:rw,nosuid,nodev,size=16m,mode=1777"]}, [], {"tmpfs_hardened": "fail"}),
    "pids-unlimited": ("run", {"--pids-limit": ["-1"]}, [], {"pids_limit": "fail"}),
    "host-network": ("run", {}, ["--network", "host"], {"no_host_namespaces": "fail"}),
    # Docker itself adds 'label=disable' to a container that shares the host's pid or ipc namespace.
    "host-pid": ("run", {}, ["--pid", "host"], {"no_host_namespaces": "fail", "security_profiles": "fail"}),
    "host-ipc": ("run", {}, ["--ipc", "host"], {"no_host_namespaces": "fail", "security_profiles": "fail"}),
    "host-uts": ("run", {}, ["--uts", "host"], {"no_host_namespaces": "fail"}),
    "host-userns": ("create", {}, ["--userns", "host"], {"no_host_namespaces": "fail"}),
    "device": ("run", {}, ["--device", "/dev/null:/dev/xnull"], {"no_devices": "fail"}),
    # only `always` (or `no`) brings every running service back after an engine restart or kill (docs/policy.md)
    "restart-always": ("run", {}, ["--restart", "always"], {}),
    "restart-unless-stopped": ("run", {}, ["--restart", "unless-stopped"], {"restart_policy": "fail"}),
    "restart-on-failure": ("run", {}, ["--restart", "on-failure:5"], {"restart_policy": "fail"}),
    "no-healthcheck": ("run", {"--health-cmd": None, "--health-interval": None}, [], {"healthcheck": "warn"}),
    # Privileged containers cannot start on this machine; the created one is audited all the same.
    # Docker adds 'label=disable' to privileged containers too.
    "privileged": ("create", {}, ["--privileged"], {"not_privileged": "fail", "security_profiles": "fail"}),
    "plain-docker-run": ("run", None, [], {
        "non_root_user": "fail", "no_new_privileges": "fail", "memory_limit": "fail", "cpu_limit": "fail",
        "read_only_rootfs": "fail", "cap_drop_all": "fail", "pids_limit": "fail", "no_swap": "fail",
        "log_bounded": "fail", "healthcheck": "warn"}),
    # a local volume with o=bind and device=/etc (made by the fixture): a bind of /etc, read from the engine's volume
    "volume-binds-etc": ("run", {}, ["-v", "{etc_volume}:/host-etc:ro"], {"no_sensitive_mounts": "fail"}),
    "shared-uid-a": ("run", {"--user": ["1650:1650"]}, [], {"unique_uid": "fail"}),
    "shared-uid-b": ("create", {"--user": ["1650:1650"]}, [], {"unique_uid": "fail"}),
}

# Deployed by containment.docker.secure_container: suffix -> (extra module options, expected non-pass)
GOOD = {
    "good-web": ({"ports": ["127.0.0.1:{port}:8080"]}, {}),
    "good-edge": ({"cap_add": ["NET_BIND_SERVICE"], "exceptions": {"cap_drop_all": EXCEPTION_REASON}},
                  {"cap_drop_all": "excepted"}),
    "good-drifted": ({}, {"pids_limit": "fail"}),  # `docker update --pids-limit -1` behind the module's back
}


def docker_flags(uid, replaced):
    if replaced is None:  # no hardening at all: what a bare `docker run IMAGE` gives
        return []
    flags = hardened(uid)
    flags.update(replaced)
    out = []
    for flag, values in flags.items():
        for value in values or []:
            out += [flag] if value is None else [flag, value]
    return out


def expected_statuses(non_pass):
    statuses = dict((c.id, "pass") for c in CONTROLS)
    statuses.update(non_pass)
    return statuses


@pytest.fixture(scope="module")
def fleet_on_engine(engine, tmp_path_factory):
    """Every shape once per test module (tests only read), removed at the end also on failure."""
    box = Sandbox(tmp_path_factory.mktemp("audit"), engine)
    label = "cdt-audit=" + box.prefix
    image = engine["CONTAINMENT_IMAGE_BUSYBOX_1"]
    etc_volume = box.name("etc")
    try:
        docker("volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=/etc", etc_volume)
        commands = []
        for uid, (suffix, (how, replaced, added, _expected)) in enumerate(sorted(SHAPES.items()), start=1600):
            args = [how, "--name", box.name(suffix), "--label", label]
            args += [] if how == "create" else ["-d"]
            commands.append(args + docker_flags(uid, replaced) + [a.format(port=free_port(), etc_volume=etc_volume) for a in added] + [image])
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda args: docker(*args), commands))
        tasks = []
        for uid, (suffix, (options, _expected)) in enumerate(sorted(GOOD.items()), start=1700):
            task = dict(name=box.name(suffix), image=image, user="%d:%d" % (uid, uid), memory="32m", cpus=0.5,
                        labels={"cdt-audit": box.prefix}, healthcheck={"test": "true", "interval": "1s"},
                        grace_period=0.5, stop_timeout=1)
            task.update(options)
            task["ports"] = [p.format(port=free_port()) for p in task.get("ports", [])]
            tasks.append(task)
        for result in box.run(tasks):
            assert not result.get("failed"), result.get("msg")
        docker("update", "--pids-limit", "-1", box.name("good-drifted"))
        yield box
    finally:
        box.cleanup()
        docker("volume", "rm", etc_volume, check=False)


@pytest.fixture(scope="module")
def audit(fleet_on_engine):
    result = fleet_on_engine.run({"labels": ["cdt-audit=" + fleet_on_engine.prefix]}, module=AUDIT)
    assert not result.get("failed"), result.get("msg")
    return result


def findings_of(result, name):
    return dict((f["control"], f) for f in result["findings"] if f["container"] == name)


@pytest.mark.parametrize("suffix", sorted(SHAPES))
def test_bad_shape_made_by_hand(audit, fleet_on_engine, suffix):
    findings = findings_of(audit, fleet_on_engine.name(suffix))
    got = dict((control, f["status"]) for control, f in findings.items())
    assert got == expected_statuses(SHAPES[suffix][3]), [findings[c]["message"] for c in got if got[c] != "pass"]


@pytest.mark.parametrize("suffix", sorted(GOOD))
def test_container_deployed_by_the_collection(audit, fleet_on_engine, suffix):
    findings = findings_of(audit, fleet_on_engine.name(suffix))
    got = dict((control, f["status"]) for control, f in findings.items())
    assert got == expected_statuses(GOOD[suffix][1]), [findings[c]["message"] for c in got if got[c] != "pass"]


def test_a_volume_that_binds_a_host_path_is_audited_as_that_bind(audit, fleet_on_engine):
    found = findings_of(audit, fleet_on_engine.name("volume-binds-etc"))["no_sensitive_mounts"]
    volume = fleet_on_engine.name("etc")
    assert "volume %s (a bind of /etc) of sensitive host path /etc" % volume in found["message"]
    assert found["evidence"] == {"Mounts": ["%s=/etc:/host-etc:ro" % volume]}


def test_exception_shows_excepted_with_its_reason(audit, fleet_on_engine):
    cap = findings_of(audit, fleet_on_engine.name("good-edge"))["cap_drop_all"]
    assert cap["status"] == "excepted"
    assert cap["reason"] == EXCEPTION_REASON
    assert cap["evidence"] == {"HostConfig.CapDrop": ["ALL"], "HostConfig.CapAdd": ["NET_BIND_SERVICE"]}


def test_findings_carry_container_evidence_and_references(audit, fleet_on_engine):
    name = fleet_on_engine.name("port-any-v6")
    container_id = docker("inspect", "--format", "{{.Id}}", name).stdout.strip()
    ports = findings_of(audit, name)["ports_bound"]
    assert ports["container_id"] == container_id
    assert ports["image"] == fleet_on_engine.images["CONTAINMENT_IMAGE_BUSYBOX_1"]
    assert ports["cis"] == "5.8, 5.14" and ports["pss"] == "host ports"
    assert len(ports["evidence"]["HostConfig.PortBindings"]) == 1
    assert ports["evidence"]["HostConfig.PortBindings"][0].startswith("::")
    user = findings_of(audit, fleet_on_engine.name("user-root-root"))["non_root_user"]
    assert user["evidence"]["Config.User"] == "root:root" and user["cis"] == "4.1"
    swap = findings_of(audit, fleet_on_engine.name("swap-default"))["no_swap"]
    assert swap["evidence"] == {"HostConfig.Memory": 32 * 1024 * 1024, "HostConfig.MemorySwap": 64 * 1024 * 1024}


def test_every_container_running_or_not_is_audited_once(audit, fleet_on_engine):
    names = sorted(c["name"] for c in audit["containers"])
    assert names == sorted(fleet_on_engine.name(s) for s in list(SHAPES) + list(GOOD))
    states = dict((c["name"], c["state"]) for c in audit["containers"])
    assert states[fleet_on_engine.name("privileged")] == "created"
    assert states[fleet_on_engine.name("good-web")] == "running"
    assert len(audit["findings"]) == len(names) * len(CONTROLS)
    assert audit["changed"] is False


def test_summary(audit, fleet_on_engine):
    summary = audit["summary"]
    expected = dict((s, expected_statuses(v[-1])) for s, v in list(SHAPES.items()) + list(GOOD.items()))
    failing = sorted(fleet_on_engine.name(s) for s, statuses in expected.items() if "fail" in statuses.values())
    assert sorted(summary["failing_containers"]) == failing
    assert summary["containers"] == len(expected)
    for status in ("pass", "fail", "excepted", "warn"):
        assert summary["by_status"][status] == sum(list(e.values()).count(status) for e in expected.values())
    assert summary["by_control"]["not_privileged"] == {"pass": len(expected) - 1, "fail": 1, "excepted": 0, "warn": 0}
    assert audit["engine"]["host_cpus"] >= 1 and audit["policy_version"]
    managed = sorted(c["name"] for c in audit["containers"] if c["managed"])
    assert managed == sorted(fleet_on_engine.name(s) for s in GOOD)


def test_filters_check_mode_and_an_engine_that_cannot_be_reached(audit, fleet_on_engine, tmp_path):
    """One playbook in check mode: the name and managed_only filters, and a socket that does not exist."""
    label = "cdt-audit=" + fleet_on_engine.prefix
    by_name, managed, unreachable = fleet_on_engine.run([
        {"names": [fleet_on_engine.prefix + "user-*", fleet_on_engine.name("privileged")]},
        {"labels": [label], "managed_only": True},
        {"docker_host": "unix://%s/missing.sock" % tmp_path},
    ], module=AUDIT, check=True)
    assert sorted(c["name"] for c in by_name["containers"]) == sorted(
        fleet_on_engine.name(s) for s in SHAPES if s.startswith("user-") or s == "privileged")
    assert sorted(c["name"] for c in managed["containers"]) == sorted(fleet_on_engine.name(s) for s in GOOD)
    # check mode is the same read-only run: the same findings as the audit without it
    assert managed["changed"] is False and by_name["changed"] is False
    assert managed["findings"] == [f for f in audit["findings"] if f["container"] in
                                   set(fleet_on_engine.name(s) for s in GOOD)]
    assert unreachable["failed"]
    assert "missing.sock" in unreachable["msg"] and "Fix:" in unreachable["msg"]
