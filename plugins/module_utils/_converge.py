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

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy
from ansible_collections.containment.docker.plugins.module_utils import _spec
from ansible_collections.containment.docker.plugins.module_utils._engine import EngineError

PREVIOUS_SUFFIX = '__previous'
PARALLEL_CALLS = 4


class ConvergeError(Exception):
    pass


def _failed_controls(findings):
    return [f for f in findings if f['status'] == policy.FAIL]


def _uid_owners(specs):
    owners = {}
    for spec in specs:
        uid = (spec['user'] or '').split(':')[0]
        owners.setdefault(uid, set()).add(spec['name'])
    return owners


def load_specs(raws, host_cpus=None, check_unique_uid=False):
    """Normalise and validate every service; raise SpecError naming every problem of every service."""
    specs, problems = [], []
    for raw in raws:
        try:
            specs.append((_spec.normalize_spec(raw), raw))
        except _spec.SpecError as exc:
            problems.extend(exc.problems)
    names = [s['name'] for s, _ in specs]
    for name in sorted(set(n for n in names if names.count(n) > 1)):
        problems.append(dict(service=name, field='name', rule='format', message='two services are named %s' % name,
                             fix='give every service on a host its own name'))
    live_specs = [s for s, raw in specs if (raw.get('state') or 'started') != 'absent']
    ctx = {'host_cpus': host_cpus}
    if check_unique_uid:
        ctx['uid_owners'] = _uid_owners(live_specs)
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
    ops = {}
    for key, option in _spec.OPERATION_OPTIONS.items():
        value = raw.get(key)
        ops[key] = option.get('default') if value is None else value
    return ops


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
    if live is None:
        return {'action': 'create', 'reasons': ['no container named %s' % spec['name']], 'desired': desired}
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
    if reasons:
        return {'action': 'recreate', 'reasons': _dedupe(reasons), 'desired': desired}
    running = bool((live.get('State') or {}).get('Running'))
    if state == 'started' and not running:
        return {'action': 'start', 'reasons': ['container is not running'], 'desired': desired}
    if state == 'stopped' and running:
        return {'action': 'stop', 'reasons': ['state is stopped'], 'desired': desired}
    return {'action': 'none', 'reasons': [], 'desired': desired}


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
        """{name: inspect} for the given service names and their __previous leftovers."""
        live = {}
        if managed_only_listing:
            for inspect in self.engine.managed_containers():
                live[inspect['Name'].lstrip('/')] = inspect
        for name in names:
            for candidate in (name, name + PREVIOUS_SUFFIX):
                if candidate not in live:
                    inspect = self.engine.inspect_container(candidate)
                    if inspect is not None:
                        live[candidate] = inspect
        return live

    def run(self, raws, prune=False, check_unique_uid=False):
        # The one check that needs the engine (its CPU count) runs here, still before any change.
        specs, ctx = load_specs(raws, self.engine.host_cpus(), check_unique_uid)
        names = [spec['name'] for spec, _ in specs]
        live = self.live_containers(names, managed_only_listing=prune or len(specs) > 1)
        self._recover_leftovers(names, live)

        results, plans = [], []
        for spec, ops in specs:
            image = None
            if ops['state'] != 'absent':
                if self.check_mode and ops['pull'] != 'never':
                    image = self.engine.inspect_image(spec['image']) if ops['pull'] == 'missing' else None
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

        if not self.check_mode:
            needed_networks = sorted(set(n for spec, ops, plan in plans if plan['action'] in ('create', 'recreate')
                                         for n in spec['networks']))
            self.engine.ensure_networks(needed_networks)
            with ThreadPoolExecutor(max_workers=PARALLEL_CALLS) as pool:
                outcomes = list(pool.map(lambda item: self._execute(item[0], item[1], item[2], live, ctx), plans))
                list(pool.map(self._prune, pruned))
        else:
            outcomes = [self._planned(spec, plan, live, ctx) for spec, ops, plan in plans]

        for (spec, ops, plan), outcome in zip(plans, outcomes):
            result = {'name': spec['name'], 'action': plan['action'], 'reasons': plan['reasons'],
                      'changed': plan['action'] != 'none',
                      'diff': _spec.diff_view(spec, plan['desired'], live.get(spec['name']))}
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
                'findings': policy.evaluate(subject, ctx) if subject else []}

    def _execute(self, spec, ops, plan, live, ctx):
        action = plan['action']
        old = live.get(spec['name'])
        outcome = {'failed': False, 'steps': []}
        try:
            if action == 'remove':
                self.engine.remove(old['Id'])
                outcome['steps'].append('removed')
                if spec['networks'] == [_spec.DEFAULT_NETWORK_PREFIX + spec['name']]:
                    if self.engine.remove_network_if_unused(spec['networks'][0]):
                        outcome['steps'].append('removed network %s' % spec['networks'][0])
                outcome['container'] = {}
                outcome['findings'] = []
                return outcome
            if action == 'start':
                self.engine.start(old['Id'])
                outcome['steps'].append('started')
                ok, state = self.engine.wait_running(old['Id'], ops['grace_period'], ops['healthy_timeout'])
                if not ok:
                    outcome.update(self._failure(old['Id'], state, 'started container did not stay up'))
            elif action == 'stop':
                self.engine.stop(old['Id'], spec['stop_timeout'])
                outcome['steps'].append('stopped')
            elif action in ('create', 'recreate'):
                self._replace(spec, ops, plan, old, outcome)
        except EngineError as exc:
            outcome.update({'failed': True, 'msg': '%s: %s' % (spec['name'], exc)})
        current = old if action == 'none' else self.engine.inspect_container(spec['name'])
        outcome['container'] = container_view(current)
        outcome['findings'] = policy.evaluate(current, ctx) if current else []
        return outcome

    def _replace(self, spec, ops, plan, old, outcome):
        """Safe replace: keep the old container aside until the new one proved itself."""
        was_running = bool(old and (old.get('State') or {}).get('Running'))
        if old is not None:
            if was_running:
                self.engine.stop(old['Id'], spec['stop_timeout'])
                outcome['steps'].append('stopped old container %s' % old['Id'][:12])
            self.engine.rename(old['Id'], spec['name'] + PREVIOUS_SUFFIX)
        new_id = None
        try:
            new_id = self.engine.create(plan['desired'])
            outcome['steps'].append('created %s' % new_id[:12])
            if ops['state'] == 'started':
                self.engine.start(new_id)
                outcome['steps'].append('started %s' % new_id[:12])
                ok, state = self.engine.wait_running(new_id, ops['grace_period'], ops['healthy_timeout'])
                if not ok:
                    raise _Unhealthy(new_id, state)
        except (EngineError, _Unhealthy) as exc:
            failure = self._failure(new_id, exc.state, 'new container did not stay up') if isinstance(exc, _Unhealthy) \
                else {'failed': True, 'msg': '%s: %s' % (spec['name'], exc)}
            if new_id:
                self.engine.remove(new_id)
            if old is not None:
                self.engine.rename(old['Id'], spec['name'])
                if was_running:
                    self.engine.start(old['Id'])
                outcome['steps'].append('rolled back to %s' % old['Id'][:12])
                failure['msg'] += '; rolled back to the previous container %s' % old['Id'][:12]
            outcome.update(failure)
            return
        if old is not None:
            self.engine.remove(old['Id'])
            outcome['steps'].append('removed old container %s' % old['Id'][:12])

    def _failure(self, container_id, state, what):
        state = state or {}
        logs = self.engine.logs_tail(container_id) if container_id else []
        health = state.get('Health') or {}
        detail = {'exit_code': state.get('ExitCode'), 'status': state.get('Status'),
                  'health': health.get('Status'), 'error': state.get('Error') or None, 'logs': logs}
        msg = '%s (status %s, exit code %s%s); last log lines: %s' % (
            what, state.get('Status'), state.get('ExitCode'),
            ', health %s' % health.get('Status') if health.get('Status') else '', ' | '.join(logs[-10:]) or '(none)')
        return {'failed': True, 'msg': msg, 'failure': detail}


class _Unhealthy(Exception):
    def __init__(self, container_id, state):
        super(_Unhealthy, self).__init__('unhealthy')
        self.container_id = container_id
        self.state = state
