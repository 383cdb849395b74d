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
      - The Docker engine to talk to, as a URL such as C(unix:///var/run/docker.sock), C(tcp://docker1.example.com:2376)
        (with TLS, see O(validate_certs)) or C(ssh://deploy@docker1.example.com).
      - If not set, the environment variable E(DOCKER_HOST) is used, and then C(unix:///var/run/docker.sock).
      - The module runs on the managed host, so a C(unix://) socket is that host's, and the environment variables are
        those of the module's process there.
      - "C(tcp://) without TLS is refused unless the host is a loopback address or O(allow_plaintext_tcp=true): the
        Engine API has no authentication of its own, so whoever reaches a plaintext engine port is root on its host."
      - C(ssh://) URLs need the Python package C(paramiko) next to the Docker SDK, or O(use_ssh_client=true) and the
        C(ssh) client.
    type: str
    default: unix:///var/run/docker.sock
    aliases: [docker_url]
  tls:
    description:
      - Talk to a C(tcp://) engine over TLS without checking the engine's certificate (encrypted, but anyone on the
        path can pose as the engine; a warning says so). Prefer O(validate_certs).
      - Implied by O(validate_certs) and by an C(https://) O(docker_host).
    type: bool
    default: false
  validate_certs:
    description:
      - Talk to a C(tcp://) engine over TLS and check its certificate against O(ca_path) (or, without it, the system's
        CA store) and its name against O(tls_hostname), as C(docker --tlsverify) does.
      - If not set, the environment variable E(DOCKER_TLS_VERIFY) is used.
      - "With O(ca_path) set, that CA is the one used: E(REQUESTS_CA_BUNDLE) and E(CURL_CA_BUNDLE), which the Python
        library requests would otherwise prefer, do not apply to the engine."
    type: bool
    default: false
    aliases: [tls_verify]
  ca_path:
    description:
      - The CA certificate (PEM) that signed the engine's certificate, on the host the module runs on.
      - If not set and E(DOCKER_CERT_PATH) is, C(ca.pem) in that folder.
    type: path
    aliases: [ca_cert]
  client_cert:
    description:
      - The client certificate (PEM) the engine authenticates this client by (C(dockerd --tlsverify) requires one
        signed by its C(--tlscacert)). Give O(client_key) with it.
      - If not set and E(DOCKER_CERT_PATH) is, C(cert.pem) in that folder.
    type: path
  client_key:
    description:
      - The private key (PEM) of O(client_cert).
      - If not set and E(DOCKER_CERT_PATH) is, C(key.pem) in that folder.
    type: path
  tls_hostname:
    description:
      - The name the engine's certificate must carry, when it differs from the host of O(docker_host) (for example an
        engine reached by IP address whose certificate names its DNS name).
      - If not set, the environment variable E(DOCKER_TLS_HOSTNAME) is used, and then the host of O(docker_host).
    type: str
  api_version:
    description:
      - The Engine API version to speak, or V(auto) for the engine's own (the collection needs 1.41 or newer).
      - If not set, the environment variable E(DOCKER_API_VERSION) is used, and then V(auto).
    type: str
    default: auto
    aliases: [docker_api_version]
  use_ssh_client:
    description:
      - For C(ssh://) engines, use the C(ssh) client (with its configuration, agent and known hosts) instead of paramiko.
    type: bool
    default: false
  allow_plaintext_tcp:
    description:
      - "Allow a C(tcp://) engine on a non-loopback address without TLS. Only for a closed network you trust: anyone who
        can reach that port has root on the engine's host, and secrets in the requests cross the network in clear text."
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for an answer of the Docker engine to one API call.
    type: int
    default: 60
requirements:
  - "Docker SDK for Python 4.1.0 or newer on the host the module runs on (measured: 4.1.0, 5.0.3, 7.0.0, 7.1.0);
    7.1.0 or newer when requests is 2.32 or newer, 6.1.0 or newer with urllib3 2. The distributions' own packages
    match their requests and urllib3: Debian 11/12 and Ubuntu 20.04/22.04 C(apt-get install python3-docker),
    Fedora/RHEL C(dnf install python3-docker), elsewhere C(pip install docker) in a venv. The module checks the
    version and says what to install."
  - The Python package C(paramiko), only for C(ssh://) engine URLs without O(use_ssh_client).
  - A Docker engine with API version 1.41 or newer
notes:
  - The controls this collection enforces and audits are described in the collection's C(docs/policy.md).
  - "Over SSH, enable pipelining (C(pipelining = True) in the C([connection]) section of C(ansible.cfg), or
    C(ansible_pipelining: true)): a module then starts without copying files to the host first."
  - How to reach engines (socket permissions, mutual TLS, SSH) and the SDK versions measured are in the collection's
    C(docs/connection.md).
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
