"""Helpers of the integration tests: drive playbooks, look at the engine from outside.

    Sandbox    -- one test's share of the engine: a unique name prefix, `run()` to drive
                  containment.docker.* modules through ansible-playbook, and `cleanup()`,
                  which removes every container, network and image tag with the prefix.
    docker()   -- the docker CLI;  inspect() -- `docker inspect` of a container, or None.
    openssl_ca(), openssl_cert() -- a CA and certificates it signs, made by openssl.

The docker CLI, not the collection's engine layer, so the code under test is checked from
outside. The collection is found as installed: tests/conftest.py exports
ANSIBLE_COLLECTIONS_PATH, which ansible-playbook inherits.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

from playbook_env import ANSIBLE_ENV, ANSIBLE_PLAYBOOK

TOP = Path(__file__).resolve().parent.parent.parent


def docker(*args, check=True, timeout=60):
    """Run the docker CLI; returns the CompletedProcess (text)."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("docker %s failed (%d): %s" % (" ".join(args), proc.returncode, proc.stderr.strip()))
    return proc


def inspect(name):
    """`docker inspect` of a container, or None when there is none."""
    proc = docker("container", "inspect", name, check=False)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def openssl_ca(directory, name):
    """A CA of its own made by openssl: (certificate, key) paths in `directory`."""
    key, cert = directory / ("%s-key.pem" % name), directory / ("%s.pem" % name)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-subj", "/CN=%s" % name, "-days", "2", "-sha256", "-out", str(cert),
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, capture_output=True)
    return cert, key


def openssl_cert(directory, name, ca, subject, extensions):
    """A certificate signed by `ca` ((certificate, key)): (certificate, key) paths in `directory`."""
    key, csr, cert, ext = (directory / ("%s-key.pem" % name), directory / ("%s.csr" % name),
                           directory / ("%s.pem" % name), directory / ("%s.ext" % name))
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-subj", subject, "-out", str(csr)], check=True, capture_output=True)
    ext.write_text(extensions, encoding="utf-8")
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
                    "-days", "2", "-sha256", "-extfile", str(ext), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sandbox(object):
    """Everything one test creates on the engine carries `self.prefix`."""

    def __init__(self, tmp_path, images):
        self.prefix = "cdt-%s-" % uuid.uuid4().hex[:6]
        self.tmp_path = tmp_path
        self.images = images
        self.tags = []
        self.runs = 0

    def name(self, suffix):
        return self.prefix + suffix

    def tag_image(self, source, suffix):
        """Point the tag <prefix><suffix>:test at image `source` (a tag or id); removed at the end."""
        tag = "%s%s:test" % (self.prefix, suffix)
        docker("tag", source, tag)
        if tag not in self.tags:
            self.tags.append(tag)
        return tag

    def run(self, tasks, check=False, diff=False, module="containment.docker.secure_container", verbosity=0, python=None,
            env=None):
        """Run one playbook with one task per dict of module options in `tasks` (or one dict).

        Each task may fail (ignore_errors); its registered result is returned, so a test asserts
        on failures as on successes. One dict in, one result out; a list in, a list out.
        The output of each run is kept in output-N.txt of the test's tmp_path. python: the interpreter
        the module runs with (default: ansible-playbook's own); env: more environment for
        ansible-playbook (hence the module); a task's "_module" key picks another module for it."""
        single = isinstance(tasks, dict)
        tasks = [tasks] if single else list(tasks)
        self.runs += 1
        out = self.tmp_path / ("results-%d.json" % self.runs)
        playbook = self.tmp_path / ("playbook-%d.yml" % self.runs)
        # a task's own module: {"_module": "containment.docker.secure_container_audit", ...options}
        steps = [{"name": "task %d" % i, args.get("_module", module): dict((k, v) for k, v in args.items() if k != "_module"),
                  "register": "r%d" % i, "ignore_errors": True} for i, args in enumerate(tasks)]
        steps.append({"name": "save the registered results", "ansible.builtin.copy": {
            "content": "{{ [%s] | to_json }}" % ", ".join("r%d" % i for i in range(len(tasks))),
            "dest": str(out)}, "check_mode": False, "diff": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}})
        play = [{"hosts": "localhost", "gather_facts": False,
                 "vars": {"ansible_python_interpreter": python or "{{ ansible_playbook_python }}"}, "tasks": steps}]
        playbook.write_text(json.dumps(play, indent=2), encoding="utf-8")  # JSON is YAML
        cmd = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook)]
        cmd += ["--check"] if check else []
        cmd += ["--diff"] if diff else []
        cmd += ["-" + "v" * verbosity] if verbosity else []
        began = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **dict(ANSIBLE_ENV, **(env or {}))),
                              timeout=300, check=False)
        (self.tmp_path / ("output-%d.txt" % self.runs)).write_text(
            "%s\n%s%s\n(%.1f s)\n" % (" ".join(cmd), proc.stdout, proc.stderr, time.monotonic() - began), encoding="utf-8")
        if proc.returncode != 0 or not out.exists():
            raise AssertionError("ansible-playbook failed (%d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
        results = json.loads(out.read_text(encoding="utf-8"))
        return results[0] if single else results

    def cleanup(self):
        ids = docker("ps", "-aq", "--filter", "name=^/" + self.prefix, check=False).stdout.split()
        if ids:
            docker("rm", "-f", *ids, check=False)
        nets = docker("network", "ls", "-q", "--filter", "name=containment_" + self.prefix, check=False).stdout.split()
        if nets:
            docker("network", "rm", *nets, check=False)
        if self.tags:
            docker("rmi", *self.tags, check=False)
