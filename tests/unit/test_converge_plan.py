# -*- coding: utf-8 -*-
"""What the converger decides, without an engine: load_specs (every service refused or
accepted before any change) and plan_service over hand-built live `docker inspect` dicts."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.containment.docker.plugins.module_utils import _converge
from ansible_collections.containment.docker.plugins.module_utils import _policy as policy
from ansible_collections.containment.docker.plugins.module_utils import _spec
from ansible_collections.containment.docker.plugins.module_utils._spec import SpecError

MiB = 1024 ** 2
IMAGE_ID = 'sha256:' + 'a' * 64
REBUILT_IMAGE_ID = 'sha256:' + 'b' * 64
IMAGE = {
    'Id': IMAGE_ID,
    'Config': {
        'Env': ['PATH=/usr/local/bin:/bin'],
        'Labels': {'containment.build-hash': '1f2e3d', 'org.opencontainers.image.title': 'web'},
        'Healthcheck': {'Test': ['CMD', 'wget', '-q', '-O-', 'http://127.0.0.1:8080/healthz']},
    },
}


def raw(**overrides):
    service = dict(name='web', image='containment-test/web:1', user='1500:1500', memory='128m', cpus=0.5,
                   ports=['127.0.0.1:8080:8080'], cap_add=['NET_BIND_SERVICE'],
                   exceptions={'cap_drop_all': 'NET_BIND_SERVICE: binds port 80'})
    service.update(overrides)
    return service


def spec_of(**overrides):
    return _spec.normalize_spec(raw(**overrides))


def ops(state='started'):
    return {'state': state, 'pull': 'missing', 'grace_period': 3, 'healthy_timeout': 60}


def created(spec, image=None, running=True):
    """The live container the engine made from the plan: the image's env and labels merged
    in, capabilities reported with the CAP_ prefix, engine defaults filled."""
    image = image or IMAGE
    desired = _converge.plan_service(spec, ops(), None, image, {})['desired']
    live = copy.deepcopy(desired)
    live['Id'] = 'c0ffee' * 10 + 'beef'
    live['State'] = {'Status': 'running' if running else 'exited', 'Running': running, 'ExitCode': 0}
    live['Config']['Env'] = image['Config']['Env'] + live['Config']['Env']
    live['Config']['Labels'] = dict(image['Config']['Labels'], **live['Config']['Labels'])
    live['HostConfig']['CapAdd'] = ['CAP_' + c for c in live['HostConfig']['CapAdd'] or []]
    live['HostConfig']['IpcMode'] = 'private'
    return live


def changed(live, **paths):
    """live with dotted-path fields replaced: changed(live, **{'HostConfig.Memory': 1})."""
    live = copy.deepcopy(live)
    for path, value in paths.items():
        *parents, leaf = path.split('.')
        node = live
        for key in parents:
            node = node[key]
        node[leaf] = value
    return live


def without_label(live, key):
    live = copy.deepcopy(live)
    del live['Config']['Labels'][key]
    return live


SPEC = spec_of()
LIVE = created(SPEC)
STOPPED = created(SPEC, running=False)

# (sentence, spec, state, live, image, action, reasons that must be among the plan's)
PLANS = [
    ('no container: create', SPEC, 'started', None, IMAGE, 'create', ['no container named web', 'image containment-test/web:1 (aaaaaaaaaaaa)']),
    ('no container and state stopped: create (not started)', SPEC, 'stopped', None, IMAGE, 'create', []),
    ('the same container running: nothing to do', SPEC, 'started', LIVE, IMAGE, 'none', []),
    ('the same container stopped: start it', SPEC, 'started', STOPPED, IMAGE, 'start', ['container is not running']),
    ('the same container running and state stopped: stop it', SPEC, 'stopped', LIVE, IMAGE, 'stop',
     ['state is stopped']),
    ('the same container stopped and state stopped: nothing to do', SPEC, 'stopped', STOPPED, IMAGE, 'none', []),
    ('state absent with a container: remove it', SPEC, 'absent', LIVE, IMAGE, 'remove', ['state is absent']),
    ('state absent without a container: nothing to do', SPEC, 'absent', None, IMAGE, 'none', []),
    ('an extra label on the live container: nothing to do', SPEC, 'started',
     changed(LIVE, **{'Config.Labels': dict(LIVE['Config']['Labels'], team='web')}), IMAGE, 'none', []),
    ('memory raised by docker update: recreate', SPEC, 'started', changed(LIVE, **{'HostConfig.Memory': 1024 * MiB}),
     IMAGE, 'recreate', ["memory differs: live '1g', wanted '128m'", 'live container fails no_swap: '
                         'MemorySwap 134217728 differs from Memory 1073741824, so the container can swap']),
    ('pids limit lifted by docker update: recreate', SPEC, 'started', changed(LIVE, **{'HostConfig.PidsLimit': 0}),
     IMAGE, 'recreate', ['pids_limit differs: live 0, wanted 256']),
    ('an extra capability: recreate', SPEC, 'started',
     changed(LIVE, **{'HostConfig.CapAdd': ['CAP_NET_BIND_SERVICE', 'CAP_NET_RAW']}), IMAGE, 'recreate',
     ["cap_add differs: live ['NET_BIND_SERVICE', 'NET_RAW'], wanted ['NET_BIND_SERVICE']"]),
    ('an extra security option: recreate', SPEC, 'started',
     changed(LIVE, **{'HostConfig.SecurityOpt': ['no-new-privileges:true', 'seccomp=unconfined']}), IMAGE,
     'recreate', ['live container fails security_profiles: security option seccomp=unconfined turns a confinement off']),
    ('an exception label removed by hand: recreate', SPEC, 'started',
     without_label(LIVE, policy.LABEL_EXCEPTION + 'cap_drop_all'), IMAGE, 'recreate', ['labels differ']),
    ('the spec hash label edited: recreate', SPEC, 'started',
     changed(LIVE, **{'Config.Labels': dict(LIVE['Config']['Labels'], **{policy.LABEL_SPEC_HASH: '0' * 64})}),
     IMAGE, 'recreate', ['spec changed (hash label)']),
    ('host uts namespace: recreate', SPEC, 'started', changed(LIVE, **{'HostConfig.UTSMode': 'host'}), IMAGE,
     'recreate', ["uts_mode differs: live 'host', wanted ''", 'live container fails no_host_namespaces: UTSMode is host']),
    ('the spec asks for more memory: recreate', spec_of(memory='256m'), 'started', LIVE, IMAGE, 'recreate',
     ['spec changed (hash label)', "memory differs: live '128m', wanted '256m'"]),
    ('the spec changes an environment value: recreate', spec_of(env={'GREETING': 'bye'}), 'started',
     created(spec_of(env={'GREETING': 'hello'})), IMAGE, 'recreate', ['spec changed (hash label)']),
    ('the tag now points to a rebuilt image: recreate', SPEC, 'started', LIVE, dict(IMAGE, Id=REBUILT_IMAGE_ID),
     'recreate', ['spec changed (hash label)', 'image containment-test/web:1 is another image: live aaaaaaaaaaaa, wanted bbbbbbbbbbbb']),
    ('a container of that name not made by the collection: recreate', SPEC, 'started',
     without_label(LIVE, policy.LABEL_MANAGED), IMAGE, 'recreate',
     ['container web was not created by containment.docker']),
    ('the image is not resolved yet (check mode with pull): recreate', SPEC, 'started', LIVE, None, 'recreate',
     ['image containment-test/web:1 would be pulled']),
    ('a changed container that is stopped: recreate, not start', SPEC, 'started',
     changed(STOPPED, **{'HostConfig.Memory': 1024 * MiB}), IMAGE, 'recreate', ["memory differs: live '1g', wanted '128m'"]),
]


@pytest.mark.parametrize('spec, state, live, image, action, reasons', [case[1:] for case in PLANS],
                         ids=[case[0] for case in PLANS])
def test_plan_service(spec, state, live, image, action, reasons):
    plan = _converge.plan_service(spec, ops(state), live, image, {})
    assert plan['action'] == action, plan['reasons']
    for reason in reasons:
        assert reason in plan['reasons']
    if action in ('none', 'start', 'stop'):
        assert plan['reasons'] == reasons
    if action == 'recreate':
        assert plan['reasons'] and len(plan['reasons']) == len(set(plan['reasons']))
    if state == 'absent':
        assert plan['desired'] is None
    else:
        assert plan['desired']['Config']['Labels'][policy.LABEL_SERVICE] == 'web'


def test_the_desired_container_carries_the_hash_of_spec_and_image():
    desired = _converge.plan_service(SPEC, ops(), None, IMAGE, {})['desired']
    assert desired['Config']['Labels'][policy.LABEL_SPEC_HASH] == _spec.spec_hash(SPEC, IMAGE_ID)
    assert desired['Image'] == IMAGE_ID
    assert desired['Config']['Healthcheck'] == IMAGE['Config']['Healthcheck']


def test_plan_service_does_not_change_its_inputs():
    spec, live, image = copy.deepcopy(SPEC), copy.deepcopy(LIVE), copy.deepcopy(IMAGE)
    _converge.plan_service(spec, ops(), changed(live, **{'HostConfig.Memory': 1}), image, {})
    assert (spec, live, image) == (SPEC, LIVE, IMAGE)


# ---------------------------------------------------------------- load_specs: all refused before any change

def test_load_specs_returns_specs_with_operation_defaults():
    loaded, ctx = _converge.load_specs([raw(), raw(name='api', user='1600:1600', state='stopped')], host_cpus=2)
    assert [(spec['name'], operations['state'], operations['pull']) for spec, operations in loaded] == [
        ('web', 'started', 'missing'), ('api', 'stopped', 'missing')]
    assert ctx == {'host_cpus': 2}


def test_load_specs_refuses_two_services_with_one_name():
    with pytest.raises(SpecError) as err:
        _converge.load_specs([raw(), raw(user='1600:1600')])
    assert [(p['service'], p['field'], p['rule']) for p in err.value.problems] == [('web', 'name', 'format')]


def test_load_specs_reports_every_service_problem_at_once():
    with pytest.raises(SpecError) as err:
        _converge.load_specs([raw(user='root'), raw(name='api', user='1600:1600', memory='12x')])
    assert sorted((p['service'], p['field']) for p in err.value.problems) == [('api', 'memory'), ('web', 'user')]


def test_load_specs_checks_cpus_against_the_host():
    with pytest.raises(SpecError) as err:
        _converge.load_specs([raw(cpus=4)], host_cpus=2)
    assert [(p['field'], p['rule']) for p in err.value.problems] == [('cpus', 'cpu_limit (floor)')]


def test_a_shared_uid_is_refused_for_both_services_when_checked():
    services = [raw(), raw(name='api')]
    assert _converge.load_specs(services)  # not checked: accepted
    with pytest.raises(SpecError) as err:
        _converge.load_specs(services, check_unique_uid=True)
    assert sorted((p['service'], p['field'], p['rule']) for p in err.value.problems) == [
        ('api', 'user', 'unique_uid (baseline)'), ('web', 'user', 'unique_uid (baseline)')]


def test_a_shared_uid_named_in_both_exceptions_is_accepted():
    reason = {'unique_uid': 'web and api share the upload volume', 'cap_drop_all': 'NET_BIND_SERVICE: port 80'}
    loaded, ctx = _converge.load_specs([raw(exceptions=reason), raw(name='api', exceptions=reason)],
                                       check_unique_uid=True)
    assert ctx['uid_owners'] == {'1500': {'web', 'api'}}
    assert len(loaded) == 2


def test_a_service_being_removed_is_not_held_to_the_policy():
    """An old root container can still be removed; it also holds no uid any more."""
    loaded, ctx = _converge.load_specs([raw(user='0:0', state='absent'), raw(name='api', user='0:0', state='absent'),
                                        raw(name='db', user='1600:1600')], check_unique_uid=True)
    assert [operations['state'] for _spec_, operations in loaded] == ['absent', 'absent', 'started']
    assert ctx['uid_owners'] == {'1600': {'db'}}


def test_a_service_being_removed_must_still_be_well_formed():
    with pytest.raises(SpecError) as err:
        _converge.load_specs([raw(state='absent', privileged=True)])
    assert [(p['field'], p['rule']) for p in err.value.problems] == [('privileged', 'unknown option')]


RUNNING = {'Running': True, 'Restarting': False, 'Status': 'running'}
JUDGE = [
    # (why, state, elapsed, grace, healthy_timeout, restarts, verdict)
    ('running within the grace period', RUNNING, 0.5, 1, 60, 0, 'wait'),
    ('running after the grace period', RUNNING, 1.0, 1, 60, 0, 'up'),
    ('exited', {'Running': False, 'Status': 'exited', 'ExitCode': 3}, 0.5, 1, 60, 0, 'down'),
    ('restarting (a crash loop caught between two runs)', dict(RUNNING, Restarting=True, Status='restarting'), 0.5, 1, 60, 0, 'down'),
    # restart policy `always`: a process that exits 3 after 0.3 s is running again 100 ms later, so
    # every look may find it running; the restart count gives it away
    ('running, but restarted once since it was started', RUNNING, 1.2, 1, 60, 1, 'down'),
    ('running after the grace period, restarted meanwhile', RUNNING, 5, 1, 60, 2, 'down'),
    ('unhealthy', dict(RUNNING, Health={'Status': 'unhealthy'}), 0.5, 1, 60, 0, 'down'),
    ('starting health after the grace period', dict(RUNNING, Health={'Status': 'starting'}), 2, 1, 60, 0, 'wait'),
    ('healthy after the grace period', dict(RUNNING, Health={'Status': 'healthy'}), 2, 1, 60, 0, 'up'),
    ('not healthy in time', dict(RUNNING, Health={'Status': 'starting'}), 60, 1, 60, 0, 'down'),
]


@pytest.mark.parametrize('why, state, elapsed, grace, healthy_timeout, restarts, verdict', JUDGE, ids=[j[0] for j in JUDGE])
def test_judge_start(why, state, elapsed, grace, healthy_timeout, restarts, verdict):
    assert _converge.judge_start(state, elapsed, grace, healthy_timeout, restarts) == verdict
