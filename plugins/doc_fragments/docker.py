# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    # Connection options shared by every module of the collection.
    DOCUMENTATION = r'''
options:
  docker_host:
    description:
      - The Docker engine to talk to, as a URL such as C(unix:///var/run/docker.sock) or C(tcp://127.0.0.1:2375).
      - If not set, the environment variable E(DOCKER_HOST) is used, and then C(unix:///var/run/docker.sock).
    type: str
    aliases: [docker_url]
  timeout:
    description:
      - Seconds to wait for an answer of the Docker engine to one API call.
    type: int
    default: 60
requirements:
  - Docker SDK for Python (pip package C(docker)) 7.0 or newer
  - A Docker engine with API version 1.41 or newer
notes:
  - The controls this collection enforces and audits are described in the collection's C(docs/policy.md).
'''

    # Options of the modules that change an engine: secure_container and secure_stack.
    CONVERGE = r'''
options:
  lock_timeout:
    description:
      - "Runs against one engine take turns: a run holds the engine's host lock from its first change to
        its last, so two pipelines, or a deploy and a manual run, never replace the same containers at once."
      - The lock is the container C(containment-lock) on the engine itself (created, never started, from the
        empty image C(containment-lock:1) the collection imports on first use), so controllers need not share
        a filesystem. Its labels name the holder (user@host and pid) and since when it holds the lock.
      - Seconds to wait for another run's lock. Then the task fails, naming that run, and nothing is changed.
      - "A lock whose holder died is taken over and the takeover is reported as a warning: on the machine the
        holder ran on, when its process is gone or the machine rebooted; from another machine, when its lease
        ran out (15 minutes plus the stop timeouts and watches of the run that took it)."
      - Check mode takes no lock, but waits while another run holds one, so a plan never reads a half-done replace.
    type: int
    default: 300
'''
