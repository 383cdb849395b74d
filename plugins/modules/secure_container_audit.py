#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: secure_container_audit
short_description: Audit the containers of a Docker engine against the containment policy
version_added: 0.1.0
description:
  - Inspects every container of the engine, running or stopped, or those that match O(names),
    O(labels) and O(managed_only), and evaluates every control of the containment policy over its
    C(docker inspect) data.
  - "It runs the very control functions that M(containment.docker.secure_container) enforces with,
    so enforcement and audit cannot disagree. Containers started by hand or by other tools are
    audited the same way as managed ones."
  - "Each control is reported as V(pass), V(fail), V(excepted) (a baseline control relaxed by a
    C(containment.exception.<control>) label with a written reason, which is returned) or V(warn)
    (advisory controls, and host ports below 1024), with the evidence: the inspect fields and their values."
  - "Read-only: it never changes anything, so C(changed) is always false. A failing control does
    not fail the task; gate on RV(summary.failing_containers) or use the C(playbooks/audit.yml)
    playbook, which writes JSON, JUnit XML, SARIF 2.1.0 and HTML reports and fails when a control fails."
author:
  - containment.docker maintainers (@containment)
extends_documentation_fragment:
  - containment.docker.docker
attributes:
  check_mode:
    description: The module only reads; check mode runs the same audit.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  idempotent:
    description: It never changes anything.
    support: full
options:
  names:
    description:
      - Audit only the containers whose name matches one of these shell-style patterns, such as C(web) or C(web-*).
      - All containers when empty.
    type: list
    elements: str
    default: []
  labels:
    description:
      - Audit only the containers that carry all of these labels, each given as C(KEY) or C(KEY=VALUE).
    type: list
    elements: str
    default: []
  managed_only:
    description: Audit only the containers managed by this collection (label C(containment.managed=true)).
    type: bool
    default: false
  audit_daemon:
    description:
      - Also audit the Docker daemon itself against the daemon controls (CIS Docker Benchmark section 2), returned in RV(daemon).
      - "Containers are then also judged with what the daemon decides for them: its default C(no-new-privileges),
        and AppArmor when the engine host has it (CIS 5.2: an empty or C(unconfined) C(AppArmorProfile) fails
        C(security_profiles))."
    type: bool
    default: true
  daemon_config:
    description:
      - The daemon's configuration file on the engine host, read only when it exists and a C(dockerd) process on the
        host the module runs on serves the audited engine with it (same C(--config-file) and data root). Its
        command line is read then too, as it overrides the file.
      - "Some settings (C(userland-proxy), C(log-opts), C(no-new-privileges), C(hosts)) are not in C(docker info):
        when the module does not run on the engine host their controls are V(warn) with the reason."
      - The exceptions the role C(containment.docker.secure_engine) recorded are read from C(containment-engine.json) beside it.
    type: path
    default: /etc/docker/daemon.json
notes:
  - "The C(unique_uid) control compares the numeric users of the audited containers among themselves, grouped
    by their C(containment.service) label or, for unmanaged containers, their name."
  - "The C(cpu_limit) control compares C(NanoCpus) with the engine host's CPU count from the engine's info."
  - "When the module runs on the engine host, the kernel's view of each running container's process
    (C(/proc/<State.Pid>/status): C(NoNewPrivs), C(CapEff), C(Uid), C(Gid)) is evidence that overrides the
    configuration; the pid counts only when the container's ID is in its cgroup. The C(kernel_matches_config)
    control fails when the kernel and the configuration disagree, for example for a container created before
    the daemon set C(no-new-privileges)."
seealso:
  - module: containment.docker.secure_container
    description: Enforces the same controls on one container.
  - module: containment.docker.secure_stack
    description: Enforces the same controls on all services of a host.
  - name: The audit playbook
    link: https://github.com/containment/docker/blob/main/docs/audit.md
    description: Auditing a fleet with the playbook C(containment.docker.audit), its variables, reports and CI recipes.
  - name: The containment policy
    link: https://github.com/containment/docker/blob/main/docs/policy.md
    description: Every control, its tier (floor, baseline, advisory), what it checks and how to fix a breach.
'''

EXAMPLES = r'''
- name: Audit every container of the local engine
  containment.docker.secure_container_audit:
  register: audit

- name: Fail when a container breaks a control
  ansible.builtin.assert:
    that: audit.summary.failing_containers | length == 0
    fail_msg: "Failing containers: {{ audit.summary.failing_containers | join(', ') }}"

- name: Audit the managed web containers of a remote engine, over mutual TLS
  containment.docker.secure_container_audit:
    docker_host: tcp://docker1.example.com:2376
    validate_certs: true
    ca_path: /etc/containment/docker1/ca.pem
    client_cert: /etc/containment/docker1/cert.pem
    client_key: /etc/containment/docker1/key.pem
    names: [web-*]
    managed_only: true
    audit_daemon: false

- name: Audit a daemon whose configuration file is elsewhere
  containment.docker.secure_container_audit:
    docker_host: unix:///run/docker-alt/docker.sock
    daemon_config: /etc/docker-alt/daemon.json

- name: Audit the containers of one team
  containment.docker.secure_container_audit:
    labels:
      - com.example.team=payments
'''

RETURN = r'''
engine:
  description: The engine that was audited.
  returned: always
  type: dict
  contains:
    docker_host:
      description: The address used to reach it.
      type: str
      sample: unix:///var/run/docker.sock
    name:
      description: The engine host's name.
      type: str
      sample: node1
    server_version:
      description: The engine's version.
      type: str
      sample: 20.10.24
    host_cpus:
      description: CPUs of the engine host, the upper bound of the C(cpu_limit) control.
      type: int
      sample: 2
daemon:
  description: The audit of the Docker daemon (CIS Docker Benchmark section 2); null when O(audit_daemon=false).
  returned: always
  type: dict
  contains:
    settings_source:
      description: Where its settings were read, or why they could not be.
      type: str
      sample: /etc/docker/daemon.json and the dockerd command line
    status:
      description: The worst status among its findings.
      type: str
      sample: fail
    counts:
      description: Number of its findings per status.
      type: dict
      sample: {pass: 9, fail: 3, excepted: 0, warn: 2}
    failing_controls:
      description: IDs of the daemon controls it fails.
      type: list
      elements: str
      sample: [live_restore, icc_disabled]
    findings:
      description: One finding per daemon control, with the keys of a container finding (control, tier, status, message, evidence,
        reason, cis, pss, fix); field names the daemon.json keys.
      type: list
      elements: dict
      sample: [{control: live_restore, tier: baseline, status: fail, cis: "2.15", field: live-restore, reason: null,
                message: "live-restore is off: restarting or upgrading the daemon stops every container",
                evidence: {info.LiveRestoreEnabled: false}, pss: "-",
                fix: 'set "live-restore": true in daemon.json (the secure_engine role; a reload by SIGHUP applies it)'}]
policy_version:
  description: Version of the control table the containers were audited against.
  returned: always
  type: str
  sample: "1"
containers:
  description: One entry per audited container, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Container name.
      type: str
      sample: web
    id:
      description: Container ID.
      type: str
      sample: 4f0c2b1a9e3d...
    image:
      description: Image reference the container was created from.
      type: str
      sample: registry.example.com/shop/web:1.4.2
    image_id:
      description: Image ID.
      type: str
      sample: sha256:9b1e...
    state:
      description: Container state (V(running), V(exited), V(created), ...).
      type: str
      sample: running
    service:
      description: Its C(containment.service) label, or its name when it has none.
      type: str
      sample: web
    managed:
      description: Whether the collection manages it (label C(containment.managed=true)).
      type: bool
      sample: true
    status:
      description: The worst status among its findings, V(fail) before V(excepted) before V(warn) before V(pass).
      type: str
      sample: fail
    counts:
      description: Number of its findings per status.
      type: dict
      sample: {pass: 15, fail: 2, excepted: 1, warn: 1}
    failing_controls:
      description: IDs of the controls it fails.
      type: list
      elements: str
      sample: [memory_limit, no_swap]
findings:
  description: One finding per container and control, in the order of the containers and of the control table.
  returned: always
  type: list
  elements: dict
  contains:
    container:
      description: Container name.
      type: str
      sample: web
    container_id:
      description: Container ID.
      type: str
      sample: 4f0c2b1a9e3d...
    image:
      description: Image reference.
      type: str
      sample: registry.example.com/shop/web:1.4.2
    control:
      description: Control ID from the policy.
      type: str
      sample: cap_drop_all
    tier:
      description: V(floor), V(baseline) or V(advisory).
      type: str
      sample: baseline
    status:
      description: V(pass), V(fail), V(excepted) or V(warn).
      type: str
      sample: excepted
    message:
      description: What was found (the control's summary when it passes).
      type: str
      sample: "capabilities added: NET_BIND_SERVICE"
    evidence:
      description: The inspect fields the control read, mapped to their values.
      type: dict
      sample: {"HostConfig.CapDrop": ["ALL"], "HostConfig.CapAdd": ["NET_BIND_SERVICE"]}
    reason:
      description: The recorded reason of the exception when V(excepted), else null.
      type: str
      sample: NET_BIND_SERVICE so the legacy client can keep using port 80
    cis:
      description: CIS Docker Benchmark 1.6 recommendation(s).
      type: str
      sample: "5.4"
    pss:
      description: Kubernetes Pod Security Standards (restricted) counterpart.
      type: str
      sample: capabilities drop ALL, add NET_BIND_SERVICE only
    field:
      description: The option of M(containment.docker.secure_container) that satisfies the control.
      type: str
      sample: cap_add
    fix:
      description:
        - How to fix a failure, phrased for the way the container was made. For a container of this collection
          (label C(containment.managed)), the option of M(containment.docker.secure_container) or of the role to set;
          for any other, the C(docker run) flag.
      type: str
      sample: run it with --security-opt no-new-privileges
summary:
  description: Counts over all findings.
  returned: always
  type: dict
  contains:
    containers:
      description: Number of audited containers.
      type: int
      sample: 3
    by_status:
      description: Number of findings per status.
      type: dict
      sample: {pass: 50, fail: 3, excepted: 1, warn: 3}
    by_control:
      description: For each control ID, the number of containers per status.
      type: dict
      sample: {memory_limit: {pass: 2, fail: 1, excepted: 0, warn: 0}}
    failing_containers:
      description: Names of the containers that fail at least one control.
      type: list
      elements: str
      sample: [legacy-admin]
'''

from ansible_collections.containment.docker.plugins.module_utils import _audit
from ansible_collections.containment.docker.plugins.module_utils import _engine
from ansible_collections.containment.docker.plugins.module_utils import _module

AUDIT_OPTIONS = dict(
    names=dict(type='list', elements='str', default=[]),
    labels=dict(type='list', elements='str', default=[]),
    managed_only=dict(type='bool', default=False),
    audit_daemon=dict(type='bool', default=True),
    daemon_config=dict(type='path', default=_audit.DEFAULT_DAEMON_CONFIG),
)


def main():
    module = _module.new_module(_module.argument_spec(AUDIT_OPTIONS))
    engine = _module.connect(module)
    try:
        result = _audit.run(engine, engine.url, names=module.params['names'],
                            labels=module.params['labels'], managed_only=module.params['managed_only'],
                            daemon_config=module.params['daemon_config'], audit_daemon=module.params['audit_daemon'])
    except (_engine.EngineError, _engine.DockerException) as exc:
        module.fail_json(msg='the audit could not read the engine at %s: %s' % (engine.url, exc))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
