#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: secure_stack
short_description: Converge every service of one Docker host inside the containment policy, in one call
version_added: 0.1.0
description:
  - Converges a whole list of services on one engine with the same code as M(containment.docker.secure_container),
    so a host with nothing to do costs one module run whatever the number of services.
  - All services are validated before anything changes; one refused service refuses the whole list,
    with one line per breach naming the service, the field, the control and the fix.
  - Two services on one host with the same uid are refused (control C(unique_uid)) unless both name the
    sharing with a reason in their C(exceptions), under the key C(unique_uid).
  - With O(prune), managed containers (label C(containment.managed=true)) that are no longer listed are removed.
    Containers the collection does not manage are never touched.
  - Changes run with a few engine calls in parallel; each replaced service is rolled back on its own if
    its new container does not stay up, and the task then fails naming it.
  - "Start order: a service with C(depends_on) (as Compose writes it, for example C({db: {condition: service_healthy}}))
    begins only once its dependencies run (C(service_started)) or are healthy (C(service_healthy)), and keeps its change
    only once theirs is kept; services that depend on nothing still start together. A dependency that fails stops its
    dependants (not replaced, old container left running). Cycles and unknown names are refused before any change."
  - C(recreate) and C(restart) per service force a recreate or a restart in this run (a handler's job).
  - This is the module behind the role P(containment.docker.secure_services#role).
author:
  - containment.docker maintainers (@containment)
seealso:
  - module: containment.docker.secure_container
    description: One container, with the same options per service.
  - module: containment.docker.secure_container_audit
    description: Audit the containers of an engine against the same controls.
  - name: The secure_services role
    link: https://github.com/containment/docker/blob/main/roles/secure_services/README.md
    description: The role P(containment.docker.secure_services#role) converges the services of every inventory host from group_vars and host_vars.
  - name: The containment policy
    link: https://github.com/containment/docker/blob/main/docs/policy.md
    description: Every control, its tier (floor, baseline, advisory), what it checks and how to fix a breach.
  - name: Safe replace and the host lock
    link: https://github.com/containment/docker/blob/main/docs/reliability.md
    description: What happens when a run is interrupted or races another run.
extends_documentation_fragment:
  - containment.docker.docker
  - containment.docker.docker.converge
attributes:
  check_mode:
    description: Plans only; reports per service what would be created, recreated (and why), started, stopped or removed.
    support: full
  diff_mode:
    description:
      - Shows per service before and after of the fields that differ, in the units and shapes the options are written in,
        as M(containment.docker.secure_container) does; a new service shows every field it gets.
    support: full
  idempotent:
    description: A second run with the same services reports no change.
    support: full
options:
  services:
    description:
      - The services of this host. Each item takes the options of M(containment.docker.secure_container)
        (C(name), C(image), C(user), C(memory), C(cpus), C(ports), C(tmpfs), C(volumes), C(env), C(exceptions),
        C(state), C(pull), C(grace_period), ...) with the same defaults, except the connection options.
      - Unknown keys, bad units and policy breaches are refused with the service's name.
      - C(secret_env), C(env_file) and C(secrets) work as in M(containment.docker.secure_container). The values of
        C(secret_env), of env files and of C(env) names that look secret are registered with Ansible's output
        masking as soon as the module reads its arguments, the module arguments shown at C(-vvv) carry them as
        C((secret)), and no result, diff, reason or message holds them.
    type: list
    elements: dict
    required: true
  prune:
    description: Remove managed containers that are not in O(services).
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Converge this host's services
  containment.docker.secure_stack:
    services:
      - name: web
        image: registry.example.com/shop/web:1.4.2
        user: "1501:1501"
        memory: 64m
        cpus: 0.5
        ports: [127.0.0.1:8080:8080]
      - name: worker
        image: registry.example.com/shop/worker:3.0.1
        user: "1502:1502"
        memory: 32m
        cpus: 0.25
    prune: true

- name: An API that starts only once its database is healthy, and a front end after the API
  containment.docker.secure_stack:
    services:
      - name: db
        image: registry.example.com/shop/worker:3.0.1
        user: "1511:1511"
        memory: 32m
        cpus: 0.25
        command: [sh, -c, "sleep 2; touch /tmp/ready; exec sleep 3600"]
        healthcheck:
          test: test -e /tmp/ready
          interval: 1s
      - name: api
        image: registry.example.com/shop/worker:3.0.1
        user: "1512:1512"
        memory: 32m
        cpus: 0.25
        command: [sleep, "3600"]
        depends_on:
          db:
            condition: service_healthy
      - name: front
        image: registry.example.com/shop/worker:3.0.1
        user: "1513:1513"
        memory: 32m
        cpus: 0.25
        command: [sleep, "3600"]
        depends_on: [api]
    prune: false
'''

RETURN = r'''
services:
  description: Per service, in the order given, what was (or would be) done and the container after it.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The service.
      type: str
    action:
      description: One of create, recreate, restart, start, stop, remove, none.
      type: str
    reasons:
      description: Why, for example the fields that drifted.
      type: list
      elements: str
    steps:
      description: The steps taken against the engine.
      type: list
      elements: str
    container:
      description: The id, name, image, image_id, status and health of the container.
      type: dict
    findings:
      description: The policy controls evaluated on the container.
      type: list
      elements: dict
    failed:
      description: Whether this service's change failed (and was rolled back).
      type: bool
    msg:
      description: What failed.
      type: str
  sample: [{name: web, action: none, reasons: [], container: {name: web, status: running}}]
pruned:
  description: Managed containers removed (or to be removed) because they are no longer listed.
  returned: always
  type: list
  elements: dict
  sample: [{name: old-api, service: old-api, action: remove, reasons: [no longer listed]}]
engine_calls:
  description:
    - The Docker Engine API calls the run made, per call of the Docker SDK, and their C(total). With nothing to
      change on a host with N services of one image, a run makes N + 6 calls (engine information; the host lock's
      image check, take and release; one container listing; one image inspect; one inspect per service).
  returned: when the engine was reached
  type: dict
  sample: {total: 26, info: 1, containers: 1, inspect_container: 20, inspect_image: 2, create_container_from_config: 1,
           remove_container: 1}
summary:
  description: Count of services per action.
  returned: always
  type: dict
  sample: {create: 0, recreate: 1, restart: 0, none: 19, remove: 0, start: 0, stop: 0, pruned: 0, failed: 0}
'''

from ansible_collections.containment.docker.plugins.module_utils import _module


def main():
    module = _module.new_module(_module.argument_spec(dict(
        services=dict(type='list', elements='dict', required=True),
        prune=dict(type='bool', default=True),
    ), _module.CONVERGE_OPTIONS))
    results, pruned, engine_calls = _module.converge(module, module.params['services'], prune=module.params['prune'],
                                                     check_unique_uid=True)
    summary = dict((action, 0) for action in ('create', 'recreate', 'restart', 'start', 'stop', 'remove', 'none'))
    for result in results:
        summary[result['action']] += 1
    summary['pruned'] = len(pruned)
    failed = [r for r in results if r.get('failed')]
    summary['failed'] = len(failed)
    output = dict(changed=bool(pruned) or any(r['changed'] for r in results), summary=summary, engine_calls=engine_calls,
                  pruned=[dict((k, v) for k, v in p.items() if k != 'diff') for p in pruned],
                  services=[dict((k, v) for k, v in r.items() if k != 'diff') for r in results])
    if module._diff:
        before, after = {}, {}
        for entry in results + pruned:
            diff = entry['diff']
            if diff['before'] or diff['after']:
                before[entry['name']], after[entry['name']] = diff['before'], diff['after']
        output['diff'] = dict(before=before, after=after)
    failed += [p for p in pruned if p.get('failed')]
    if failed:
        module.fail_json(msg='; '.join(r['msg'] for r in failed), **output)
    module.exit_json(**output)


if __name__ == '__main__':
    main()
