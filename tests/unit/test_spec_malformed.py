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
    service = dict(GOOD, name=BAD, command='sleep 60')
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
