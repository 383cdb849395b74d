"""Bad input never changes the engine: every malformed spec of tests/malformed_specs.py, as the third
service of a stack whose two good services are deployed and running, is refused naming the bad service
and the field, and afterwards the engine is exactly as before: the same container ids, StartedAt and
status for the prefix's containers, the same networks, no volume or network a case names.

The cases run as one task each (each may fail) in a few playbooks run side by side, and the engine is
looked at once before and once after: if nothing changed after every case ran, nothing changed for
any of them.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from integration_helpers import Sandbox, docker
from malformed_specs import cases, named_networks, named_volumes

STACK = "containment.docker.secure_stack"
CONTAINER = "containment.docker.secure_container"

# secure_container with a handful of the cases, applied to a running good service (a refusal that came
# too late would replace it). Ansible's own argument check runs first there; the last cases fail it (an
# unknown key, a wrong type), and the collection's refusal answers instead, with every problem at once.
CONTAINER_CASES = [
    ("cpus nan", dict(cpus="nan"), "cpus"),
    ("memory of 10**30", dict(memory=str(10 ** 30)), "memory"),
    ("a command with an unclosed quote", dict(command='sh -c "sleep 60'), "command"),
    ("healthcheck retries -1", dict(healthcheck={"test": "true", "retries": -1}), "healthcheck"),
    ("healthcheck interval 500us", dict(healthcheck={"test": "true", "interval": "500us"}), "healthcheck"),
    ("security_opts bogus", dict(security_opts=["bogus"]), "security_opts"),
    ("network_mode bogus", dict(network_mode="bogus"), "network_mode"),
    ("pid_mode bogus", dict(pid_mode="bogus"), "pid_mode"),
    ("grace_period nan", dict(grace_period="nan"), "grace_period"),
    ("a user in Arabic-Indic digits", dict(user="\u0661\u0665\u0660\u0661:\u0661\u0665\u0660\u0661"), "user"),
    ("a typo in an option name", dict(memroy="32m"), "memroy"),
    ("a floor control given as an option", dict(read_only_rootfs=True), "read_only_rootfs"),
    ("a typo, a wrong type and a policy breach at once", dict(pids_limt=64, stop_timeout=[1], user="0:0"), "pids_limt"),
]
# What the refusal of each of those names besides its field: (case, texts that must all be in the message).
CONTAINER_MESSAGES = [
    ("a typo in an option name", ["field 'memroy': unknown option: there is no option 'memroy'. Fix: did you mean 'memory'?"]),
    ("a floor control given as an option", ["read_only_rootfs is a floor control of the policy, not an option"]),
    ("a typo, a wrong type and a policy breach at once", [
        "field 'pids_limt': unknown option", "did you mean 'pids_limit'?", "field 'stop_timeout': format",
        "field 'user': non_root_user (floor)"]),
]


def service(box, suffix, uid, **options):
    spec = dict(name=box.name(suffix), image=box.images["CONTAINMENT_IMAGE_BUSYBOX_1"], user="%d:%d" % (uid, uid),
                memory="16m", cpus=0.1, grace_period=0.5, stop_timeout=1)
    spec.update(options)
    return spec


def run_side_by_side(box, batches):
    """[(module, tasks)] -> [results], one ansible-playbook per batch at the same time (same prefix)."""
    boxes = []
    for index, _batch in enumerate(batches):
        part = Sandbox(box.tmp_path / ("part-%d" % index), box.images)
        part.tmp_path.mkdir(exist_ok=True)
        part.prefix = box.prefix
        boxes.append(part)
    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        runs = [pool.submit(part.run, tasks, module=module) for part, (module, tasks) in zip(boxes, batches)]
        return [run.result() for run in runs]


def engine_state(box):
    """What a refused run must leave alone: the prefix's containers, its networks and volumes, and the
    names outside the prefix that a case uses (a container x, a volume v)."""
    ids = docker("ps", "-aq", "--filter", "name=^/" + box.prefix).stdout.split()
    containers = {}
    for item in json.loads(docker("inspect", *ids).stdout) if ids else []:
        containers[item["Name"]] = (item["Id"], item["State"]["StartedAt"], item["State"]["Status"])
    networks = sorted(docker("network", "ls", "--filter", "name=" + box.prefix, "--format", "{{.Name}}").stdout.split())
    volumes = sorted(docker("volume", "ls", "-q", "--filter", "name=" + box.prefix).stdout.split())
    outside = dict(x=docker("container", "inspect", "x", check=False).returncode == 0,
                   v=docker("volume", "inspect", "v", check=False).returncode == 0)
    return dict(containers=containers, networks=networks, volumes=volumes, outside=outside)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, engine):
    """Two good services deployed and running, for every test of the module."""
    box = Sandbox(tmp_path_factory.mktemp("malformed"), engine)
    good = [service(box, "good1", 1601), service(box, "good2", 1602)]
    try:
        deployed = box.run(dict(services=good, prune=False), module=STACK)
        assert not deployed.get("failed"), deployed.get("msg")
        yield box, good
    finally:
        box.cleanup()
        names = named_volumes(box.name)
        docker("volume", "rm", *names, check=False)
        docker("network", "rm", *named_networks(box.name), check=False)


def assert_refused(result, name, field):
    assert result.get("failed"), "accepted: %r" % result.get("services", result)
    msg = result["msg"]
    assert msg.startswith("refused by the containment policy, nothing was changed"), msg
    assert "Traceback" not in msg and "Client Error" not in msg, msg
    assert "service %r: field %r: " % (name, field) in msg, msg
    assert any(p["service"] == name and p["field"] == field for p in result["problems"]), result["problems"]


def test_malformed_specs_are_refused_and_change_nothing(stack, monkeypatch):
    box, good = stack
    monkeypatch.setenv("ANSIBLE_PIPELINING", "1")  # one process per task instead of several: a third faster
    table = cases(box.name)
    assert len(table) >= 50
    before = engine_state(box)
    assert sorted(before["containers"]) == ["/" + s["name"] for s in good]
    assert all(status == "running" for _id, _started, status in before["containers"].values())
    assert before["networks"] == sorted("containment_" + s["name"] for s in good)

    bad = [service(box, "bad", 1603, **options) for _id, options, _field in table]
    container_bad = [dict(good[0], **options) for _id, options, _field in CONTAINER_CASES]
    stack_tasks = [dict(services=good + [spec], prune=False) for spec in bad]
    half = len(stack_tasks) // 2
    first, second, container_results = run_side_by_side(box, [
        (STACK, stack_tasks[:half]), (STACK, stack_tasks[half:]), (CONTAINER, container_bad)])
    stack_results = first + second

    assert engine_state(box) == before
    for (case, _options, field), spec, result in zip(table, bad, stack_results):
        try:
            assert_refused(result, spec["name"], field)
        except AssertionError as exc:
            raise AssertionError("secure_stack, case %r: %s" % (case, exc))
    for (case, _options, field), spec, result in zip(CONTAINER_CASES, container_bad, container_results):
        try:
            assert_refused(result, spec["name"], field)
        except AssertionError as exc:
            raise AssertionError("secure_container, case %r: %s" % (case, exc))
    messages = dict((case, result["msg"]) for (case, _options, _field), result in zip(CONTAINER_CASES, container_results))
    for case, texts in CONTAINER_MESSAGES:
        assert all(text in messages[case] for text in texts), (case, messages[case])


def test_the_good_stack_still_converges_to_nothing(stack):
    """The refusals left the services as deployed: the same stack is a no-op."""
    box, good = stack
    again = box.run(dict(services=good, prune=False), module=STACK)
    assert not again.get("failed") and not again["changed"], again
