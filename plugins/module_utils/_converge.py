# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# Converging services on one engine, in the order of the design:
#   1. load every spec (normalise + policy) - a refusal here changes nothing;
#   2. resolve images;  3. plan against the live containers (hash, fields, audit);
#   4. execute the plan with safe replace and rollback;  5. check mode stops after 3.
# secure_container converges a list of one; secure_stack a host's whole list.

from __future__ import annotations

import os
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ansible_collections.containment.docker.plugins.module_utils import _lock
from ansible_collections.containment.docker.plugins.module_utils import _policy as policy
from ansible_collections.containment.docker.plugins.module_utils import _secrets
from ansible_collections.containment.docker.plugins.module_utils import _spec
from ansible_collections.containment.docker.plugins.module_utils._connection import PARALLEL_CALLS, EngineError

NEXT_SUFFIX, PREVIOUS_SUFFIX, LEFTOVER_SUFFIXES = _spec.NEXT_SUFFIX, _spec.PREVIOUS_SUFFIX, _spec.RESERVED_SUFFIXES


def _failed_controls(findings):
    return [f for f in findings if f['status'] == policy.FAIL]


def load_specs(raws, host_cpus=None, check_unique_uid=False):
    """Normalise and validate every service; raise SpecError naming every problem of every service."""
    services, ctx, problems = check_specs(raws, host_cpus, check_unique_uid)
    if problems:
        raise _spec.SpecError(problems)
    return services, ctx


def check_specs(raws, host_cpus=None, check_unique_uid=False, offline=False):
    """Every problem of every service in one pass: keys, types and units, the policy (a control on a field that
    has a format problem already is left out), names, operations and the start order. Returns
    ([(spec, ops)] of the services that have a spec, the policy's context, [problem]). Pure; `offline`: see _spec.collect_spec."""
    problems, checked = [], []
    for raw in raws:
        spec, found = _spec.collect_spec(raw, offline=offline)
        problems.extend(found)
        if spec is not None:
            checked.append((spec, _spec.operation_values(raw), set(p['field'] for p in found)))
    names = [spec['name'] for spec, _ops, _fields in checked]
    for name in sorted(set(n for n in names if n is not None and names.count(n) > 1)):
        problems.append(dict(service=name, field='name', rule='format', message='two services are named %s' % name,
                             fix='give every service on a host its own name'))
    ctx = {'host_cpus': host_cpus}
    if check_unique_uid:
        ctx['uid_owners'] = policy.uid_owners((s['user'], s['name']) for s, ops, fields in checked
                                              if ops['state'] != 'absent' and 'user' not in fields)
    for spec, ops, fields in checked:
        if ops['state'] == 'absent':
            continue
        try:
            problems.extend(_spec.policy_problems(spec, ctx, skip=fields)[1])
        except (TypeError, ValueError, KeyError, AttributeError):
            if not fields:
                raise
            # a stand-in value the container cannot be built from: its format problems are reported, the policy's next run
    services = [(spec, ops) for spec, ops, _fields in checked]
    problems += operation_problems(services) + start_order_problems(services)
    order = dict((name, index) for index, name in reversed(list(enumerate(names))))
    return services, ctx, sorted(problems, key=lambda p: order.get(p['service'], len(order)))  # per service, as found


def _problem(service, field, rule, message, fix):
    return dict(service=service, field=field, rule=rule, message=message, fix=fix)


def operation_problems(services):
    """recreate and restart need a container to make: not with state absent (restart: nor stopped)."""
    problems = []
    for spec, ops in services:
        if ops.get('recreate') and ops['state'] == 'absent':
            problems.append(_problem(spec['name'], 'recreate', 'format', 'recreate: true with state absent, which removes the container',
                                     'remove recreate, or set state started or stopped'))
        if ops.get('restart') and ops['state'] != 'started':
            problems.append(_problem(spec['name'], 'restart', 'format', 'restart: true with state %s: there is nothing running to '
                                     'restart' % ops['state'], 'remove restart, or set state started'))
    return problems


def _dependencies(services):
    """{name: [dependency names]} of the services that will run; a stopped or removed service waits for nothing."""
    return dict((spec['name'], [d['service'] for d in spec.get('depends_on') or []])
                for spec, ops in services if ops['state'] == 'started')


def start_levels(services):
    """The start order of [(spec, ops)]: lists of names, each list depending only on the ones before it
    (services that depend on nothing come first). Names in a dependency cycle are left out. Pure."""
    deps = _dependencies(services)
    placed, levels = set(), []
    while True:
        level = sorted(name for name in deps if name not in placed and all(d in placed or d not in deps for d in deps[name]))
        if not level:
            return levels
        levels.append(level)
        placed.update(level)


def _cycles(deps, placed):
    """Each dependency cycle among the names not placed, once, as [a, b, ..., a] starting at its least name."""
    cycles, seen = [], set()
    for start in sorted(n for n in deps if n not in placed):
        path, name = [], start
        while name not in path and name not in seen:
            path.append(name)
            name = sorted(d for d in deps[name] if d in deps and d not in placed)[0]
        seen.update(path)
        if name in path:
            loop = path[path.index(name):]
            first = loop.index(min(loop))
            cycles.append(loop[first:] + loop[:first] + [min(loop)])
    return cycles


def start_order_problems(services):
    """depends_on across a run's services: every dependency is a service of the same run that will run,
    service_healthy needs a healthcheck, and there is no cycle. Pure; the image's own HEALTHCHECK is
    checked once the images are resolved (healthcheck_problems)."""
    problems = []
    by_name = dict((spec['name'], (spec, ops)) for spec, ops in services)
    deps = _dependencies(services)
    for spec, ops in services:
        if spec['name'] not in deps:
            continue
        for dep in spec.get('depends_on') or []:
            other = by_name.get(dep['service'])
            if other is None:
                problems.append(_problem(spec['name'], 'depends_on', 'unknown service', 'depends on %s, which is not a service of '
                                         'this run' % dep['service'], 'add the service %s to the same list of services (secure_stack '
                                         'or the role), or remove it from depends_on' % dep['service']))
            elif other[1]['state'] != 'started':
                problems.append(_problem(spec['name'], 'depends_on', 'dependency not started', 'depends on %s, whose state is %s' % (
                    dep['service'], other[1]['state']), 'set state started on %s, or remove it from depends_on' % dep['service']))
            elif dep['condition'] == 'service_healthy' and (other[0]['healthcheck'] or {}).get('test') == ['NONE']:
                problems.append(_healthless(spec['name'], dep['service']))
    placed = set(name for level in start_levels(services) for name in level)
    for cycle in _cycles(deps, placed):
        problems.append(_problem(cycle[0], 'depends_on', 'cycle', 'the services depend on each other in a circle: %s' % ' -> '.join(cycle),
                                 'remove one of these dependencies (a service can start only after the ones it depends on)'))
    return problems


def _healthless(service, dependency):
    return _problem(service, 'depends_on', 'condition service_healthy', 'depends on %s being healthy, but %s has no healthcheck '
                    '(neither its own nor its image\'s)' % (dependency, dependency),
                    'give %s a healthcheck, or use condition service_started' % dependency)


def healthcheck_problems(services, images):
    """service_healthy on a dependency that would have no healthcheck, neither its spec's nor its image's.
    services: [(spec, ops)]; images: {name: image inspect, or None when not known (check mode, to be pulled)}. Pure."""
    tests = {}
    for spec, ops in services:
        image = images.get(spec['name'])
        if spec['healthcheck']:
            tests[spec['name']] = spec['healthcheck']['test']
        elif image is not None:
            tests[spec['name']] = ((image.get('Config') or {}).get('Healthcheck') or {}).get('Test') or ['NONE']
    return [_healthless(spec['name'], dep['service'])
            for spec, ops in services if ops['state'] == 'started' for dep in spec.get('depends_on') or []
            if dep['condition'] == 'service_healthy' and tests.get(dep['service'], ['?'])[0] == 'NONE']


def uses_named_volumes(specs):
    return any(m['type'] == 'volume' for spec, ops in specs if ops['state'] != 'absent' for m in spec['volumes'] + spec['mounts'])


def volume_problems(services, volumes, ctx=None):
    """The named volumes against the engine's (`volumes`: {name: volume inspect}), before anything changes.
    A volume a spec declares (driver, options) that exists with others is refused: its options cannot change
    without losing its data, and reusing it silently would run the service on what it did not ask for. Two
    services that declare one volume differently are refused too. A volume the spec only names is judged by
    the policy as the engine holds it (a local volume can bind a host path). Option values are never shown:
    a driver's options can hold a password (cifs). Pure."""
    problems, declared = [], {}
    fix = ('give mounts the driver and options the volume has, or move its data away, remove the volume (docker volume rm %s) '
           'and rerun: the module creates it with the options wanted')
    for spec, ops in services:
        if ops['state'] == 'absent':
            continue
        for name, want in sorted(_spec.declared_volumes(spec).items()):
            first = declared.setdefault(name, (spec['name'], want))
            if first[1] != want:
                problems.append(_problem(spec['name'], 'mounts', 'volume options', 'volume %s is declared by %s and %s with different '
                                         'drivers or options' % (name, first[0], spec['name']), 'declare it the same way in both'))
            have = volumes.get(name)
            if have is None:
                continue
            have_options = have.get('Options') or {}
            keys = sorted(k for k in set(have_options) | set(want['Options']) if have_options.get(k) != want['Options'].get(k))
            if (have.get('Driver') or 'local') != want['Driver'] or keys:
                problems.append(_problem(spec['name'], 'mounts', 'volume options', 'volume %s exists with driver %s%s; the spec wants '
                                         'driver %s%s' % (name, have.get('Driver'), ' and other options' if keys else '', want['Driver'],
                                                          ' (options that differ: %s)' % ', '.join(keys) if keys else ''), fix % name))
        if any(m['type'] == 'volume' and policy.volume_device(volumes.get(m['source'])) for m in spec['volumes'] + spec['mounts']):
            try:
                _spec.validate_spec(spec, dict(ctx or {}, volumes=volumes))
            except _spec.SpecError as exc:
                problems.extend(exc.problems)
    return problems


def dependency_gate(depends_on, status, finishing=False):
    """May a service go on, given the state of its dependencies? Pure. Returns 'go', 'wait', or why it must not.

    depends_on: the spec's [{'service', 'condition'}]; status: {name: one of
      'failed'                   its change failed
      'done'                     its change is proven and kept
      'running'                  its new (or restarted) container runs; its watch is not over
      'pending'                  its change has not started its container yet
      'unchanged:STATUS:HEALTH'  nothing to change; the container's State.Status and Health.Status}
    To start (finishing False), a service_started dependency must run and a service_healthy one be proven
    (healthy); to keep its change (finishing True), every dependency must be done. A failure anywhere wins."""
    verdict = 'go'
    for dep in depends_on:
        name, state = dep['service'], status.get(dep['service'], 'pending')
        if state == 'failed':
            return 'its dependency %s failed' % name
        if state.startswith('unchanged:'):
            _unchanged, running, health = state.split(':')
            if running != 'running':
                return 'its dependency %s is not running (status %s)' % (name, running)
            if dep['condition'] == 'service_healthy' and health != 'healthy':
                return 'its dependency %s is not healthy (health %s)' % (name, health or 'none')
        elif state != 'done' and (finishing or state != 'running' or dep['condition'] != 'service_started'):
            verdict = 'wait'
    return verdict


def container_view(inspect):
    if not inspect:
        return {}
    state = inspect.get('State') or {}
    return {'id': inspect.get('Id'), 'name': (inspect.get('Name') or '').lstrip('/'),
            'image': (inspect.get('Config') or {}).get('Image'), 'image_id': inspect.get('Image'),
            'status': state.get('Status'), 'health': (state.get('Health') or {}).get('Status')}


def plan_service(spec, ops, live, image, ctx):
    """What to do for one service: {'action', 'reasons', 'desired'}. Pure: no engine calls.

    action is one of create, recreate, restart, start, stop, remove, none. The operation options
    recreate (recreate even if nothing differs) and restart (restart the running container) are
    a handler's triggers; a recreate, or a start, already starts the container anew."""
    state = ops['state']
    if state == 'absent':
        return {'action': 'remove' if live else 'none', 'reasons': ['state is absent'] if live else [], 'desired': None}
    image_id = image.get('Id') if image else None
    desired = _spec.desired_inspect(spec, image_id, (image or {}).get('Config'))
    # Docker copies the image's labels onto the container: expect them, or an image that
    # carries a containment.* label (ours carry containment.build-hash) looks like drift forever.
    image_labels = ((image or {}).get('Config') or {}).get('Labels') or {}
    desired['Config']['Labels'] = dict(image_labels, **desired['Config']['Labels'])
    _spec.settle_secret_digests(spec, desired['Config']['Labels'], live)
    ctx = dict(ctx, image_labels=image_labels)  # an image cannot grant its containers exceptions
    if live is None:  # the image by its tag and short id: the diff leaves ids out
        image_note = 'image %s (%s)' % (spec['image'], _short_id(image_id)) if image_id else 'image %s would be pulled' % spec['image']
        return {'action': 'create', 'reasons': ['no container named %s' % spec['name'], image_note], 'desired': desired, 'ctx': ctx}
    reasons = []
    if policy.LABEL_MANAGED not in ((live.get('Config') or {}).get('Labels') or {}):
        reasons.append('container %s was not created by containment.docker' % spec['name'])
    if image_id is None:
        reasons.append('image %s would be pulled' % spec['image'])
    for field, (have, want) in sorted(_spec.compare(desired, live).items()):
        if field == 'image_id':
            if image_id is not None:
                reasons.append('image %s is another image: live %s, wanted %s' % (spec['image'], _short_id(have), _short_id(want)))
            continue
        if field == 'labels':
            # secret files by name only: their digest labels never enter a reason
            changed_secrets = _spec.secret_file_changes(have, want)
            reasons.extend('secret %s: %s' % (name, _secrets.CHANGED) for name in changed_secrets)
            ignored = {policy.LABEL_SPEC_HASH} | set(_spec.LABEL_SECRET_FILE + name for name in changed_secrets)
            want_hash = (want or {}).get(policy.LABEL_SPEC_HASH)
            if want_hash and (have or {}).get(policy.LABEL_SPEC_HASH) != want_hash:
                reasons.append('spec changed (hash label)')
            elif set(have or {}) - ignored != set(want or {}) - ignored or any(
                    (have or {}).get(k) != v for k, v in (want or {}).items() if k not in ignored):
                reasons.append('labels differ')
            continue
        if field == 'env':  # values of secret names never enter a reason
            reasons.append('env differs: %s' % _spec.env_change(have, want, _spec.secret_env_names(spec, live)))
            continue
        reasons.append('%s differs: live %s, wanted %s' % (field, _short(_spec.shown_as(field, have)), _short(_spec.shown_as(field, want))))
    for finding in _failed_controls(policy.evaluate(live, ctx)):
        reasons.append('live container fails %s: %s' % (finding['control'], finding['message']))
    action, reasons = 'recreate', _dedupe(reasons)
    running = bool((live.get('State') or {}).get('Running'))
    if not reasons and ops.get('recreate'):
        reasons = ['recreate: true']
    if not reasons:
        action, reasons = 'none', []
        if state == 'started' and not running:
            action, reasons = 'start', ['container is not running']
        elif state == 'stopped' and running:
            action, reasons = 'stop', ['state is stopped']
        elif state == 'started' and ops.get('restart'):
            action, reasons = 'restart', ['restart: true']
    return {'action': action, 'reasons': reasons, 'desired': desired, 'ctx': ctx}


def _short_id(image_id):
    """'sha256:0123456789abcdef...' -> '0123456789ab', as docker images shows it."""
    return str(image_id or '?').split(':', 1)[-1][:12]


def _short(value):
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + '...'


def _dedupe(items):
    seen, result = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


class Converger(object):
    """Converges a list of services on one engine.

    A replace goes through names that record how far it got, so a run killed at any step leaves
    a host the next run understands from the engine alone (see recover()):
      1. create NAME__next (every create of the run before anything else changes)
      2. stop NAME           3. rename NAME -> NAME__previous
      4. start NAME__next and watch it     5. proven: rename NAME__next -> NAME
      6. remove NAME__previous
    NAME is always the container last proven good (or the only one there is); it is removed only
    after its successor has been proven."""

    def __init__(self, engine, check_mode=False, log=None, lock_timeout=300):
        self.engine = engine
        self.check_mode = check_mode
        self.log = log or (lambda msg: None)
        self.lock_timeout = lock_timeout
        self.lock_broken = []  # report lines: stale host locks this run removed
        self.engine_volumes = {}  # {name: volume inspect} of the engine's volumes, listed when a service names one

    def live_containers(self, names, listing, prune=False):
        """{name: inspect} for the given service names and their leftovers and, to prune, every managed
        container. With the listing: one listing, then only the containers that exist are inspected, a few
        at a time (on a host with nothing to change, these are nearly all the engine calls of a run);
        without it (one service), its three names are inspected."""
        wanted = set(names) | set(name + suffix for name in names for suffix in LEFTOVER_SUFFIXES)
        if listing or prune:
            refs = [cid for name, cid, labels in self.engine.container_names()
                    if name in wanted or (prune and labels.get(policy.LABEL_MANAGED) == 'true')]
        else:
            refs = sorted(wanted)
        live = {}
        for inspect in self.engine.inspect_containers(refs):
            if inspect is not None:
                live[inspect['Name'].lstrip('/')] = inspect
        return live

    def run(self, raws, prune=False, check_unique_uid=False):
        # The one check that needs the engine (its CPU count) runs here, still before any change.
        specs, ctx = load_specs(raws, self.engine.host_cpus(), check_unique_uid)
        with _lock.HostLock(self.engine, self.lock_timeout, _lock.lease_for(specs), wait_only=self.check_mode) as lock:
            self.lock_broken = lock.broken
            if not self.check_mode:
                pause_point('locked', '_run')
            return self._run_locked(specs, ctx, prune)

    def _run_locked(self, specs, ctx, prune):
        names = [spec['name'] for spec, _ops in specs]
        images = {}
        for spec, ops in specs:
            if ops['state'] != 'absent':
                # check mode plans on the local image; a missing one shows as 'would be pulled'
                images[spec['name']] = self.engine.resolve_image(spec['image'], ops['pull'], plan_only=self.check_mode)[0]
        problems = healthcheck_problems(specs, images)  # the last refusals: still before any change
        self.engine_volumes = self.engine.volumes() if uses_named_volumes(specs) else {}
        problems += volume_problems(specs, self.engine_volumes, ctx)
        if problems:
            raise _spec.SpecError(problems)
        declared = dict(item for spec, ops in specs for item in _spec.declared_volumes(spec).items())
        ctx = dict(ctx, volumes=dict(self.engine_volumes, **declared))
        live = self.live_containers(names, listing=len(specs) > 1, prune=prune)
        recovered = dict((name, self.recover(name, live)) for name in names)

        results, plans = [], []
        for spec, ops in specs:
            plans.append((spec, ops, plan_service(spec, ops, live.get(spec['name']), images.get(spec['name']), ctx)))

        pruned = []
        if prune:
            listed = set(names)
            for name, inspect in sorted(live.items()):
                labels = (inspect.get('Config') or {}).get('Labels') or {}
                service = labels.get(policy.LABEL_SERVICE)
                if labels.get(policy.LABEL_MANAGED) == 'true' and service not in listed and not name.endswith(LEFTOVER_SUFFIXES):
                    pruned.append({'name': name, 'service': service, 'action': 'remove', 'reasons': ['no longer listed'],
                                   'container': container_view(inspect),
                                   'diff': _spec.diff_view(None, None, inspect)})

        if self.check_mode:
            outcomes = [self._planned(spec, plan, live, ctx) for spec, ops, plan in plans]
        else:
            outcomes = self._execute(plans, pruned, live, ctx)

        for (spec, ops, plan), outcome in zip(plans, outcomes):
            diff = _spec.diff_view(spec, plan['desired'], live.get(spec['name']), plan.get('ctx', {}).get('image_labels'))
            if plan['action'] in ('start', 'stop'):
                diff['before']['running'], diff['after']['running'] = plan['action'] == 'stop', plan['action'] == 'start'
            recovery = recovered[spec['name']]
            result = {'name': spec['name'], 'action': plan['action'], 'reasons': plan['reasons'],
                      'changed': plan['action'] != 'none' or bool(recovery), 'diff': diff}
            if recovery:  # what an interrupted run left, and what this run did (or would do) about it
                result['reasons'] = recovery + result['reasons']
            result.update(outcome)
            if recovery and not self.check_mode:
                result['steps'] = recovery + result['steps']
            results.append(result)
        return results, pruned

    # ------------------------------------------------------------ what an interrupted run left

    def recover(self, name, live):
        """Resume what an interrupted replace of `name` left, from the names alone; updates `live`
        and returns the steps taken (in check mode: the steps it would take, nothing is changed).

          NAME__next                     never proven: removed
          NAME__previous, no NAME        the last good one: renamed back to NAME
          NAME__previous + NAME serving  NAME was proven (renamed only after its watch): __previous removed
          NAME__previous + NAME not up   NAME is not what was proven: removed, __previous renamed back"""
        steps = []
        would = 'would be ' if self.check_mode else ''
        unproven = live.pop(name + NEXT_SUFFIX, None)
        previous = live.pop(name + PREVIOUS_SUFFIX, None)
        current = live.get(name)
        if unproven is not None:
            self._change(self.engine.remove, unproven['Id'])
            steps.append('%sremoved %s, left unproven by an interrupted run (%s)' % (
                would, unproven['Id'][:12], name + NEXT_SUFFIX))
        if previous is None:
            return steps
        if current is not None and serving(current):
            self._change(self.engine.remove, previous['Id'])
            steps.append('%sremoved the previous container %s, left by an interrupted run after %s was proven' % (
                would, previous['Id'][:12], current['Id'][:12]))
            return steps
        if current is not None:
            self._change(self.engine.remove, current['Id'])
            steps.append('%sremoved %s, which is not running, to restore the previous container' % (would, current['Id'][:12]))
        self._change(self.engine.rename, previous['Id'], name)
        steps.append('%srestored the previous container %s as %s, left by an interrupted run' % (
            would, previous['Id'][:12], name))
        if self.check_mode:
            live[name] = dict(previous, Name='/' + name)
        else:
            live[name] = self.engine.inspect_container(previous['Id'])
        return steps

    def _change(self, call, *args):
        if not self.check_mode:
            call(*args)

    # ------------------------------------------------------------ executing the plans

    def _planned(self, spec, plan, live, ctx):
        subject = plan['desired'] or live.get(spec['name'])
        return {'container': container_view(live.get(spec['name'])), 'failed': False,
                'findings': policy.evaluate(subject, plan.get('ctx', ctx)) if subject else []}

    def _execute(self, plans, pruned, live, ctx):
        """Run the plans: every new container is created first (a run whose services cannot all be
        created changes nothing); then each service is begun (old one set aside, new one started),
        watched and kept or rolled back on its own, as soon as its dependencies allow (see _advance):
        services that depend on nothing all begin at once and their watches overlap."""
        jobs = [_Job(spec, ops, plan, live.get(spec['name'])) for spec, ops, plan in plans]
        creating = [job for job in jobs if job.action in ('create', 'recreate')]
        networks = _Once(self.engine.create_network,
                         self.engine.missing_networks(sorted(set(n for job in creating for n in _spec.network_names(job.spec)))))
        wanted = dict(item for job in creating for item in _spec.declared_volumes(job.spec).items())
        volumes = _Once(lambda name: self.engine.create_volume(name, wanted[name]['Driver'], wanted[name]['Options']),
                        [name for name in wanted if name not in self.engine_volumes])
        with ThreadPoolExecutor(max_workers=PARALLEL_CALLS) as pool:
            list(pool.map(lambda job: self._create(job, networks, volumes), creating))
            refused = [job for job in creating if job.failure]
            if refused:
                self._abandon(creating, refused, pool)
                for job in jobs:
                    if job.failure is None and job.action != 'none':
                        job.failure = {'msg': '%s: not changed, since %s could not be created and a run changes '
                                              'all of its services or none' % (job.spec['name'], ', '.join(
                                                  j.spec['name'] for j in refused))}
                for entry in pruned:
                    entry['reasons'] = entry['reasons'] + ['not removed: the run changed nothing']
                    entry['action'] = 'none'
            else:
                self._advance(jobs, pruned, pool)
        if any(job.failure for job in jobs):
            for name in networks.created:  # a network this run made that no container ended up using
                self._quietly(self.engine.remove_network_if_unused, name)
            for name in volumes.created:  # and its volumes (the engine refuses to remove one in use)
                self._quietly(self.engine.remove_volume, name)
        changed = [job.spec['name'] for job in jobs if job.action != 'none']
        after = dict(zip(changed, self.engine.inspect_containers(changed)))
        outcomes = []
        for job in jobs:
            current = job.old if job.action == 'none' else after[job.spec['name']]
            outcome = {'failed': job.failure is not None, 'steps': job.steps, 'container': container_view(current),
                       'findings': policy.evaluate(current, job.plan.get('ctx', ctx)) if current else []}
            outcome.update(job.failure or {})
            outcomes.append(outcome)
        return outcomes

    def _create(self, job, networks, volumes):
        """Step 1: NAME__next, beside the old container, which is not touched."""
        try:
            networks.ready(_spec.network_names(job.spec))
            made = volumes.ready(sorted(_spec.declared_volumes(job.spec)))
            job.steps.extend('created volume %s' % name for name in made)
            job.new_id = self.engine.create(job.plan['desired'], name=job.spec['name'] + NEXT_SUFFIX)
            job.steps.append('created %s as %s' % (job.new_id[:12], job.spec['name'] + NEXT_SUFFIX))
        except EngineError as exc:
            job.failure = {'msg': '%s: %s' % (job.spec['name'], exc)}
            return
        pause_point('created', job.spec['name'])

    def _abandon(self, creating, refused, pool):
        def drop(job):
            if job.new_id:
                if self._quietly(self.engine.remove, job.new_id):
                    job.steps.append('removed %s again' % job.new_id[:12])
                job.new_id = None
        list(pool.map(drop, creating))

    def _advance(self, jobs, pruned, pool):
        """Begin, watch and finish every job, each as soon as its dependencies allow, a few engine calls
        at a time (the pool); the watch polls every started container together.

        A job waits to begin until each service_started dependency runs and each service_healthy one is
        proven (healthy); a replace is kept only once every dependency is done. A dependency that failed
        stops its dependants: one not yet begun is left as it was, one begun is rolled back. Stages:
        waiting -> beginning -> watching -> up -> finishing -> done (failures go to finishing at once)."""
        by_name = dict((job.spec['name'], job) for job in jobs)
        active = [job for job in jobs if job.action != 'none']
        inflight, prunes, moves = {}, [], [0]
        last_poll = None

        def submit(job, stage, call):
            job.stage = stage
            inflight[pool.submit(call, job)] = job
            moves[0] += 1

        while active:
            moved = moves[0]
            status = dict((name, job.status()) for name, job in by_name.items())
            for job in active:
                if job.stage == 'waiting':
                    gate = dependency_gate(job.deps, status)
                    if gate == 'go':
                        submit(job, 'beginning', self._begin)
                    elif gate != 'wait':
                        job.failure = {'msg': '%s: %s: %s' % (job.spec['name'], _NOT_DONE[job.action], gate)}
                        submit(job, 'finishing', self._finish)
                elif job.stage in ('watching', 'up'):
                    gate = dependency_gate(job.deps, status, finishing=True) if job.replaces else 'go'
                    if gate not in ('go', 'wait'):
                        job.failure = {'msg': '%s: %s: %s' % (job.spec['name'], _NOT_DONE[job.action], gate)}
                        submit(job, 'finishing', self._finish)
                    elif gate == 'go' and job.stage == 'up':
                        submit(job, 'finishing', self._finish)
            if pruned and not prunes:  # after the first jobs began, as before there were dependencies
                prunes = [pool.submit(self._prune, entry) for entry in pruned]
            watching = [job for job in active if job.stage == 'watching']
            if watching and (last_poll is None or time.monotonic() - last_poll >= 0.2):
                last_poll = time.monotonic()
                self._poll(watching, submit)
                moves[0] += sum(1 for job in watching if job.stage != 'watching')
            timeout = 0 if moves[0] != moved else 0.2
            if inflight:
                done = wait(list(inflight), timeout=timeout, return_when=FIRST_COMPLETED)[0]
            else:
                done = ()
                time.sleep(timeout)
            for future in done:
                job = inflight.pop(future)
                future.result()  # engine failures are the job's; anything else is a bug, raised here
                moves[0] += 1
                if job.stage == 'finishing':
                    job.stage = 'done'
                    active.remove(job)
                elif job.failure:
                    submit(job, 'finishing', self._finish)
                else:
                    job.stage = 'watching' if job.watch else 'up'
        if pruned and not prunes:  # nothing else to do: the loop above never ran
            prunes = [pool.submit(self._prune, entry) for entry in pruned]
        for future in prunes:
            future.result()

    def _poll(self, watching, submit):
        """One look at every started container under watch: each is judged up, down or not yet."""
        try:
            states = self.engine.inspect_containers([job.watch for job in watching])
        except EngineError as exc:  # the engine went away mid-watch: nothing can be proven
            for job in watching:
                job.failure = {'msg': '%s: cannot watch the %s container: %s' % (job.spec['name'], job.adjective, exc)}
                submit(job, 'finishing', self._finish)
            return
        now = time.monotonic()
        for job, inspect in zip(watching, states):
            job.state = (inspect or {}).get('State') or {}
            verdict = judge_start(job.state, now - job.started_at, job.ops['grace_period'], job.ops['healthy_timeout'],
                                  (inspect or {}).get('RestartCount') or 0)
            if verdict == 'up':
                job.stage = 'up'
            elif verdict == 'down':
                job.failure = self._failure(job.watch, job.state, '%s: the %s container did not stay up' % (
                    job.spec['name'], job.adjective), (inspect or {}).get('RestartCount') or 0)
                if job.action == 'restart':
                    job.failure['msg'] += '; it was restarted in place, so there is no older container to roll back to'
                submit(job, 'finishing', self._finish)

    def _begin(self, job):
        spec, old = job.spec, job.old
        job.begun = True
        try:
            if job.action == 'remove':
                self.engine.remove(old['Id'])
                job.steps.append('removed')
                if _spec.network_names(spec) == [_spec.DEFAULT_NETWORK_PREFIX + spec['name']]:
                    if self.engine.remove_network_if_unused(_spec.DEFAULT_NETWORK_PREFIX + spec['name']):
                        job.steps.append('removed network %s' % (_spec.DEFAULT_NETWORK_PREFIX + spec['name']))
            elif job.action == 'stop':
                self.engine.stop(old['Id'], spec['stop_timeout'])
                job.steps.append('stopped')
            elif job.action in ('start', 'restart'):
                if job.action == 'restart':  # stop + start under its name: the usual watch follows
                    self.engine.stop(old['Id'], spec['stop_timeout'])
                    job.steps.append('stopped')
                self.engine.start(old['Id'])
                job.steps.append('started')
                job.watch = old['Id']
            elif job.action in ('create', 'recreate'):
                if old is not None:
                    if job.was_running:
                        self.engine.stop(old['Id'], spec['stop_timeout'])
                        job.steps.append('stopped old container %s' % old['Id'][:12])
                        pause_point('stopped', spec['name'])
                    self.engine.rename(old['Id'], spec['name'] + PREVIOUS_SUFFIX)
                    job.set_aside = True
                    job.steps.append('renamed old container %s to %s' % (old['Id'][:12], spec['name'] + PREVIOUS_SUFFIX))
                    pause_point('set_aside', spec['name'])
                if job.ops['state'] == 'started':
                    self.engine.start(job.new_id)
                    job.steps.append('started %s' % job.new_id[:12])
                    job.watch = job.new_id
            job.started_at = time.monotonic()
            if job.watch and job.new_id:
                pause_point('watching', spec['name'])
        except EngineError as exc:
            job.failure = {'msg': '%s: %s' % (spec['name'], exc)}
            job.watch = None

    def _prune(self, entry):
        try:
            self.engine.remove(entry['container']['id'])
            self.engine.remove_network_if_unused(_spec.DEFAULT_NETWORK_PREFIX + (entry['service'] or ''))
        except EngineError as exc:
            entry.update(failed=True, msg='%s: not pruned: %s' % (entry['name'], exc))

    def _finish(self, job):
        """Keep a proven replacement (then drop the old container) or roll back to the old one."""
        if job.action not in ('create', 'recreate'):
            return
        name = job.spec['name']
        if job.failure is None:
            try:
                if job.watch:
                    pause_point('proven', name)
                self.engine.rename(job.new_id, name)
                job.steps.append('renamed %s to %s' % (job.new_id[:12], name))
                pause_point('promoted', name)
                if job.old is not None:
                    self.engine.remove(job.old['Id'])
                    job.steps.append('removed old container %s' % job.old['Id'][:12])
                return
            except EngineError as exc:
                job.failure = {'msg': '%s: %s' % (name, exc)}
                if job.steps and job.steps[-1].startswith('renamed %s to' % job.new_id[:12]):
                    return  # proven and in place; the next run removes NAME__previous
        self._roll_back(job)

    def _roll_back(self, job):
        name, old = job.spec['name'], job.old
        try:
            if not job.begun:  # stopped by a dependency before anything but NAME__next was made
                if job.new_id:
                    self.engine.remove(job.new_id)
                    job.steps.append('removed %s, never started' % job.new_id[:12])
                return
            if job.new_id:
                self.engine.remove(job.new_id)
                job.steps.append('removed failed container %s' % job.new_id[:12])
            if old is None:
                return
            if job.set_aside:
                self.engine.rename(old['Id'], name)
            # the last good container serves again: it was running, or the service is meant to run
            if job.was_running or job.ops['state'] == 'started':
                self.engine.start(old['Id'])
            job.steps.append('rolled back to %s' % old['Id'][:12])
            job.failure['msg'] += '; rolled back to the previous container %s' % old['Id'][:12]
        except EngineError as exc:
            job.failure['msg'] += ('; the rollback failed too (%s): the previous container is kept, and the next run '
                                   'restores it' % exc)

    def _quietly(self, call, *args):
        """Clean-up after a failure: one more error must not hide the first one."""
        try:
            call(*args)
            return True
        except EngineError:
            return False

    def _failure(self, container_id, state, what, restarts=0):
        state = state or {}
        if restarts and state.get('Running') and container_id:
            state = self._between_restarts(container_id) or state
        logs = self.engine.logs_tail(container_id) if container_id else []
        health = state.get('Health') or {}
        # An unhealthy container often logs nothing: the healthcheck's own output says why.
        health_log = [(entry.get('Output') or '').strip() for entry in (health.get('Log') or [])][-3:]
        detail = {'exit_code': state.get('ExitCode'), 'status': state.get('Status'),
                  'health': health.get('Status'), 'error': state.get('Error') or None, 'logs': logs,
                  'health_log': health_log}
        msg = '%s (status %s, exit code %s%s); last log lines: %s' % (
            what, state.get('Status'), state.get('ExitCode'),
            ', health %s' % health.get('Status') if health.get('Status') else '', ' | '.join(logs[-10:]) or '(none)')
        if health.get('Status') == 'unhealthy' and health_log:
            msg += '; last healthcheck output: %s' % (health_log[-1] or '(none)')
        if restarts:
            msg += '; its restart policy restarted it %d time%s' % (restarts, '' if restarts == 1 else 's')
            detail['restarts'] = restarts
        return {'failed': True, 'msg': msg, 'failure': detail}

    def _between_restarts(self, container_id, bounded=3.0):
        """The state of a crash-looping container while it waits for its next restart, when its exit code
        shows (a running container's ExitCode is 0); Docker's restart back-off doubles the wait each time,
        so a few looks catch it. None if it kept running all along."""
        deadline = time.monotonic() + bounded
        while time.monotonic() < deadline:
            state = (self.engine.inspect_container(container_id) or {}).get('State') or {}
            if not state.get('Running') or state.get('Restarting'):
                return state
            time.sleep(0.05)
        return None


class _Once(object):
    """The networks (or volumes) the new containers need, each created once, by the first job that needs it:
    creating them overlaps with other services' containers instead of preceding them all. `missing`: the
    names that do not exist yet; `created` lists those this run made (removed again when the run fails)."""

    def __init__(self, create, missing):
        self.create = create
        self.locks = dict((name, threading.Lock()) for name in missing)
        self.errors = {}
        self.created = []

    def ready(self, names):
        """Create those of `names` still missing; returns the ones this call made."""
        made = []
        for name in names:
            lock = self.locks.get(name)
            if lock is None:  # it existed already
                continue
            with lock:
                if name not in self.errors:
                    try:
                        self.create(name)
                        self.errors[name] = None
                        self.created.append(name)
                        made.append(name)
                    except EngineError as exc:
                        self.errors[name] = exc
            if self.errors[name] is not None:
                raise self.errors[name]
        return made


# What a service's change becomes when a dependency stops it.
_NOT_DONE = {'create': 'not created', 'recreate': 'not replaced', 'start': 'not started', 'restart': 'not restarted'}


class _Job(object):
    """One service's execution: its plan, the engine steps taken and how it ended. Its stage (see
    Converger._advance) changes in the scheduling thread only; the pool's threads run its steps."""

    def __init__(self, spec, ops, plan, old):
        self.spec, self.ops, self.plan, self.old = spec, ops, plan, old
        self.action = plan['action']
        self.was_running = bool(old and (old.get('State') or {}).get('Running'))
        self.replaces = self.action in ('create', 'recreate')
        self.adjective = {'start': 'started', 'restart': 'restarted'}.get(self.action, 'new')
        # a service that will not run waits for nothing
        self.deps = spec.get('depends_on') or [] if ops['state'] == 'started' and self.action != 'remove' else []
        self.stage = 'waiting' if self.action != 'none' else 'done'
        self.steps = []
        self.new_id = None
        self.set_aside = False
        self.begun = False
        self.watch = None
        self.started_at = None
        self.state = None
        self.failure = None

    def status(self):
        """What a dependant sees of this service (see dependency_gate)."""
        if self.action == 'none':
            state = (self.old or {}).get('State') or {}
            return 'unchanged:%s:%s' % (state.get('Status') or 'missing', (state.get('Health') or {}).get('Status') or '')
        if self.stage in ('finishing', 'done') and self.failure:
            return 'failed'
        if self.stage == 'done':
            return 'done'
        return 'running' if self.stage in ('watching', 'up', 'finishing') else 'pending'


def serving(inspect):
    """A container that is up: running, not in a restart loop, not unhealthy."""
    state = inspect.get('State') or {}
    return bool(state.get('Running')) and not state.get('Restarting') and (state.get('Health') or {}).get('Status') != 'unhealthy'


def pause_point(phase, service):
    """Test-only: with CONTAINMENT_TEST_PAUSE naming `phase`, write CONTAINMENT_TEST_PAUSE_DIR/<phase>.<service>
    (holding this process's pid) and block until killed, so a fault test can kill a run at a known step."""
    phases = os.environ.get('CONTAINMENT_TEST_PAUSE')
    if not phases or phase not in phases.split(','):
        return
    folder = os.environ.get('CONTAINMENT_TEST_PAUSE_DIR') or tempfile.gettempdir()
    with open(os.path.join(folder, '%s.%s' % (phase, service)), 'w') as handle:
        handle.write(str(os.getpid()))
    time.sleep(3600)


def judge_start(state, elapsed, grace_period, healthy_timeout, restarts=0):
    """'up', 'down' or 'wait' for a container started `elapsed` seconds ago. Pure.

    Up: still running after the grace period and, with a healthcheck, healthy.
    Down: exited, restarting (it crashed), restarted by its restart policy since it was started (a
    crash loop can be running at every look: Docker restarts it 100 ms after an exit; `restarts` is
    the inspect's RestartCount, which a start resets to 0), unhealthy, or not healthy in time."""
    health = (state.get('Health') or {}).get('Status')
    if not state.get('Running') or state.get('Restarting') or restarts or health == 'unhealthy':
        return 'down'
    if elapsed >= grace_period and health in (None, 'healthy'):
        return 'up'
    if elapsed >= max(grace_period, healthy_timeout):
        return 'down'
    return 'wait'
