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
