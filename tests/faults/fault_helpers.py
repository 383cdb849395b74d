"""Helpers of the fault-injection suite: one simulated Docker host, runs of ansible-playbook against
it that can be paused at a named phase and killed, and a look at the engine from outside.

    FleetHost   -- the suite's own fleet host (tests/fleet/fleet.sh): docker CLI against its socket,
                   the containers of a test, `restart_engine()`.
    Run         -- one ansible-playbook process (its own session) running one module task against the
                   host; `wait()` gives the registered result, `kill()` kills its whole process tree.
    Events      -- `docker events` of the host, read as they come, to start a run at an engine step.
    kill_tree() -- SIGKILL a process and every descendant, then wait until every pid is gone.

The docker CLI, not the collection's engine layer, checks the outcome, so the code under test is
checked from outside. Phases are driven by the module's test-only pause points
(CONTAINMENT_TEST_PAUSE / CONTAINMENT_TEST_PAUSE_DIR) or by engine events, never by sleeps alone.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

from playbook_env import ANSIBLE_ENV, ANSIBLE_PLAYBOOK

TOP = Path(__file__).resolve().parent.parent.parent
FLEET = TOP / "tests" / "fleet" / "fleet.sh"
# Bounds of every wait of the suite: generous, since they only end a test that is already failing.
PAUSE_WAIT = 90
GONE_WAIT = 30
RUN_WAIT = 240
RAW_ERRORS = ("http+docker", "Client Error", "Traceback", "APIError", "requests.exceptions")
LOCK_NAME = "containment-lock"
LEFTOVER_SUFFIXES = ("__previous", "__next")


def wait_until(predicate, timeout, what, interval=0.1):
    """Poll predicate() until it returns something truthy (returned); AssertionError after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))
        time.sleep(interval)


# ------------------------------------------------------------------------------------ processes

def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return int(handle.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def descendants(root):
    """Every live descendant of pid `root` (Ansible's workers call setsid, so a process group is not the tree)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _ppid(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def gone(pid):
    """No /proc entry left, zombie included (a killed orphan is reaped ~2 s late on this machine)."""
    return not os.path.exists("/proc/%d" % pid)


def kill_tree(proc, extra_pids=()):
    """kill -9 of a Popen started with start_new_session=True, its process group and every descendant
    (frozen first, so none forks away meanwhile), then wait until every one of those pids is gone."""
    pids = set(extra_pids)
    for _round in range(5):  # freeze the tree; a fork during the walk shows up in the next round
        tree = {proc.pid} | descendants(proc.pid) | pids
        for pid in tree - pids:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        if tree == pids:
            break
        pids = tree
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=GONE_WAIT)
    wait_until(lambda: all(gone(pid) for pid in pids), GONE_WAIT, "the killed pids %s to vanish" % sorted(pids))
    return pids


# ------------------------------------------------------------------------------------ the host

class FleetHost(object):
    """The fault suite's one fleet host. `env` holds the fleet's prefix and net for fleet.sh."""

    def __init__(self, env, index=1):
        self.env = env
        self.index = index
        self.socket = "unix:///run/%s/host%d/docker.sock" % (env["CDFLEET_PREFIX"], index)

    def fleet(self, *args, timeout=300):
        proc = subprocess.run([str(FLEET), *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise AssertionError("fleet.sh %s failed (%d):\n%s%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def docker(self, *args, check=True, timeout=60):
        proc = subprocess.run(["docker", *args], env=dict(os.environ, DOCKER_HOST=self.socket), capture_output=True,
                              text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError("docker %s failed (%d): %s" % (" ".join(args), proc.returncode, proc.stderr.strip()))
        return proc

    def inspect(self, name):
        proc = self.docker("container", "inspect", name, check=False)
        return json.loads(proc.stdout)[0] if proc.returncode == 0 else None

    def names(self, prefix):
        """Names of every container (running or not) whose name starts with prefix."""
        out = self.docker("ps", "-a", "--format", "{{.Names}}", "--filter", "name=^/" + prefix).stdout.split()
        return sorted(n for n in out if n.startswith(prefix))

    def lock(self):
        return self.inspect(LOCK_NAME)

    def restart_engine(self, kill=False):
        self.fleet("restart-engine", str(self.index), *(["--kill"] if kill else []))

    def remove(self, prefix):
        ids = self.docker("ps", "-aq", "--filter", "name=^/" + prefix, check=False).stdout.split()
        if ids:
            self.docker("rm", "-f", *ids, check=False)
        nets = self.docker("network", "ls", "-q", "--filter", "name=containment_" + prefix, check=False).stdout.split()
        if nets:
            self.docker("network", "rm", *nets, check=False)


# ------------------------------------------------------------------------------------ runs

class Run(object):
    """One ansible-playbook run of one module task against the host, in a session of its own.

    pause: phases for CONTAINMENT_TEST_PAUSE; the module then writes <pause_dir>/<phase>.<service>
    (its pid) and blocks there until killed."""

    counter = 0

    def __init__(self, host, tmp, module, args, pause=None, check=False):
        Run.counter += 1
        self.host, self.module = host, module
        self.dir = Path(tmp) / ("run-%d" % Run.counter)
        self.dir.mkdir(parents=True)
        self.pause_dir = self.dir / "pause"
        self.pause_dir.mkdir()
        self.results = self.dir / "result.json"
        self.log = self.dir / "output.txt"
        args = dict(args, docker_host=host.socket)
        play = [{"hosts": "localhost", "gather_facts": False,
                 "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                 "tasks": [{"name": "the task under test", module: args, "register": "r", "ignore_errors": True},
                           {"name": "save the registered result", "ansible.builtin.copy": {
                               "content": "{{ r | to_json }}", "dest": str(self.results)},
                            "check_mode": False, "diff": False}]}]
        playbook = self.dir / "playbook.yml"
        playbook.write_text(json.dumps(play, indent=2), encoding="utf-8")  # JSON is YAML
        env = dict(os.environ, **ANSIBLE_ENV)
        if pause:
            env.update(CONTAINMENT_TEST_PAUSE=",".join(pause), CONTAINMENT_TEST_PAUSE_DIR=str(self.pause_dir))
        cmd = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook)] + (["--check"] if check else [])
        self.began = time.monotonic()
        with open(self.log, "w") as out:
            out.write(" ".join(cmd) + "\n")
            out.flush()
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def paused_at(self, phase, service, timeout=PAUSE_WAIT):
        """Wait until the module reached `phase` for `service` (bounded); returns the module's pid."""
        path = self.pause_dir / ("%s.%s" % (phase, service))

        def pid():
            if self.proc.poll() is not None:
                raise AssertionError("the run ended (%s) before it reached %s of %s:\n%s" % (
                    self.proc.returncode, phase, service, self.output()))
            text = path.read_text().strip() if path.exists() else ""
            return int(text) if text.isdigit() else None
        return wait_until(pid, timeout, "pause point %s of %s" % (phase, service))

    def kill(self, extra_pids=()):
        """kill -9 of the whole Ansible process tree, module process included; waits until all are gone."""
        pause_pids = [int(p.read_text()) for p in self.pause_dir.iterdir() if p.read_text().strip().isdigit()]
        began = time.monotonic()
        pids = kill_tree(self.proc, list(extra_pids) + pause_pids)
        with open(self.log, "a") as out:
            out.write("\n(killed %s after %.1f s; all gone %.1f s after the kill)\n" % (
                sorted(pids), began - self.began, time.monotonic() - began))
        return pids

    def wait(self, timeout=RUN_WAIT):
        """The task's registered result (it may have failed: ignore_errors), once the playbook ended."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("the run did not end within %d s:\n%s" % (timeout, self.output()))
        if self.proc.returncode != 0 or not self.results.exists():
            raise AssertionError("ansible-playbook failed (%d):\n%s" % (self.proc.returncode, self.output()))
        with open(self.log, "a") as out:
            out.write("\n(%.1f s)\n" % (time.monotonic() - self.began))
        result = json.loads(self.results.read_text(encoding="utf-8"))
        result["_output"] = self.output()
        return result

    def output(self):
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


class Events(object):
    """`docker events` of the host's containers from now on, one dict per event, read in a thread."""

    def __init__(self, host):
        self.queue = queue.Queue()
        self.seen = []
        self.proc = subprocess.Popen(["docker", "events", "--filter", "type=container", "--format", "{{json .}}"],
                                     env=dict(os.environ, DOCKER_HOST=host.socket), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.queue.put(json.loads(line))
            except ValueError:
                pass

    def wait_for(self, predicate, what, timeout=PAUSE_WAIT):
        """The first event (from the start of the stream) for which predicate(event) holds."""
        for event in self.seen:
            if predicate(event):
                return event
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("no engine event %s within %d s" % (what, timeout))
            self.seen.append(event)
            if predicate(event):
                return event

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=GONE_WAIT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def event_is(action, name=None, name_prefix=None):
    """A predicate over `docker events` JSON: this action on the container named (or prefixed) so."""
    def match(event):
        actor = (event.get("Actor") or {}).get("Attributes") or {}
        if (event.get("Action") or event.get("status")) != action:
            return False
        got = actor.get("name") or ""
        return (name is None or got == name) and (name_prefix is None or got.startswith(name_prefix))
    return match


# ------------------------------------------------------------------------------------ services

def new_prefix(tag):
    return "flt%s-%s-" % (tag, uuid.uuid4().hex[:5])


def service(name, version, uid, crash=False, images=None, **options):
    """Module options of a small busybox service at `version` (the env VERSION and, for 2, the image
    busybox:2, whose /VERSION says 2). A crashing one exits 3 after a moment. No network (these tests
    are about containers; a network per service would only slow every run down), unless options say."""
    image = images["CONTAINMENT_IMAGE_BUSYBOX_2" if version == 2 else "CONTAINMENT_IMAGE_BUSYBOX_1"]
    args = dict(name=name, image=image, user="%d:%d" % (uid, uid), memory="16m", cpus=0.25, env={"VERSION": str(version)},
                grace_period=1, stop_timeout=1, pids_limit=32, network_mode="none")
    if crash:
        args["command"] = ["sh", "-c", "echo crashing; sleep 0.3; exit 3"]
    args.update(options)
    return args


def serving_version(host, name):
    """The VERSION a running container reports from inside (env), with its image's /VERSION."""
    state = (host.inspect(name) or {}).get("State") or {}
    if not state.get("Running") or state.get("Restarting"):
        return None
    env = host.docker("exec", name, "sh", "-c", 'echo "$VERSION"').stdout.strip()
    image = host.docker("exec", name, "cat", "/VERSION").stdout.strip()
    return (env, image)


def expected_probe(version):
    return (str(version), "2" if version == 2 else "1")


def actions_of(result):
    """The engine steps of a service's result: `actions` (secure_container) or `steps` (secure_stack's services)."""
    return result.get("actions", result.get("steps")) or []


def assert_no_raw_error(result):
    text = json.dumps({k: v for k, v in result.items() if k != "_output"})
    for raw in RAW_ERRORS:
        assert raw not in text, "raw library error text %r in the result: %s" % (raw, text[:2000])
