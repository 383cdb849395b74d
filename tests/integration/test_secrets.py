"""Secrets never leave the host (issue 9), proven with unique marker values on the real engine.

One service carries a secret three ways (secret_env, an env file, a secret file); every run is at
-vvv, so Ansible prints the module arguments and whole results. Through its life (create, rerun,
rotation in check mode with diff and for real, a refusal, a rollback of a crashing new version that
prints its secrets, an engine error, the stack, the role's summary and the audit playbook's four
reports) no marker may appear in any output or report file, while rotations recreate the container
and the new value is the one inside it.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid

import pytest
import yaml
from integration_helpers import ANSIBLE_ENV, ANSIBLE_PLAYBOOK, TOP, docker, inspect

VERBOSE = 3


def marker():
    return "Sx9-unique-marker-%s" % uuid.uuid4().hex[:10]


class Secrets(object):
    """The service's secrets on this host, and every marker value it ever had."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / "secrets"
        self.dir.mkdir()
        os.chmod(str(self.dir), 0o755)
        self.env_file = self.dir / "app.env"
        self.secret_file = self.dir / "db_password"
        self.markers = []
        self.password = self.new()
        self.api_token = self.new()
        self.file_value = self.new()
        self.write_env_file()
        self.write_secret_file()

    def new(self):
        value = marker()
        self.markers.append(value)
        return value

    def write_env_file(self):
        self.env_file.write_text("# app settings\n\nAPI_TOKEN=%s\nLOG_FORMAT=json\n" % self.api_token, encoding="utf-8")

    def write_secret_file(self):
        # as ansible.builtin.copy with owner/group 1601 and mode 0400 writes it (see the README)
        self.secret_file.write_text(self.file_value + "\n", encoding="utf-8")
        os.chown(str(self.secret_file), 1601, 1601)
        os.chmod(str(self.secret_file), 0o400)


@pytest.fixture
def secrets(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("writes secret files owned by the container's uid: needs root, as the module with become")
    return Secrets(tmp_path)


def service(sandbox, secrets, **extra):
    options = dict(name=sandbox.name("app"), image="containment-test/busybox:1", user="1601:1601", memory="16m",
                   cpus=0.2, grace_period=1, stop_timeout=1, env={"LOG_LEVEL": "info"},
                   secret_env={"DB_PASSWORD": secrets.password}, env_file=[str(secrets.env_file)],
                   secrets=[{"name": "db_password", "source": str(secrets.secret_file)}])
    options.update(extra)
    return options


def inside(name, *command):
    return docker("exec", name, *command).stdout.strip()


def env_inside(name, variable):
    """The variable as the container's processes see it (the image's busybox has no printenv link)."""
    return inside(name, "sh", "-c", 'echo "$%s"' % variable)


def assert_no_marker(secrets, tmp_path):
    """No marker in the given texts nor in any file the runs of this test left in tmp_path
    (ansible-playbook output, registered results, reports); the inputs (playbooks, the vars file
    standing for a vault, the secret files) hold the values, of course."""
    inputs = [p for p in tmp_path.rglob("*") if p.name.startswith("playbook-") or p.name in ("vars.json", "site.yml")]
    found = []
    outputs = [p for p in tmp_path.rglob("*") if p.is_file() and secrets.dir not in p.parents and p not in inputs]
    assert outputs, "no output was kept"
    for path in outputs:
        content = path.read_text(encoding="utf-8", errors="replace")
        found.extend("%s in %s" % (m, path.name) for m in secrets.markers if m in content)
    assert not found, found


def playbook(tmp_path, name, args):
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-" + "v" * VERBOSE, *args], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, **ANSIBLE_ENV), check=False)
    (tmp_path / ("%s-output.txt" % name)).write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return proc.returncode, proc.stdout + proc.stderr


def test_a_secret_in_every_output_path_of_the_module(sandbox, secrets, tmp_path):
    name = sandbox.name("app")

    def run(options, **kw):
        return sandbox.run(options, verbosity=VERBOSE, **kw)

    created = run(service(sandbox, secrets), diff=True)
    assert not created.get("failed"), created.get("msg")
    assert created["action"] == "create"
    first_id = inspect(name)["Id"]
    assert env_inside(name, "DB_PASSWORD") == secrets.password
    assert env_inside(name, "API_TOKEN") == secrets.api_token
    assert inside(name, "cat", "/run/secrets/db_password") == secrets.file_value
    labels = inspect(name)["Config"]["Labels"]
    assert labels["containment.secret-env"] == "API_TOKEN,DB_PASSWORD,LOG_FORMAT"  # an env file's values are secret
    assert labels["containment.secret.db_password"].startswith("scrypt$")

    again = run(service(sandbox, secrets))
    assert again["action"] == "none" and not again["changed"], again["reasons"]

    # rotation of secret_env: the plan names the secret and hides both values; then for real
    old_password, secrets.password = secrets.password, secrets.new()
    plan = run(service(sandbox, secrets), check=True, diff=True)
    assert plan["action"] == "recreate"
    assert plan["reasons"] == ["env differs: DB_PASSWORD: (secret changed)"]
    assert plan["diff"]["before"]["env"]["DB_PASSWORD"] == "(secret)"
    assert plan["diff"]["after"]["env"]["DB_PASSWORD"] == "(secret changed)"
    assert plan["diff"]["after"]["env"]["LOG_LEVEL"] == "info"
    assert inspect(name)["Id"] == first_id
    rotated = run(service(sandbox, secrets), diff=True)
    assert rotated["action"] == "recreate" and not rotated.get("failed"), rotated.get("msg")
    assert inspect(name)["Id"] != first_id
    assert env_inside(name, "DB_PASSWORD") == secrets.password != old_password

    # the env file: unchanged leaves the container alone, changed recreates it
    secrets.write_env_file()
    assert run(service(sandbox, secrets))["action"] == "none"
    secrets.api_token = secrets.new()
    secrets.write_env_file()
    changed = run(service(sandbox, secrets))
    assert changed["action"] == "recreate" and changed["reasons"] == ["env differs: API_TOKEN: (secret changed)"]
    assert env_inside(name, "API_TOKEN") == secrets.api_token

    # the secret file: rewritten with the same content is unchanged; new content recreates
    secrets.write_secret_file()
    assert run(service(sandbox, secrets))["action"] == "none"
    secrets.file_value = secrets.new()
    secrets.write_secret_file()
    before = inspect(name)["Id"]
    changed = run(service(sandbox, secrets), check=True, diff=True)
    assert changed["reasons"] == ["secret db_password: (secret changed)"], changed["reasons"]
    assert changed["diff"]["after"]["labels"]["containment.secret.db_password"] == "(secret changed)"
    changed = run(service(sandbox, secrets))
    assert changed["action"] == "recreate" and inspect(name)["Id"] != before
    assert inside(name, "cat", "/run/secrets/db_password") == secrets.file_value

    # a refusal of the same service for another reason
    refused = run(service(sandbox, secrets, memory="1m", secret_env={"DB_PASSWORD": secrets.new()}))
    assert refused["failed"] and "refused by the containment policy" in refused["msg"]
    assert "memory_limit (floor)" in refused["msg"]

    # a new version that prints its secrets and crashes: rolled back, its log lines redacted
    good_id = inspect(name)["Id"]
    crash = run(service(sandbox, secrets, secret_env={"DB_PASSWORD": secrets.new()}, command=[
        "sh", "-c", "echo password=$DB_PASSWORD token=$API_TOKEN; cat /run/secrets/db_password; exit 3"]))
    assert crash["failed"] and "did not stay up" in crash["msg"], crash.get("msg")
    assert crash["failure"]["exit_code"] == 3
    assert "password=******** token=********" in crash["failure"]["logs"], crash["failure"]["logs"]
    assert "********" in crash["failure"]["logs"]
    assert inspect(name)["Id"] == good_id and inspect(name)["State"]["Running"]
    assert env_inside(name, "DB_PASSWORD") == secrets.password

    # an engine error with the secret in the spec: the host port is already taken
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        broken = run(service(sandbox, secrets, name=sandbox.name("busy"), ports=["127.0.0.1:%d:8080" % port],
                             secret_env={"DB_PASSWORD": secrets.new()}))
    assert broken["failed"] and sandbox.name("busy") in broken["msg"], broken
    assert "address already in use" in broken["msg"] or "port is already allocated" in broken["msg"], broken["msg"]

    assert_no_marker(secrets, tmp_path)


def test_a_secret_in_the_stack_is_masked_in_its_arguments_and_refusals(sandbox, secrets, tmp_path):
    module = "containment.docker.secure_stack"
    app = service(sandbox, secrets)
    stack = dict(services=[app], prune=False)
    done = sandbox.run(stack, module=module, diff=True, verbosity=VERBOSE)
    assert not done.get("failed"), done.get("msg")
    assert done["services"][0]["action"] == "create"
    assert env_inside(app["name"], "DB_PASSWORD") == secrets.password
    # env given as a list (and a plain env name that looks secret): refused without echoing either
    listed = dict(app, env=["DB_PASSWORD=%s" % secrets.new()])
    refused = sandbox.run(dict(services=[listed], prune=False), module=module, verbosity=VERBOSE)
    assert refused["failed"] and "env must be a dict, not the list" in refused["msg"], refused["msg"]
    plain = dict(app, secret_env={}, env={"DB_PASSWORD": secrets.new(), "LOG_LEVEL": "info"})
    plan = sandbox.run(dict(services=[plain], prune=False), module=module, check=True, diff=True, verbosity=VERBOSE)
    assert plan["services"][0]["action"] == "recreate", plan
    diff = plan["diff"]
    assert diff["before"][app["name"]]["env"]["DB_PASSWORD"] == "(secret)"
    assert diff["after"][app["name"]]["env"]["DB_PASSWORD"] == "(secret changed)"
    advice = dict((f["control"], f) for f in plan["services"][0]["findings"])["no_plain_secret_env"]
    assert advice["status"] == "warn" and "DB_PASSWORD looks like a secret" in advice["message"]
    assert_no_marker(secrets, tmp_path)


def test_the_role_summary_and_diff_name_the_secret_not_its_value(sandbox, secrets, tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"local": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}), encoding="utf-8")
    play = tmp_path / "site.yml"

    def deploy(*args):
        vars_file = tmp_path / "vars.json"  # stands for a vaulted group_vars file
        vars_file.write_text(json.dumps({"secure_services_prune": False,
                                         "secure_services_services": [service(sandbox, secrets)]}), encoding="utf-8")
        play.write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": False, "vars_files": [str(vars_file)],
                                         "roles": ["containment.docker.secure_services"]}]), encoding="utf-8")
        return playbook(tmp_path, "role-%d" % len(list(tmp_path.glob("role-*"))), ["-i", str(inventory), str(play), *args])

    rc, output = deploy()
    assert rc == 0, output
    assert "%s: created" % sandbox.name("app") in output
    secrets.password = secrets.new()
    rc, output = deploy("--check", "--diff")
    assert rc == 0, output
    assert "%s: would be recreated (env differs: DB_PASSWORD: (secret changed))" % sandbox.name("app") in output, output
    assert '"DB_PASSWORD": "(secret changed)"' in output
    rc, output = deploy()
    assert rc == 0, output
    assert "%s: recreated (env differs: DB_PASSWORD: (secret changed))" % sandbox.name("app") in output
    assert env_inside(sandbox.name("app"), "DB_PASSWORD") == secrets.password
    assert_no_marker(secrets, tmp_path)


def test_the_audit_reports_hold_no_env_value(sandbox, secrets, tmp_path):
    done = sandbox.run(service(sandbox, secrets))
    assert not done.get("failed"), done.get("msg")
    by_hand = sandbox.name("by-hand")
    docker("run", "-d", "--name", by_hand, "-e", "DB_PASSWORD=" + secrets.new(), "-e", "API_KEY=" + secrets.new(),
           "containment-test/busybox:1")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"local": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}), encoding="utf-8")
    report_dir = tmp_path / "reports"
    rc, output = playbook(tmp_path, "audit", ["-i", str(inventory), str(TOP / "playbooks" / "audit.yml"), "-e", json.dumps({
        "containment_audit_report_dir": str(report_dir), "containment_audit_names": [sandbox.prefix + "*"]})])
    assert rc != 0 and "The audit failed" in output, output  # the container made by hand fails controls
    assert sorted(p.name for p in report_dir.iterdir()) == ["report.html", "report.json", "report.junit.xml", "report.sarif"]
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    advice = dict((f["container"], f) for f in report["findings"] if f["control"] == "no_plain_secret_env")
    assert advice[by_hand]["status"] == "warn" and "API_KEY, DB_PASSWORD" in advice[by_hand]["message"]
    assert advice[sandbox.name("app")]["status"] == "pass"
    assert_no_marker(secrets, tmp_path)


def test_a_credential_in_volume_options_never_reaches_the_output(sandbox):
    """A cifs-style password in a volume's mount options, on the real engine: the volume is made with it, the kernel
    refuses the option when the container starts (tmpfs takes no password) and the engine's error repeats the mount
    data; at -vvv neither the module's arguments nor that error may show it, and the volume the run made is gone."""
    mark, volume = marker(), sandbox.name("share")
    spec = dict(name=sandbox.name("vol"), image=sandbox.images["CONTAINMENT_IMAGE_BUSYBOX_1"], user="1500:1500", memory="16m",
                cpus=0.25, grace_period=1, stop_timeout=1,
                mounts=[{"source": volume, "target": "/share",
                         "volume_options": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,username=app,password=" + mark}}])
    result = sandbox.run(spec, verbosity=VERBOSE)
    printed = (sandbox.tmp_path / ("output-%d.txt" % sandbox.runs)).read_text(encoding="utf-8")
    assert result.get("failed"), result
    assert "volume_options" in printed and "username=app" in printed, "the arguments are echoed, the rest readable"
    assert mark not in printed and mark not in json.dumps(result)
    assert docker("volume", "inspect", volume, check=False).returncode != 0, "the run's volume is removed again"
    assert inspect(spec["name"]) is None
