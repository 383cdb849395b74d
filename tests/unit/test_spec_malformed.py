# -*- coding: utf-8 -*-
"""Every malformed spec of tests/malformed_specs.py (and those JSON cannot carry) is refused by
load_specs, the door of every run, with a SpecError naming the service and the field: never another
exception, never accepted. The engine side of the same table: tests/integration/test_malformed_specs.py."""

from __future__ import annotations

import math

import pytest

from ansible_collections.containment.docker.plugins.module_utils import _converge, _spec
from ansible_collections.containment.docker.plugins.module_utils._spec import SpecError

from malformed_specs import cases

GOOD = dict(name='good-a', image='containment-test/busybox:1', user='1500:1500', memory='32m', cpus=0.25)
BAD = 'bad'

ONLY_HERE = [  # not JSON: the engine test cannot write these into a playbook
    ('cpus float nan', dict(cpus=math.nan), 'cpus'),
    ('cpus float inf', dict(cpus=math.inf), 'cpus'),
    ('grace_period float nan', dict(grace_period=math.nan), 'grace_period'),
    ('healthy_timeout float inf', dict(healthy_timeout=math.inf), 'healthy_timeout'),
    ('healthcheck interval given as seconds inf', dict(healthcheck={'test': 'true', 'interval': math.inf}), 'healthcheck'),
    ('a label with an integer name', dict(labels={1: 'one', 'tier': 'web'}), 'labels'),
    ('env names of mixed types', dict(env={1: 'one', 'A': 'a'}), 'env'),
    ('exceptions keyed by a number', dict(exceptions={1: 'x', 'pids_limit': 'y'}, pids_limit=0), 'exceptions'),
    ('a command given as a number list with a boolean', dict(command=['echo', True]), 'command'),
    ('tmpfs keys of mixed types', dict(tmpfs=[{'path': '/tmp', 'size': '8m', 1: 'x'}]), 'tmpfs'),
    ('a healthcheck key that is a number', dict(healthcheck={'test': 'true', 1: 'x'}), 'healthcheck'),
    ('a network_mode given as a list', dict(network_mode=['host']), 'network_mode'),
    ('an image given as a list', dict(image=['busybox']), 'image'),
]
CASES = cases(lambda suffix: suffix) + ONLY_HERE


def bad_service(options):
    service = dict(GOOD, name=BAD, command='sleep 60', user='1599:1599')
    service.update(options)
    return service


@pytest.mark.parametrize('options, field', [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_malformed_spec_is_refused_naming_service_and_field(options, field):
    service = bad_service(options)
    with pytest.raises(SpecError) as err:
        _converge.load_specs([GOOD, dict(GOOD, name='good-b', user='1501:1501'), service], check_unique_uid=True)
    problems = err.value.problems
    assert [p['field'] for p in problems if p['service'] == service['name']] and \
        field in [p['field'] for p in problems if p['service'] == service['name']], problems
    assert all(p['service'] == service['name'] for p in problems), 'a good service was blamed: %r' % problems
    for problem in problems:
        assert problem['rule'] and problem['message'] and problem['fix']
        assert _spec.format_problem(problem) in str(err.value)


def test_the_table_is_big_enough_and_its_ids_unique():
    ids = [c[0] for c in CASES]
    assert len(cases(str)) >= 50 and len(set(ids)) == len(ids)


def test_every_problem_of_a_service_is_reported_in_one_pass():
    service = bad_service(dict(name='bad', memory=10 ** 30, cpus='nan', state='bogus', grace_period='abc',
                               healthcheck={'test': 'true', 'retries': -1, 'interval': '500us'},
                               security_opts=['bogus'], network_mode='bogus', pid_mode='bogus', command='sh -c "x'))
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(service)
    fields = sorted(p['field'] for p in err.value.problems)
    assert fields == sorted(['memory', 'cpus', 'state', 'grace_period', 'healthcheck', 'healthcheck', 'security_opts',
                             'network_mode', 'pid_mode', 'command']), fields


@pytest.mark.parametrize('options', [
    dict(name='ab'), dict(name='a.b_c-1'), dict(image='registry.local:5000/team/app:1.2-rc_1'),
    dict(image='Registry.Local/app@sha256:' + 'a' * 64), dict(image='sha256:' + 'b' * 64), dict(image='app'),
    dict(command=['sleep', 60]), dict(command='sh -c "sleep 60"'), dict(cpus='0.5'), dict(cpus=0.01),
    dict(pids_limit='64'), dict(pids_limit=-1, exceptions={'pids_limit': 'a fork server'}), dict(stop_timeout=0),
    dict(memory_swap='64m'), dict(restart_retries=0), dict(network_mode='none'), dict(network_mode='container:good-a'),
    dict(pid_mode='container:good-a'), dict(networks=['n']), dict(volumes=['ab:/data']),
    dict(security_opts=['no-new-privileges', 'no-new-privileges=true', 'label=disable', 'label:type:svirt_t',
                        'apparmor=docker-default', 'seccomp={"defaultAction": "SCMP_ACT_ERRNO"}']),
    dict(devices=['/dev/fuse'], exceptions={'no_devices': 'fuse mounts'}),
    dict(devices=['/dev/fuse:rw'], exceptions={'no_devices': 'fuse mounts'}),
    dict(healthcheck={'test': ['CMD', 'true'], 'interval': '1ms', 'timeout': 0, 'retries': 0, 'start_period': '0s'}),
    dict(healthcheck={'test': ['NONE']}), dict(env={'EMPTY': '', 'FLAG': True, 'N': 3}), dict(labels={'tier': 3}),
    dict(state='absent'), dict(pull='never'), dict(grace_period='0.5'), dict(grace_period=0), dict(healthy_timeout=1e2),
], ids=repr)
def test_what_the_engine_takes_is_still_accepted(options):
    spec = _spec.normalize_spec(bad_service(options))
    assert spec['name'] == bad_service(options)['name']


def test_operations_are_canonical_numbers_with_defaults():
    assert _spec.operations(dict(GOOD, grace_period='0.5')) == {
        'state': 'started', 'pull': 'missing', 'grace_period': 0.5, 'healthy_timeout': 60, 'recreate': False, 'restart': False}
    assert _spec.operations(dict(GOOD, recreate='yes', restart=False))['recreate'] is True
    with pytest.raises(SpecError) as err:
        _spec.operations(dict(GOOD, restart='sometimes'))
    assert [(p['service'], p['field']) for p in err.value.problems] == [('good-a', 'restart')]
    with pytest.raises(SpecError) as err:
        _spec.operations(dict(GOOD, pull='sometimes'))
    assert [(p['service'], p['field']) for p in err.value.problems] == [('good-a', 'pull')]


def test_a_device_with_permissions_in_second_place_is_read_as_the_docker_cli_does():
    spec = _spec.normalize_spec(bad_service(dict(devices=['/dev/fuse:rw'], exceptions={'no_devices': 'fuse'})))
    assert spec['devices'] == [{'host': '/dev/fuse', 'container': '/dev/fuse', 'permissions': 'rw'}]


def problems_of(raws):
    with pytest.raises(SpecError) as err:
        _converge.load_specs(raws, check_unique_uid=True)
    return err.value.problems


def test_a_typo_a_wrong_type_and_policy_breaches_of_one_service_in_one_pass():
    service = dict(name='web', image='containment-test/busybox:1', user='root', memroy='32m', cpus=0.25,
                   pids_limit='many', ports=['8080:80'], cap_add=['NET_ADMIN'])
    problems = problems_of([service])
    found = sorted((p['field'], p['rule']) for p in problems)
    assert found == sorted([('memroy', 'unknown option'), ('memory', 'required'), ('pids_limit', 'format'),
                            ('user', 'non_root_user (floor)'), ('ports', 'ports_bound (baseline)'),
                            ('cap_add', 'cap_drop_all (baseline)')]), problems
    typo = next(p for p in problems if p['field'] == 'memroy')
    assert typo['fix'].startswith("did you mean 'memory'?"), typo
    # no control is reported on a field whose value is a stand-in: memory (and memory_swap, which defaults to it)
    assert not [p for p in problems if p['field'] in ('memory', 'memory_swap', 'pids_limit') and '(' in p['rule']], problems
    assert all(p['service'] == 'web' and p['message'] and p['fix'] for p in problems)


def test_every_service_of_a_stack_in_one_message():
    good = dict(GOOD, name='ok', user='1600:1600')
    problems = problems_of([dict(GOOD, name='svc-a', memroy='1g'), good,
                            dict(GOOD, name='svc-b', user='0:0', helthcheck={'test': 'true'}, ports=['80'])])
    assert sorted((p['service'], p['field']) for p in problems) == [
        ('svc-a', 'memroy'), ('svc-b', 'helthcheck'), ('svc-b', 'ports'), ('svc-b', 'user')], problems
    text = str(SpecError(problems))
    for name in ('svc-a', 'svc-b'):
        assert "service '%s'" % name in text
    assert "did you mean 'healthcheck'?" in text and "did you mean 'memory'?" in text


@pytest.mark.parametrize('options, field, words', [
    (dict(memroy='32m'), 'memroy', "did you mean 'memory'?"),
    (dict(read_only_rootfs=True), 'read_only_rootfs', 'read_only_rootfs is a floor control of the policy, not an option'),
    (dict(read_only=False), 'read_only', 'the collection always sets it to True'),
    (dict(pids_limt=64), 'pids_limt', "did you mean 'pids_limit'?"),
    (dict(no_swap=True), 'no_swap', 'name it in exceptions with a written reason'),
    (dict(healthcheck={'test': 'true', 'intervall': '5s'}), 'healthcheck', "did you mean 'interval'?"),
    (dict(tmpfs=[{'path': '/tmp', 'sise': '8m'}]), 'tmpfs', "did you mean 'size'?"),
    (dict(zzz=1), 'zzz', 'the options are: '),
])
def test_an_unknown_key_names_the_closest_option_of_the_table(options, field, words):
    problems = [p for p in problems_of([bad_service(options)]) if p['field'] == field]
    assert problems and words in _spec.format_problem(problems[0]), problems
