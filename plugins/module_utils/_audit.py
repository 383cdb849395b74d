# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# The audit of one engine: pick the containers (running or not), then run the one
# policy table (_policy.evaluate) over each container's `docker inspect` data. There is
# no control logic here, so what the modules enforce and what the audit reports cannot
# disagree. Everything but collect() is pure.

from __future__ import annotations

import fnmatch

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy

# Worst first: a container's status is the worst status among its findings.
_SEVERITY = (policy.FAIL, policy.EXCEPTED, policy.WARN, policy.PASS)


def docker_filters(labels=None, managed_only=False):
    """The Engine API `filters` for a container listing (label filters are ANDed by Docker)."""
    wanted = list(labels or [])
    if managed_only:
        wanted.append(policy.LABEL_MANAGED + '=true')
    return {'label': wanted} if wanted else {}


def container_name(inspect):
    return (inspect.get('Name') or '').lstrip('/')


def service_of(inspect):
    """The service a container belongs to: its containment.service label, else its name."""
    return policy.labels_of(inspect).get(policy.LABEL_SERVICE) or container_name(inspect)


def name_matches(inspect, patterns):
    """True when no patterns are given or the name matches one (shell-style: 'web-*')."""
    if not patterns:
        return True
    name = container_name(inspect)
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def uid_owners(inspects):
    """{uid: set(services)} over the audited containers, for the unique_uid control."""
    return policy.uid_owners((_config_user(inspect), service_of(inspect)) for inspect in inspects)


def _config_user(inspect):
    return (inspect.get('Config') or {}).get('User')


def container_status(findings):
    statuses = {f['status'] for f in findings}
    return next((s for s in _SEVERITY if s in statuses), policy.PASS)


def audit(inspects, host_cpus=None, image_labels=None):
    """Evaluate every control over every container. Returns the module's result shape:
    {'containers': [...], 'findings': [...], 'summary': {...}}.

    image_labels ({image id: labels}) lets the policy ignore containment.* labels a container
    only inherited from its image: an image cannot grant itself exceptions."""
    ctx = {'host_cpus': host_cpus, 'uid_owners': uid_owners(inspects)}
    image_labels = image_labels or {}
    containers, findings = [], []
    for inspect in sorted(inspects, key=container_name):
        labels = policy.labels_of(inspect)
        state = inspect.get('State') or {}
        about = {
            'container': container_name(inspect),
            'container_id': inspect.get('Id', ''),
            'image': (inspect.get('Config') or {}).get('Image', ''),
        }
        own = []
        for finding in policy.evaluate(inspect, dict(ctx, image_labels=image_labels.get(inspect.get('Image')))):
            entry = dict(about)
            entry.update(finding)
            entry.setdefault('reason', None)
            own.append(entry)
        findings.extend(own)
        containers.append(dict(
            name=about['container'], id=about['container_id'], image=about['image'],
            image_id=inspect.get('Image', ''), state=state.get('Status', ''),
            service=service_of(inspect), managed=labels.get(policy.LABEL_MANAGED) == 'true',
            status=container_status(own), counts=policy.summarize(own),
            failing_controls=[f['control'] for f in own if f['status'] == policy.FAIL],
        ))
    return {'containers': containers, 'findings': findings, 'summary': summarize(containers, findings)}


def summarize(containers, findings):
    """Counts per status and per control, and the names of the containers that fail."""
    by_control = dict((c.id, dict((s, 0) for s in policy.STATUSES)) for c in policy.CONTROLS)
    for finding in findings:
        by_control.setdefault(finding['control'], dict((s, 0) for s in policy.STATUSES))
        by_control[finding['control']][finding['status']] += 1
    return {
        'containers': len(containers),
        'by_status': policy.summarize(findings),
        'by_control': by_control,
        'failing_containers': [c['name'] for c in containers if c['status'] == policy.FAIL],
    }


def collect(engine, names=None, labels=None, managed_only=False):
    """inspect data of the containers to audit (running and stopped) on `engine`."""
    inspects = engine.list_containers(filters=docker_filters(labels, managed_only))
    return [i for i in inspects if name_matches(i, names)
            and ((i.get('Config') or {}).get('Labels') or {}).get(policy.LABEL_LOCK) != 'true']


def engine_facts(engine, docker_host):
    info = engine.info()
    return {'docker_host': docker_host, 'name': info.get('Name', ''),
            'server_version': info.get('ServerVersion', ''), 'host_cpus': engine.host_cpus()}


def run(engine, docker_host, names=None, labels=None, managed_only=False):
    """The whole audit of one engine, as the module returns it."""
    inspects = collect(engine, names, labels, managed_only)
    image_labels = {}
    for image_id in set(i.get('Image') for i in inspects):
        image = engine.inspect_image(image_id) if image_id else None
        image_labels[image_id] = ((image or {}).get('Config') or {}).get('Labels') or {}
    result = audit(inspects, engine.host_cpus(), image_labels)
    result['engine'] = engine_facts(engine, docker_host)
    result['policy_version'] = policy.POLICY_VERSION
    return result
