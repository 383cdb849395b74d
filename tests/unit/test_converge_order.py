# -*- coding: utf-8 -*-
"""Start order and the recreate / restart triggers, without an engine: depends_on in every form
Compose writes it, the stack-level refusals (unknown name, dependency not started, cycle, a
service_healthy dependency without a healthcheck), the start levels, the gate a service passes
to begin and to keep its change, and what recreate / restart make of a plan."""

from __future__ import annotations

import pytest

from ansible_collections.containment.docker.plugins.module_utils import _converge
from ansible_collections.containment.docker.plugins.module_utils import _spec
from ansible_collections.containment.docker.plugins.module_utils._spec import SpecError

from test_converge_plan import IMAGE, created, ops, spec_of

HEALTHCHECK = {'test': 'test -e /tmp/ready', 'interval': '1s'}


def svc(name, depends_on=None, uid=1600, **extra):
    service = dict(name=name, image='containment-test/busybox:1', user='%d:%d' % (uid, uid), memory='16m', cpus=0.1)
    if depends_on is not None:
        service['depends_on'] = depends_on
    service.update(extra)
    return service


def stack(*services):
    return [dict(s, user='%d:%d' % (1600 + i, 1600 + i)) for i, s in enumerate(services)]


def problems_of(raws):
    with pytest.raises(SpecError) as err:
        _converge.load_specs(raws)
    return [(p['service'], p['field'], p['rule'], p['message']) for p in err.value.problems]


STARTED, HEALTHY = 'service_started', 'service_healthy'


@pytest.mark.parametrize('given, normalised', [
    (None, []),
    ([], []),
    (['db', 'cache'], [{'service': 'cache', 'condition': STARTED}, {'service': 'db', 'condition': STARTED}]),
    ({'db': {'condition': HEALTHY}}, [{'service': 'db', 'condition': HEALTHY}]),
    ({'db': None, 'mq': {'condition': STARTED, 'required': True}},
     [{'service': 'db', 'condition': STARTED}, {'service': 'mq', 'condition': STARTED}]),
    ([{'db': {'condition': HEALTHY}}, 'mq'], [{'service': 'db', 'condition': HEALTHY}, {'service': 'mq', 'condition': STARTED}]),
    ([{'service': 'db', 'condition': HEALTHY}, {'service': 'mq'}],
     [{'service': 'db', 'condition': HEALTHY}, {'service': 'mq', 'condition': STARTED}]),
])
def test_depends_on_is_normalised_from_every_form_compose_writes(given, normalised):
    assert _spec.normalize_spec(svc('api', given))['depends_on'] == normalised


@pytest.mark.parametrize('given, words', [
    ('db', 'must be a list or a mapping'),
    ([1], 'is not a service name'),
    ([''], 'is not a service name'),
    ({'db': {'condition': 'service_completed_successfully'}}, "condition 'service_completed_successfully' is not one of"),
    ({'db': {'condition': 'healthy'}}, 'is not one of service_started, service_healthy'),
    ({'db': {'restart': True}}, 'restart not supported'),
    ({'db': {'condition': STARTED, 'required': False}}, 'required False is not supported'),
    (['db', {'db': {'condition': HEALTHY}}], 'names db twice'),
    ({'db': 'service_healthy'}, 'is not a service name or'),
])
def test_malformed_depends_on_is_refused_naming_the_field(given, words):
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(svc('api', given))
    assert [(p['service'], p['field']) for p in err.value.problems] == [('api', 'depends_on')]
    assert words in err.value.problems[0]['message'], err.value.problems[0]['message']


def test_depends_on_is_not_part_of_the_container():
    plain, ordered = _spec.normalize_spec(svc('api')), _spec.normalize_spec(svc('api', {'db': {'condition': HEALTHY}}))
    assert _spec.spec_hash(plain, 'sha256:' + 'a' * 64) == _spec.spec_hash(ordered, 'sha256:' + 'a' * 64)
    assert _spec.desired_inspect(plain) == _spec.desired_inspect(ordered)


def levels_of(raws):
    services, _ctx = _converge.load_specs(raws)
    return _converge.start_levels(services)


@pytest.mark.parametrize('raws, levels', [
    (stack(svc('aa'), svc('bb'), svc('cc')), [['aa', 'bb', 'cc']]),
    (stack(svc('web', ['api']), svc('api', ['db']), svc('db')), [['db'], ['api'], ['web']]),
    (stack(svc('web', ['api', 'db']), svc('api', ['db']), svc('db'), svc('cache')), [['cache', 'db'], ['api'], ['web']]),
    # a diamond: b and c overlap
    (stack(svc('dd', ['bb', 'cc']), svc('bb', ['aa']), svc('cc', ['aa']), svc('aa')), [['aa'], ['bb', 'cc'], ['dd']]),
    # a stopped service waits for nothing (its dependencies are not checked either)
    (stack(svc('web', ['gone'], state='stopped'), svc('api')), [['api']]),
])
def test_services_start_in_levels_of_their_dependencies(raws, levels):
    assert levels_of(raws) == levels


@pytest.mark.parametrize('raws, expected', [
    (stack(svc('api', ['db'])),
     [('api', 'depends_on', 'unknown service', 'depends on db, which is not a service of this run')]),
    (stack(svc('api', ['db']), svc('db', state='stopped')),
     [('api', 'depends_on', 'dependency not started', 'depends on db, whose state is stopped')]),
    (stack(svc('api', ['db']), svc('db', state='absent')),
     [('api', 'depends_on', 'dependency not started', 'depends on db, whose state is absent')]),
    (stack(svc('api', ['api'])), [('api', 'depends_on', 'cycle', 'the services depend on each other in a circle: api -> api')]),
    (stack(svc('cc', ['aa']), svc('aa', ['bb']), svc('bb', ['cc']), svc('web', ['aa']), svc('db')),
     [('aa', 'depends_on', 'cycle', 'the services depend on each other in a circle: aa -> bb -> cc -> aa')]),
    (stack(svc('aa', ['bb']), svc('bb', ['aa']), svc('xx', ['yy']), svc('yy', ['xx'])),
     [('aa', 'depends_on', 'cycle', 'the services depend on each other in a circle: aa -> bb -> aa'),
      ('xx', 'depends_on', 'cycle', 'the services depend on each other in a circle: xx -> yy -> xx')]),
    (stack(svc('api', {'db': {'condition': HEALTHY}}), svc('db', healthcheck={'test': ['NONE']})),
     [('api', 'depends_on', 'condition service_healthy',
       "depends on db being healthy, but db has no healthcheck (neither its own nor its image's)")]),
    (stack(svc('api', restart=True, state='stopped'), svc('db', recreate=True, state='absent')),
     [('api', 'restart', 'format', 'restart: true with state stopped: there is nothing running to restart'),
      ('db', 'recreate', 'format', 'recreate: true with state absent, which removes the container')]),
])
def test_start_order_problems_are_refused_before_any_change(raws, expected):
    assert problems_of(raws) == expected


def test_a_refusal_names_the_fix():
    with pytest.raises(SpecError) as err:
        _converge.load_specs(stack(svc('aa', ['bb']), svc('bb', ['aa'])))
    assert 'remove one of these dependencies' in str(err.value)
    with pytest.raises(SpecError) as err:
        _converge.load_specs(stack(svc('api', ['db'])))
    assert 'add the service db to the same list of services' in str(err.value)


NO_HEALTHCHECK_IMAGE = {'Id': 'sha256:' + 'c' * 64, 'Config': {}}


@pytest.mark.parametrize('db, image, refused', [
    ({}, NO_HEALTHCHECK_IMAGE, True),            # neither the spec nor the image has one
    ({}, IMAGE, False),                          # the image's HEALTHCHECK counts
    ({}, None, False),                           # image not known yet (check mode, to be pulled): not judged
    ({'healthcheck': HEALTHCHECK}, NO_HEALTHCHECK_IMAGE, False),
    ({'healthcheck': {'test': ['NONE']}}, IMAGE, True),   # caught by load_specs already; the image does not undo it
])
def test_service_healthy_needs_a_healthcheck_of_the_spec_or_the_image(db, image, refused):
    services = [(_spec.normalize_spec(svc('api', {'db': {'condition': HEALTHY}})), ops()),
                (_spec.normalize_spec(svc('db', **db)), ops())]
    problems = _converge.healthcheck_problems(services, {'api': IMAGE, 'db': image})
    assert bool(problems) == refused
    assert all((p['service'], p['field']) == ('api', 'depends_on') for p in problems)


def on(**conditions):
    return [{'service': name, 'condition': condition} for name, condition in sorted(conditions.items())]


@pytest.mark.parametrize('depends_on, status, finishing, verdict', [
    ([], {}, False, 'go'),
    (on(db=STARTED), {'db': 'pending'}, False, 'wait'),
    (on(db=STARTED), {'db': 'running'}, False, 'go'),          # service_started: it runs, its watch goes on
    (on(db=STARTED), {'db': 'running'}, True, 'wait'),         # but the change is kept only once db is done
    (on(db=HEALTHY), {'db': 'running'}, False, 'wait'),        # service_healthy: proven (healthy) first
    (on(db=HEALTHY), {'db': 'done'}, False, 'go'),
    (on(db=STARTED), {'db': 'done'}, True, 'go'),
    (on(db=STARTED), {'db': 'failed'}, False, 'its dependency db failed'),
    (on(db=STARTED), {'db': 'failed'}, True, 'its dependency db failed'),
    (on(db=STARTED, mq=STARTED), {'db': 'pending', 'mq': 'failed'}, False, 'its dependency mq failed'),  # a failure wins
    (on(db=STARTED), {'db': 'unchanged:running:'}, False, 'go'),
    (on(db=STARTED), {'db': 'unchanged:running:starting'}, True, 'go'),
    (on(db=HEALTHY), {'db': 'unchanged:running:healthy'}, False, 'go'),
    (on(db=HEALTHY), {'db': 'unchanged:running:starting'}, False, 'its dependency db is not healthy (health starting)'),
    (on(db=HEALTHY), {'db': 'unchanged:running:'}, False, 'its dependency db is not healthy (health none)'),
    (on(db=STARTED), {'db': 'unchanged:exited:'}, False, 'its dependency db is not running (status exited)'),
])
def test_the_gate_a_service_passes_to_begin_and_to_keep_its_change(depends_on, status, finishing, verdict):
    assert _converge.dependency_gate(depends_on, status, finishing) == verdict


def job(action, stage, failure=None, health=None):
    spec = _spec.normalize_spec(svc('db'))
    state = {'Status': 'running', 'Running': True}
    if health:
        state['Health'] = {'Status': health}
    entry = _converge._Job(spec, ops(), {'action': action}, {'Id': 'x', 'State': state})
    entry.stage, entry.failure = stage, failure
    return entry


@pytest.mark.parametrize('action, stage, failure, health, status', [
    ('none', 'done', None, None, 'unchanged:running:'),
    ('none', 'done', None, 'healthy', 'unchanged:running:healthy'),
    ('recreate', 'waiting', None, None, 'pending'),
    ('recreate', 'beginning', None, None, 'pending'),
    ('recreate', 'watching', None, None, 'running'),
    ('recreate', 'up', None, None, 'running'),
    ('recreate', 'finishing', None, None, 'running'),
    ('recreate', 'finishing', {'msg': 'x'}, None, 'failed'),
    ('recreate', 'done', {'msg': 'x'}, None, 'failed'),
    ('restart', 'done', None, None, 'done'),
])
def test_what_a_dependant_sees_of_a_job(action, stage, failure, health, status):
    assert job(action, stage, failure, health).status() == status


def test_failure_propagates_down_a_chain_through_the_gates():
    """cc fails: bb (waiting on it) is stopped, and so is aa, which waits on bb, with the reason named."""
    deps = {'aa': on(bb=STARTED), 'bb': on(cc=HEALTHY)}
    status = {'cc': 'failed', 'bb': 'pending', 'aa': 'pending'}
    assert _converge.dependency_gate(deps['bb'], status) == 'its dependency cc failed'
    status['bb'] = 'failed'
    assert _converge.dependency_gate(deps['aa'], status) == 'its dependency bb failed'


def plan(spec, live, **operations):
    return _converge.plan_service(spec, dict(ops(), **operations), live, IMAGE, {})


@pytest.mark.parametrize('operations, running, action, reasons', [
    ({}, True, 'none', []),
    ({'recreate': True}, True, 'recreate', ['recreate: true']),
    ({'recreate': True, 'state': 'stopped'}, False, 'recreate', ['recreate: true']),
    ({'restart': True}, True, 'restart', ['restart: true']),
    ({'restart': True}, False, 'start', ['container is not running']),        # a start is the restart
    ({'restart': True, 'recreate': True}, True, 'recreate', ['recreate: true']),
])
def test_recreate_and_restart_triggers(operations, running, action, reasons):
    spec = spec_of()
    result = plan(spec, created(spec, running=running), **operations)
    assert (result['action'], result['reasons']) == (action, reasons)


def test_a_needed_recreate_is_not_doubled_by_restart():
    spec = spec_of()
    result = plan(spec_of(memory='256m'), created(spec), restart=True)
    assert result['action'] == 'recreate' and not any('restart' in r for r in result['reasons']), result['reasons']


def test_recreate_without_a_container_is_a_create():
    assert plan(spec_of(), None, recreate=True)['action'] == 'create'
