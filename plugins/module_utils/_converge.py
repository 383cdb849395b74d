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

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy
from ansible_collections.containment.docker.plugins.module_utils import _spec
from ansible_collections.containment.docker.plugins.module_utils._engine import PARALLEL_CALLS, EngineError

PREVIOUS_SUFFIX = '__previous'


def _failed_controls(findings):
    return [f for f in findings if f['status'] == policy.FAIL]


def load_specs(raws, host_cpus=None, check_unique_uid=False):
    """Normalise and validate every service; raise SpecError naming every problem of every service."""
    specs, problems = [], []
    for raw in raws:
        try:
            specs.append((_spec.normalize_spec(raw), raw))
        except _spec.SpecError as exc:
            problems.extend(exc.problems)
    names = [spec['name'] for spec, _raw in specs]
    for name in sorted(set(n for n in names if names.count(n) > 1)):
        problems.append(dict(service=name, field='name', rule='format', message='two services are named %s' % name,
                             fix='give every service on a host its own name'))
    live_specs = [s for s, raw in specs if (raw.get('state') or 'started') != 'absent']
    ctx = {'host_cpus': host_cpus}
    if check_unique_uid:
        ctx['uid_owners'] = policy.uid_owners((s['user'], s['name']) for s in live_specs)
    for spec, raw in specs:
        if (raw.get('state') or 'started') == 'absent':
            continue
        try:
            _spec.validate_spec(spec, ctx)
        except _spec.SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise _spec.SpecError(problems)
    return [(spec, _operations(raw)) for spec, raw in specs], ctx


def _operations(raw):
    return _spec.operations(raw)  # checked by normalize_spec already: state, pull, grace_period, healthy_timeout


def container_view(inspect):
    if not inspect:
        return {}
    state = inspect.get('State') or {}
    return {'id': inspect.get('Id'), 'name': (inspect.get('Name') or '').lstrip('/'),
            'image': (inspect.get('Config') or {}).get('Image'), 'image_id': inspect.get('Image'),
            'status': state.get('Status'), 'health': (state.get('Health') or {}).get('Status')}


def plan_service(spec, ops, live, image, ctx):
    """What to do for one service: {'action', 'reasons', 'desired'}. Pure: no engine calls.

    action is one of create, recreate, start, stop, remove, none."""
    state = ops['state']
    if state == 'absent':
        return {'action': 'remove' if live else 'none', 'reasons': ['state is absent'] if live else [], 'desired': None}
    image_id = image.get('Id') if image else None
    desired = _spec.desired_inspect(spec, image_id, (image or {}).get('Config'))
    # Docker copies the image's labels onto the container: expect them, or an image that
    # carries a containment.* label (ours carry containment.build-hash) looks like drift forever.
    image_labels = ((image or {}).get('Config') or {}).get('Labels') or {}
    desired['Config']['Labels'] = dict(image_labels, **desired['Config']['Labels'])
    ctx = dict(ctx, image_labels=image_labels)  # an image cannot grant its containers exceptions
    if live is None:
        return {'action': 'create', 'reasons': ['no container named %s' % spec['name']], 'desired': desired, 'ctx': ctx}
    reasons = []
    if policy.LABEL_MANAGED not in ((live.get('Config') or {}).get('Labels') or {}):
        reasons.append('container %s was not created by containment.docker' % spec['name'])
    if image_id is None:
        reasons.append('image %s would be pulled' % spec['image'])
    for field, (have, want) in sorted(_spec.compare(desired, live).items()):
        if field == 'image_id' and image_id is None:
            continue
        if field == 'labels':
            want_hash = (want or {}).get(policy.LABEL_SPEC_HASH)
            if want_hash and (have or {}).get(policy.LABEL_SPEC_HASH) != want_hash:
                reasons.append('spec changed (hash label)')
            elif set(have or {}) - {policy.LABEL_SPEC_HASH} != set(want or {}) - {policy.LABEL_SPEC_HASH} or any(
                    (have or {}).get(k) != v for k, v in (want or {}).items() if k != policy.LABEL_SPEC_HASH):
                reasons.append('labels differ')
            continue
        reasons.append('%s differs: live %s, wanted %s' % (field, _short(have), _short(want)))
    for finding in _failed_controls(policy.evaluate(live, ctx)):
        reasons.append('live container fails %s: %s' % (finding['control'], finding['message']))
    action, reasons = 'recreate', _dedupe(reasons)
    running = bool((live.get('State') or {}).get('Running'))
    if not reasons:
        action, reasons = 'none', []
        if state == 'started' and not running:
            action, reasons = 'start', ['container is not running']
        elif state == 'stopped' and running:
            action, reasons = 'stop', ['state is stopped']
    return {'action': action, 'reasons': reasons, 'desired': desired, 'ctx': ctx}


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
    """Converges a list of services on one engine."""

    def __init__(self, engine, check_mode=False, log=None):
        self.engine = engine
        self.check_mode = check_mode
        self.log = log or (lambda msg: None)

    def live_containers(self, names, managed_only_listing):
        """{name: inspect} for the given service names and their __previous leftovers and, with the
        listing, every managed container. One listing, then the inspects a few at a time: on a host
        with nothing to change, these are nearly all the engine calls of a run."""
        wanted = set(names) | set(name + PREVIOUS_SUFFIX for name in names)
        if managed_only_listing:
            refs = [cid for name, cid, labels in self.engine.container_names()
                    if name in wanted or labels.get(policy.LABEL_MANAGED) == 'true']
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
        names = [spec['name'] for spec, _ops in specs]
        live = self.live_containers(names, managed_only_listing=prune or len(specs) > 1)
        self._recover_leftovers(names, live)

        results, plans = [], []
        for spec, ops in specs:
            image = None
            if ops['state'] != 'absent':
                if self.check_mode:  # plan on the local image; a missing one shows as 'would be pulled'
                    image = self.engine.inspect_image(spec['image'])
                else:
                    image, _pulled = self.engine.resolve_image(spec['image'], ops['pull'])
            plan = plan_service(spec, ops, live.get(spec['name']), image, ctx)
            plans.append((spec, ops, plan))

        pruned = []
        if prune:
            listed = set(names)
            for name, inspect in sorted(live.items()):
                labels = (inspect.get('Config') or {}).get('Labels') or {}
                service = labels.get(policy.LABEL_SERVICE)
                if labels.get(policy.LABEL_MANAGED) == 'true' and service not in listed and not name.endswith(PREVIOUS_SUFFIX):
                    pruned.append({'name': name, 'service': service, 'action': 'remove', 'reasons': ['no longer listed'],
                                   'container': container_view(inspect),
                                   'diff': _spec.diff_view(None, None, inspect)})

        if self.check_mode:
            outcomes = [self._planned(spec, plan, live, ctx) for spec, ops, plan in plans]
        else:
            outcomes = self._execute(plans, pruned, live, ctx)

        for (spec, ops, plan), outcome in zip(plans, outcomes):
            diff = _spec.diff_view(spec, plan['desired'], live.get(spec['name']))
            if plan['action'] in ('start', 'stop'):
                diff['before']['running'], diff['after']['running'] = plan['action'] == 'stop', plan['action'] == 'start'
            result = {'name': spec['name'], 'action': plan['action'], 'reasons': plan['reasons'],
                      'changed': plan['action'] != 'none', 'diff': diff}
            result.update(outcome)
            results.append(result)
        return results, pruned

    def _prune(self, entry):
        self.engine.remove(entry['container']['id'])
        self.engine.remove_network_if_unused(_spec.DEFAULT_NETWORK_PREFIX + (entry['service'] or ''))

    def _recover_leftovers(self, names, live):
        """A run that died mid-replace leaves NAME__previous: put it back or drop it."""
        for name in names:
            previous = live.get(name + PREVIOUS_SUFFIX)
            if previous is None or self.check_mode:
                continue
            if name in live:
                self.engine.remove(previous['Id'])
            else:
                self.engine.rename(previous['Id'], name)
                live[name] = self.engine.inspect_container(previous['Id'])
            del live[name + PREVIOUS_SUFFIX]

    def _planned(self, spec, plan, live, ctx):
        subject = plan['desired'] or live.get(spec['name'])
        return {'container': container_view(live.get(spec['name'])), 'failed': False,
                'findings': policy.evaluate(subject, plan.get('ctx', ctx)) if subject else []}

    def _execute(self, plans, pruned, live, ctx):
        """Run the plans: engine calls a few at a time, then one shared watch of every container
        that was started (so grace periods overlap), then keep or roll back each."""
        jobs = [_Job(spec, ops, plan, live.get(spec['name'])) for spec, ops, plan in plans]
        self._networks = _Networks(self.engine, sorted(set(
            n for job in jobs if job.action in ('create', 'recreate') for n in job.spec['networks'])))
        with ThreadPoolExecutor(max_workers=PARALLEL_CALLS) as pool:
            list(pool.map(self._begin, jobs))
            list(pool.map(self._prune, pruned))
            self._watch([job for job in jobs if job.watch])
            list(pool.map(self._finish, jobs))
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

    def _begin(self, job):
        spec, old = job.spec, job.old
        try:
            if job.action == 'remove':
                self.engine.remove(old['Id'])
                job.steps.append('removed')
                if spec['networks'] == [_spec.DEFAULT_NETWORK_PREFIX + spec['name']]:
                    if self.engine.remove_network_if_unused(spec['networks'][0]):
                        job.steps.append('removed network %s' % spec['networks'][0])
            elif job.action == 'stop':
                self.engine.stop(old['Id'], spec['stop_timeout'])
                job.steps.append('stopped')
            elif job.action == 'start':
                self.engine.start(old['Id'])
                job.steps.append('started')
                job.watch = old['Id']
            elif job.action in ('create', 'recreate'):
                self._networks.ready(spec['networks'])  # before the old container is touched
                if old is not None:
                    if job.was_running:
                        self.engine.stop(old['Id'], spec['stop_timeout'])
                        job.steps.append('stopped old container %s' % old['Id'][:12])
                    self.engine.rename(old['Id'], spec['name'] + PREVIOUS_SUFFIX)
                job.new_id = self.engine.create(job.plan['desired'])
                job.steps.append('created %s' % job.new_id[:12])
                if job.ops['state'] == 'started':
                    self.engine.start(job.new_id)
                    job.steps.append('started %s' % job.new_id[:12])
                    job.watch = job.new_id
        except EngineError as exc:
            job.failure = {'msg': '%s: %s' % (spec['name'], exc)}
            job.watch = None

    def _watch(self, jobs):
        """Poll every started container until each is judged up or down."""
        began = time.monotonic()
        pending = list(jobs)
        while pending:
            elapsed = time.monotonic() - began
            for job, inspect in zip(list(pending), self.engine.inspect_containers([job.watch for job in pending])):
                job.state = (inspect or {}).get('State') or {}
                verdict = judge_start(job.state, elapsed, job.ops['grace_period'], job.ops['healthy_timeout'])
                if verdict != 'wait':
                    pending.remove(job)
                    if verdict == 'down':
                        job.failure = self._failure(job.watch, job.state, '%s: the %s container did not stay up' % (
                            job.spec['name'], 'new' if job.new_id else 'started'))
            if pending:
                time.sleep(0.2)

    def _finish(self, job):
        """Keep a proven replacement (drop the old container) or roll back to the old one."""
        old = job.old
        if job.action not in ('create', 'recreate'):
            return
        if job.failure is None:
            if old is not None:
                self.engine.remove(old['Id'])
                job.steps.append('removed old container %s' % old['Id'][:12])
            return
        if job.new_id:
            self.engine.remove(job.new_id)
            job.steps.append('removed failed container %s' % job.new_id[:12])
        if old is not None:
            self.engine.rename(old['Id'], job.spec['name'])
            if job.was_running:
                self.engine.start(old['Id'])
            job.steps.append('rolled back to %s' % old['Id'][:12])
            job.failure['msg'] += '; rolled back to the previous container %s' % old['Id'][:12]

    def _failure(self, container_id, state, what):
        state = state or {}
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
        return {'failed': True, 'msg': msg, 'failure': detail}


class _Networks(object):
    """The networks the new containers need, each created once, by the first job that needs it:
    creating networks overlaps with other services' containers instead of preceding them all."""

    def __init__(self, engine, names):
        self.engine = engine
        self.locks = dict((name, threading.Lock()) for name in engine.missing_networks(names))
        self.errors = {}

    def ready(self, names):
        for name in names:
            lock = self.locks.get(name)
            if lock is None:  # it existed already
                continue
            with lock:
                if name not in self.errors:
                    try:
                        self.engine.create_network(name)
                        self.errors[name] = None
                    except EngineError as exc:
                        self.errors[name] = exc
            if self.errors[name] is not None:
                raise self.errors[name]


class _Job(object):
    """One service's execution: its plan, the engine steps taken and how it ended."""

    def __init__(self, spec, ops, plan, old):
        self.spec, self.ops, self.plan, self.old = spec, ops, plan, old
        self.action = plan['action']
        self.was_running = bool(old and (old.get('State') or {}).get('Running'))
        self.steps = []
        self.new_id = None
        self.watch = None
        self.state = None
        self.failure = None


def judge_start(state, elapsed, grace_period, healthy_timeout):
    """'up', 'down' or 'wait' for a container started `elapsed` seconds ago. Pure.

    Up: still running after the grace period and, with a healthcheck, healthy.
    Down: exited, restarting (it crashed), unhealthy, or not healthy in time."""
    health = (state.get('Health') or {}).get('Status')
    if not state.get('Running') or state.get('Restarting') or health == 'unhealthy':
        return 'down'
    if elapsed >= grace_period and health in (None, 'healthy'):
        return 'up'
    if elapsed >= max(grace_period, healthy_timeout):
        return 'down'
    return 'wait'
