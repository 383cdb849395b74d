# -*- coding: utf-8 -*-
"""A service spec from raw options to the container it would be: parsing, normalisation,
refusals (each naming service, field, rule and fix), desired_inspect, spec_hash, compare."""

from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy
from ansible_collections.containment.docker.plugins.module_utils import _spec
from ansible_collections.containment.docker.plugins.module_utils._spec import SpecError

MiB = 1024 ** 2
GiB = 1024 ** 3
ABSENT = object()
IMAGE_ID = 'sha256:' + 'a' * 64
OTHER_IMAGE_ID = 'sha256:' + 'b' * 64


def raw(**overrides):
    """A minimal service that passes the policy, with options changed (ABSENT deletes one)."""
    service = dict(name='web', image='containment-test/web:1', user='1500:1500', memory='128m', cpus=0.5)
    for key, value in overrides.items():
        if value is ABSENT:
            service.pop(key, None)
        else:
            service[key] = value
    return service


def refusal(exc_info, field, rule):
    """The problem of a SpecError for (field, rule), after checking the error text names them all."""
    problems = exc_info.value.problems
    matching = [p for p in problems if p['field'] == field and p['rule'] == rule]
    assert matching, 'no problem for field %r rule %r in %r' % (field, rule, problems)
    problem = matching[0]
    assert set(problem) == {'service', 'field', 'rule', 'message', 'fix'}
    assert problem['message'] and problem['fix']
    text = str(exc_info.value)
    assert _spec.format_problem(problem) in text
    line = _spec.format_problem(problem)
    assert line.startswith("service %r: field %r: %s: " % (problem['service'] or '?', field, rule))
    assert '. Fix: %s.' % problem['fix'].rstrip('.') in line
    return problem


# ---------------------------------------------------------------- units and formats

@pytest.mark.parametrize('text, size', [
    ('128m', 128 * MiB),
    ('1g', GiB),
    ('64MiB', 64 * MiB),
    ('64mb', 64 * MiB),
    ('512k', 512 * 1024),
    ('1t', 1024 * GiB),
    ('1.5g', int(1.5 * GiB)),
    ('1048576', MiB),
    (1048576, MiB),
    ('100b', 100),
    (' 128M ', 128 * MiB),
], ids=repr)
def test_parse_size_accepts(text, size):
    assert _spec.parse_size(text) == size


@pytest.mark.parametrize('text', ['12x', '-1m', '', 'm', '1.5.2g', 'lots', '1 g b', True, None],
                         ids=repr)
def test_parse_size_refuses(text):
    with pytest.raises(ValueError):
        _spec.parse_size(text)


@pytest.mark.parametrize('text, ns', [
    ('30s', 30 * 10 ** 9), ('1m', 60 * 10 ** 9), ('500ms', 5 * 10 ** 8), ('1h', 3600 * 10 ** 9),
    ('2', 2 * 10 ** 9), (10, 10 * 10 ** 9), (0.5, 5 * 10 ** 8),
], ids=repr)
def test_parse_duration_accepts(text, ns):
    assert _spec.parse_duration(text) == ns


@pytest.mark.parametrize('text', ['soon', '1d', '-1s', True], ids=repr)
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        _spec.parse_duration(text)


@pytest.mark.parametrize('text, parsed', [
    ('127.0.0.1:8080:80', ('127.0.0.1', '8080', 80, 'tcp')),
    ('127.0.0.1:8080:80/udp', ('127.0.0.1', '8080', 80, 'udp')),
    ('127.0.0.1::80', ('127.0.0.1', '', 80, 'tcp')),
    ('[::1]:8080:80', ('::1', '8080', 80, 'tcp')),
    ('[::]:8080:80', ('::', '8080', 80, 'tcp')),
    ('[]:8080:80', ('::', '8080', 80, 'tcp')),
    ('0.0.0.0:8080:80', ('0.0.0.0', '8080', 80, 'tcp')),
    ('8080:80', ('', '8080', 80, 'tcp')),
    (':8080:80', ('', '8080', 80, 'tcp')),
    ('80', ('', '', 80, 'tcp')),
    (' 127.0.0.1:8080:80 ', ('127.0.0.1', '8080', 80, 'tcp')),
], ids=lambda v: v if isinstance(v, str) else '')
def test_parse_port_accepts(text, parsed):
    """Ports without a host IP parse; the policy (ports_bound) refuses them, not the parser."""
    port = _spec.parse_port(text)
    assert (port['host_ip'], port['host_port'], port['container_port'], port['proto']) == parsed


@pytest.mark.parametrize('text', [
    'localhost:8080:80', '127.0.0.1:99999:80', '127.0.0.1:0:80', '127.0.0.1:8080:0', '127.0.0.1:8080:80/icmp',
    '::8080:80', '999.1.1.1:8080:80', '[fe80::zz]:8080:80', 'http', '127.0.0.1:8080:80:90', '',
    '127.0.0.1:8080', '[::1]:8080',
], ids=repr)
def test_parse_port_refuses(text):
    with pytest.raises(ValueError):
        _spec.parse_port(text)


@pytest.mark.parametrize('text, parsed', [
    ('data:/data', ('volume', 'data', '/data', 'rw', False)),
    ('data:/data:ro', ('volume', 'data', '/data', 'ro', True)),
    ('/srv/app:/app', ('bind', '/srv/app', '/app', 'ro', False)),
    ('/srv/app:/app:rw', ('bind', '/srv/app', '/app', 'rw', True)),
    ('/srv/app/:/app/', ('bind', '/srv/app', '/app', 'ro', False)),
], ids=lambda v: v if isinstance(v, str) else '')
def test_parse_volume_accepts(text, parsed):
    """Named volumes are read-write by default, binds read-only unless ':rw' is given."""
    v = _spec.parse_volume(text)
    assert (v['type'], v['source'], v['target'], v['mode'], v['explicit']) == parsed


@pytest.mark.parametrize('text', [
    'data', '/srv/app:/app:q', '/srv/app:/app:rw,ro', 'data:/data:rslave', '/srv/app:/app:nocopy', '/srv/app:/app:z,Z',
    'data:relative', 'my vol:/data', 'a:/b:ro:x', ':/data',
    'srv/app:/app',
], ids=repr)
def test_parse_volume_refuses(text):
    with pytest.raises(ValueError):
        _spec.parse_volume(text)


# ---------------------------------------------------------------- normalisation

def test_normalize_fills_defaults_and_canonical_forms():
    spec = _spec.normalize_spec(raw(user=' 1500:1500 ', memory='1g', cap_add=['net_bind_service', 'CAP_NET_BIND_SERVICE'],
                                    env={'DEBUG': True, 'PORT': 8080}, command='httpd -f -p 8080',
                                    exceptions={'cap_drop_all': '  NET_BIND_SERVICE for port 80  '}))
    assert spec['user'] == '1500:1500'
    assert spec['memory'] == GiB
    assert spec['memory_swap'] is None
    assert spec['cpus'] == 0.5
    assert spec['pids_limit'] == 256
    assert spec['cap_add'] == ['NET_BIND_SERVICE']
    assert spec['env'] == {'DEBUG': 'true', 'PORT': '8080'}
    assert spec['command'] == ['httpd', '-f', '-p', '8080']
    assert spec['entrypoint'] is None
    assert spec['tmpfs'] == [{'path': '/tmp', 'size': 64 * MiB, 'mode': '1777', 'exec_reason': None}]
    assert _spec.network_names(spec) == ['containment_web']
    assert (spec['restart_policy'], spec['restart_retries']) == ('always', 5)
    assert spec['exceptions'] == {'cap_drop_all': 'NET_BIND_SERVICE for port 80'}
    assert spec['healthcheck'] is None
    assert spec['stop_timeout'] == 10


def test_normalize_accepts_operation_options_without_keeping_them():
    spec = _spec.normalize_spec(raw(state='absent', pull='never', grace_period=1, healthy_timeout=5))
    assert not set(_spec.OPERATION_OPTIONS) & set(spec)


def test_normalize_is_idempotent_over_its_own_output_keys():
    first = _spec.normalize_spec(raw(ports=['127.0.0.1:8080:80'], volumes=['data:/data']))
    assert _spec.normalize_spec(raw(ports=['127.0.0.1:8080:80'], volumes=['data:/data'])) == first


def test_a_healthcheck_string_becomes_cmd_shell_with_durations():
    spec = _spec.normalize_spec(raw(healthcheck={'test': 'wget -q -O- http://127.0.0.1:8080/', 'interval': '10s'}))
    assert spec['healthcheck'] == {'test': ['CMD-SHELL', 'wget -q -O- http://127.0.0.1:8080/'], 'retries': 3,
                                   'interval': 10 * 10 ** 9, 'timeout': 30 * 10 ** 9, 'start_period': 0}


FLOOR_FIX = dict((c.id, c.fix) for c in policy.CONTROLS)

NORMALIZE_REFUSES = [
    ('an unknown option privileged', raw(privileged=True), 'privileged', 'unknown option',
     'privileged is not an option: the collection always sets it to False'),
    ('an option to turn read_only off', raw(read_only=False), 'read_only', 'unknown option',
     'read_only is not an option: the collection always sets it to True'),
    ('a misspelled option', raw(memroy='1g'), 'memroy', 'unknown option', "no option 'memroy'"),
    ('a missing user', raw(user=ABSENT), 'user', 'required', 'missing'),
    ('a missing memory', raw(memory=ABSENT), 'memory', 'required', 'missing'),
    ('a missing cpus', raw(cpus=ABSENT), 'cpus', 'required', 'missing'),
    ('memory with a bad unit 12x', raw(memory='12x'), 'memory', 'format', "'12x' is not a size"),
    ('a negative memory -1m', raw(memory='-1m'), 'memory', 'format', "'-1m' is not a size"),
    ('an empty memory', raw(memory=''), 'memory', 'format', 'is not a size'),
    ('memory given as a boolean', raw(memory=True), 'memory', 'format', 'is not a size'),
    ('memory_swap with a bad unit', raw(memory_swap='lots'), 'memory_swap', 'format', 'is not a size'),
    ('cpus that is not a number', raw(cpus='lots'), 'cpus', 'format', 'not a number'),
    ('cpus 0', raw(cpus=0), 'cpus', 'cpu_limit (floor)', 'cpus is 0'),
    ('negative cpus', raw(cpus=-1), 'cpus', 'cpu_limit (floor)', 'cpus is -1'),
    ('pids_limit that is not a number', raw(pids_limit='many'), 'pids_limit', 'format', 'not a whole number'),
    ('restart_retries that is not a number', raw(restart_retries='x'), 'restart_retries', 'format', 'whole number'),
    ('an unknown restart policy', raw(restart_policy='sometimes'), 'restart_policy', 'format', 'sometimes'),
    ('a port with a host name', raw(ports=['localhost:8080:80']), 'ports', 'format', 'localhost'),
    ('a port out of range', raw(ports=['127.0.0.1:99999:80']), 'ports', 'format', 'from 1 to 65535'),
    ('a port with an unknown protocol', raw(ports=['127.0.0.1:8080:80/icmp']), 'ports', 'format', 'icmp'),
    ('a port whose host IP is not an address', raw(ports=['999.1.1.1:8080:80']), 'ports', 'format', '999.1.1.1'),
    ('one host port published twice', raw(ports=['127.0.0.1:8080:80', '127.0.0.1:8080:81']),
     'ports', 'format', 'twice'),
    ('a volume without a target', raw(volumes=['data']), 'volumes', 'format', "'data'"),
    ('a volume with mode q', raw(volumes=['/srv/app:/app:q']), 'volumes', 'format', 'none of ro, rw, z, Z, nocopy'),
    ('a volume with a relative target', raw(volumes=['data:relative']), 'volumes', 'format', 'not an absolute path'),
    ('a volume name with a space', raw(volumes=['my vol:/data']), 'volumes', 'format', 'neither an absolute path'),
    ('two volumes on one target', raw(volumes=['data:/data', '/srv/data:/data']), 'volumes', 'format', '/data'),
    ('a volume on the path of a tmpfs', raw(volumes=['cache:/tmp']), 'volumes', 'format', '/tmp'),
    ('a tmpfs listed twice', raw(tmpfs=[{'path': '/tmp', 'size': '8m'}, {'path': '/tmp/', 'size': '8m'}]),
     'tmpfs', 'format', 'listed twice'),
    ('a relative tmpfs path', raw(tmpfs=[{'path': 'tmp', 'size': '8m'}]), 'tmpfs', 'format', 'not absolute'),
    ('a tmpfs mode that is not octal', raw(tmpfs=[{'path': '/tmp', 'size': '8m', 'mode': 'rwx'}]),
     'tmpfs', 'format', 'not octal'),
    ('a tmpfs size with a bad unit', raw(tmpfs=[{'path': '/tmp', 'size': '12x'}]), 'tmpfs', 'format', 'not a size'),
    ('a tmpfs option exec (use exec_reason)', raw(tmpfs=[{'path': '/tmp', 'size': '8m', 'exec': True}]),
     'tmpfs', 'unknown option', "'exec'"),
    ('a blank tmpfs exec_reason', raw(tmpfs=[{'path': '/tmp', 'size': '8m', 'exec_reason': '  '}]),
     'tmpfs', 'tmpfs_hardened (floor)', 'exec_reason is empty'),
    ('a label with the reserved prefix', raw(labels={'containment.managed': 'false'}), 'labels', 'format',
     'reserved prefix'),
    ('an exception smuggled in as a label', raw(labels={'containment.exception.cap_drop_all': 'x'}),
     'labels', 'format', 'reserved prefix'),
    ('an environment name with a dash', raw(env={'BAD-NAME': 'x'}), 'env', 'format', 'BAD-NAME'),
    ('an environment value that is a dict', raw(env={'CONF': {'a': 1}}), 'env', 'format', 'CONF'),
    ('a container name with spaces', raw(name='my web'), 'name', 'format', 'not a valid container name'),
    ('a network name with spaces', raw(networks=['front end']), 'networks', 'format', 'front end'),
    ('networks beside network_mode', raw(networks=['a'], network_mode='host'), 'networks', 'format', 'both set'),
    ('a device without an absolute host path', raw(devices=['fuse']), 'devices', 'format', "'fuse'"),
    ('a healthcheck without test', raw(healthcheck={'interval': '5s'}), 'healthcheck', 'format', 'missing'),
    ('a healthcheck interval that is not a duration', raw(healthcheck={'test': 'true', 'interval': 'soon'}),
     'healthcheck', 'format', 'soon'),
    ('a misspelled healthcheck option', raw(healthcheck={'test': 'true', 'intervall': '5s'}),
     'healthcheck', 'unknown option', 'intervall'),
    ('healthcheck retries that are not a number', raw(healthcheck={'test': 'true', 'retries': 'many'}),
     'healthcheck', 'format', 'whole number'),
    ('an exception with an empty reason', raw(pids_limit=0, exceptions={'pids_limit': ''}),
     'exceptions', 'pids_limit (baseline)', 'has no reason'),
    ('an exception with a whitespace reason', raw(pids_limit=0, exceptions={'pids_limit': '  \t'}),
     'exceptions', 'pids_limit (baseline)', 'has no reason'),
    ('an exception with a null reason', raw(exceptions={'pids_limit': None}),
     'exceptions', 'pids_limit (baseline)', 'has no reason'),
    ('an exception whose reason is not text', raw(exceptions={'pids_limit': True}),
     'exceptions', 'pids_limit (baseline)', 'has no reason'),
    ('an exception for an unknown control', raw(exceptions={'no_root': 'legacy'}),
     'exceptions', 'unknown control', "'no_root'"),
] + [
    ('an exception for the floor control %s' % control_id, raw(exceptions={control_id: 'a careful reason'}),
     'exceptions', '%s (floor)' % control_id, 'cannot be excepted')
    for control_id in policy.FLOOR_IDS
]


@pytest.mark.parametrize('service, field, rule, says', [case[1:] for case in NORMALIZE_REFUSES],
                         ids=['refuses ' + case[0] for case in NORMALIZE_REFUSES])
def test_normalize_refuses(service, field, rule, says):
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(service)
    problem = refusal(err, field, rule)
    assert problem['service'] == service['name']
    assert says in problem['message']


def test_a_floor_exception_is_refused_with_the_controls_fix():
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(exceptions={'read_only_rootfs': 'the app writes to /'}))
    assert refusal(err, 'exceptions', 'read_only_rootfs (floor)')['fix'] == FLOOR_FIX['read_only_rootfs']


def test_every_problem_is_reported_at_once():
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(memory='12x', cpus='lots', privileged=True, user=ABSENT))
    assert sorted(p['field'] for p in err.value.problems) == ['cpus', 'memory', 'privileged', 'user']


def test_a_service_that_is_not_a_mapping_is_refused():
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(['name', 'web'])
    assert refusal(err, '(service)', 'format')['service'] is None
    assert str(err.value).startswith("service '?': field '(service)': format: a service must be a mapping")


WRONG_TYPES = {'list': ['text', 5, True, {'a': 1}], 'dict': ['text', 5, True, ['a']]}


@pytest.mark.parametrize('option, value', [
    pytest.param(option, value, id='%s given as %s' % (option, type(value).__name__))
    for option, spec in _spec.SERVICE_OPTIONS.items() if spec['type'] in WRONG_TYPES
    for value in WRONG_TYPES[spec['type']]
])
def test_a_wrongly_typed_option_is_a_named_error_not_a_crash(option, value):
    """secure_stack hands normalize_spec raw dicts that Ansible did not type-check."""
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(**{option: value}))
    assert any(p['field'] == option for p in err.value.problems), err.value.problems


# ---------------------------------------------------------------- the policy over the spec

def validate(service, ctx=None, image_config=None):
    return _spec.validate_spec(_spec.normalize_spec(service), ctx, image_config)


def control_rule(control_id):
    control = policy.CONTROLS_BY_ID[control_id]
    return control.field, '%s (%s)' % (control.id, control.tier)


SOCKET_VOLUMES = ['/var/run/docker.sock:/var/run/docker.sock', '/run/docker.sock:/docker.sock', '/run:/host-run',
                  '/var/run:/host-run', '/var:/host-var', '/:/host', '/srv/engine/api:/home/app/docker.sock',
                  'sock:/var/run/docker.sock', '/srv/../var/run:/host-run', '/var//run:/host-run']
SENSITIVE_VOLUMES = ['/etc:/host-etc', '/etc/ssl/private:/certs', '/proc:/host-proc', '/sys:/host-sys',
                     '/dev:/host-dev', '/usr:/host-usr', '/lib:/host-lib', '/boot:/host-boot']
UNCONFINED = ['seccomp=unconfined', 'seccomp:unconfined', 'apparmor=unconfined', 'label=disable']

VALIDATE_REFUSES = [
    ('user %r' % u, raw(user=u), 'non_root_user', None) for u in ('root', '0', '0:0', 'root:root', '1500', '1500:0', 'app')
] + [
    ('memory below 6m', raw(memory='5m'), 'memory_limit', 'minimum'),
    ('memory 0', raw(memory='0'), 'memory_limit', 'no memory limit'),
    ("cpus above the host's count", dict(raw(cpus=4), ctx={'host_cpus': 2}), 'cpu_limit', 'more than the host'),
    ('a tmpfs without size', raw(tmpfs=[{'path': '/tmp'}]), 'tmpfs_hardened', 'size'),
    ('a tmpfs of size 0 (unlimited)', raw(tmpfs=[{'path': '/tmp', 'size': '0'}]), 'tmpfs_hardened', 'size'),
    ('no-new-privileges:false', raw(security_opts=['no-new-privileges:false']), 'no_new_privileges', 'turned off'),
    ('no-new-privileges:false beside no-new-privileges', raw(security_opts=['no-new-privileges', 'no-new-privileges:false']),
     'no_new_privileges', 'turned off'),
    ('no-new-privileges=false', raw(security_opts=['no-new-privileges=false']), 'no_new_privileges', 'turned off'),
] + [
    ('the docker socket mount %s' % v, raw(volumes=[v]), 'no_docker_socket', 'Docker socket') for v in SOCKET_VOLUMES
] + [
    ('an added capability without exception', raw(cap_add=['NET_BIND_SERVICE']), 'cap_drop_all', 'NET_BIND_SERVICE'),
    ('an exception reason that does not name the capability',
     raw(cap_add=['net_bind_service'], exceptions={'cap_drop_all': 'the web server needs it'}),
     'cap_drop_all', 'does not name NET_BIND_SERVICE'),
    ('SYS_ADMIN even with an exception naming it', raw(cap_add=['SYS_ADMIN'], exceptions={'cap_drop_all': 'SYS_ADMIN'}),
     'cap_drop_all', 'never added'),
    ('CAP_SYS_ADMIN even with an exception naming it',
     raw(cap_add=['CAP_SYS_ADMIN'], exceptions={'cap_drop_all': 'CAP_SYS_ADMIN'}), 'cap_drop_all', 'never added'),
    ('ALL even with an exception naming it', raw(cap_add=['all'], exceptions={'cap_drop_all': 'ALL'}),
     'cap_drop_all', 'never added'),
    ('pids_limit 0', raw(pids_limit=0), 'pids_limit', 'no pids limit'),
    ('pids_limit -1', raw(pids_limit=-1), 'pids_limit', 'no pids limit'),
    ('swap beyond memory', raw(memory_swap='256m'), 'no_swap', 'can swap'),
    ('host network', raw(network_mode='host'), 'no_host_namespaces', 'NetworkMode is host'),
    ('host pid namespace', raw(pid_mode='host'), 'no_host_namespaces', 'PidMode is host'),
] + [
    ('the security option %s' % o, raw(security_opts=[o]), 'security_profiles', o) for o in UNCONFINED
] + [
    ('the sensitive bind %s' % v, raw(volumes=[v]), 'no_sensitive_mounts', 'sensitive host path')
    for v in SENSITIVE_VOLUMES
] + [
    ('a device', raw(devices=['/dev/fuse']), 'no_devices', '/dev/fuse'),
] + [
    ('the port %s' % p, raw(ports=[p]), 'ports_bound', 'all addresses')
    for p in ('8080:80', ':8080:80', '0.0.0.0:8080:80', '[::]:8080:80', '[0:0:0:0:0:0:0:0]:8080:80', '80')
] + [
    ('restart policy unless-stopped', raw(restart_policy='unless-stopped'), 'restart_policy', 'engine is killed'),
    ('restart policy on-failure', raw(restart_policy='on-failure'), 'restart_policy', 'exits 0 on SIGTERM'),
    ('on-failure with 0 retries', raw(restart_policy='on-failure', restart_retries=0), 'restart_policy', '0 retries'),
    ('a uid another service on the host uses', dict(raw(), ctx={'uid_owners': {'1500': {'web', 'db'}}}),
     'unique_uid', 'also used by db'),
]


@pytest.mark.parametrize('service, control_id, says', [case[1:] for case in VALIDATE_REFUSES],
                         ids=['refuses ' + case[0] for case in VALIDATE_REFUSES])
def test_validate_refuses(service, control_id, says):
    service = dict(service)
    ctx = service.pop('ctx', None)
    with pytest.raises(SpecError) as err:
        validate(service, ctx)
    field, rule = control_rule(control_id)
    problem = refusal(err, field, rule)
    assert problem['service'] == 'web'
    assert problem['fix'] == policy.CONTROLS_BY_ID[control_id].fix
    if says:
        assert says in problem['message']


def test_every_floor_control_can_be_refused_from_a_spec():
    """Guards the table above: a new floor control needs a row that refuses it (and its field)."""
    refused = {case[2] for case in VALIDATE_REFUSES} | {'cpu_limit', 'read_only_rootfs', 'not_privileged'}
    assert set(policy.FLOOR_IDS) <= refused


def test_an_injected_floor_exception_does_not_get_past_validate():
    """normalize_spec refuses floor exceptions; validate_spec must not trust it did."""
    spec = _spec.normalize_spec(raw())
    spec['user'] = '0:0'
    spec['exceptions'] = {'non_root_user': 'a careful reason'}
    with pytest.raises(SpecError) as err:
        _spec.validate_spec(spec)
    refusal(err, 'user', 'non_root_user (floor)')


def statuses(findings):
    return dict((f['control'], f['status']) for f in findings)


VALIDATE_ACCEPTS = [
    ('a user with spaces around 1500:1500', raw(user=' 1500:1500 '), {'non_root_user': 'pass'}),
    ("memory of exactly Docker's 6m minimum", raw(memory='6m'), {'memory_limit': 'pass', 'no_swap': 'pass'}),
    ('memory of 1.5g', raw(memory='1.5g'), {'memory_limit': 'pass'}),
    ('a capability excepted with a reason naming it in another spelling',
     raw(cap_add=['net_bind_service'], exceptions={'cap_drop_all': 'CAP_NET_BIND_SERVICE: binds port 80'}),
     {'cap_drop_all': 'excepted'}),
    ('a tmpfs that allows exec with a reason', raw(tmpfs=[{'path': '/tmp', 'size': '64m', 'exec_reason': 'JIT'}]),
     {'tmpfs_hardened': 'pass'}),
    ('a read-only bind', raw(volumes=['/srv/app/config:/config']), {'no_sensitive_mounts': 'pass'}),
    ('a bind said to be :rw', raw(volumes=['/srv/app/data:/data:rw']), {'no_sensitive_mounts': 'pass'}),
    ('a named volume', raw(volumes=['data:/data']), {'no_sensitive_mounts': 'pass', 'no_docker_socket': 'pass'}),
    ('a custom seccomp profile', raw(security_opts=['seccomp={"defaultAction": "SCMP_ACT_ERRNO"}']),
     {'security_profiles': 'pass', 'no_new_privileges': 'pass'}),
    ('a bare no-new-privileges in security_opts', raw(security_opts=['no-new-privileges']),
     {'no_new_privileges': 'pass'}),
    ('a port on 127.0.0.1', raw(ports=['127.0.0.1:8080:8080']), {'ports_bound': 'pass'}),
    ('a host port below 1024 (a warning)', raw(ports=['127.0.0.1:80:8080']), {'ports_bound': 'warn'}),
    ('unlimited pids with an exception', raw(pids_limit=0, exceptions={'pids_limit': 'forks per request'}),
     {'pids_limit': 'excepted'}),
    ('host network with an exception', raw(network_mode='host', exceptions={'no_host_namespaces': 'DHCP'}),
     {'no_host_namespaces': 'excepted'}),
    ('restart policy no', raw(restart_policy='no'), {'restart_policy': 'pass'}),
    ('restart policy always (the default)', raw(), {'restart_policy': 'pass'}),
    ('restart_retries without on-failure is ignored', raw(restart_retries=0), {'restart_policy': 'pass'}),
    ('no healthcheck (a warning, never a refusal)', raw(), {'healthcheck': 'warn'}),
    ('a healthcheck of NONE (a warning)', raw(healthcheck={'test': ['NONE']}), {'healthcheck': 'warn'}),
    ('a healthcheck', raw(healthcheck={'test': ['CMD', 'true']}), {'healthcheck': 'pass'}),
    ('all the host CPUs', dict(raw(cpus=2), ctx={'host_cpus': 2}), {'cpu_limit': 'pass'}),
    ('a uid no other service uses', dict(raw(), ctx={'uid_owners': {'1500': {'web'}, '1600': {'db'}}}),
     {'unique_uid': 'pass'}),
]


@pytest.mark.parametrize('service, expected', [case[1:] for case in VALIDATE_ACCEPTS],
                         ids=['accepts ' + case[0] for case in VALIDATE_ACCEPTS])
def test_validate_accepts(service, expected):
    service = dict(service)
    ctx = service.pop('ctx', None)
    found = statuses(validate(service, ctx))
    assert dict((k, found[k]) for k in expected) == expected
    assert policy.FAIL not in found.values()


def test_the_image_healthcheck_counts_when_the_spec_has_none():
    image_config = {'Healthcheck': {'Test': ['CMD', 'wget', '-q', 'http://127.0.0.1:8080/healthz']}}
    assert statuses(validate(raw(), image_config=image_config))['healthcheck'] == 'pass'


def test_load_spec_is_normalize_then_validate():
    assert _spec.load_spec(raw(user=' 1500:1500 '))['user'] == '1500:1500'
    with pytest.raises(SpecError):
        _spec.load_spec(raw(user='root'))


# ---------------------------------------------------------------- the container it would be

def web_spec(**overrides):
    base = dict(env={'GREETING': 'hello'}, ports=['127.0.0.1:8080:8080'], cap_add=['net_bind_service'],
                exceptions={'cap_drop_all': 'NET_BIND_SERVICE: binds port 80'}, volumes=['data:/data'],
                tmpfs=[{'path': '/tmp', 'size': '64m'}, {'path': '/cache', 'size': '16m', 'mode': '0700',
                                                         'exec_reason': 'JIT cache'}],
                healthcheck={'test': ['CMD', 'true']})
    base.update(overrides)
    return _spec.normalize_spec(raw(**base))


def test_desired_inspect_is_the_hardened_container():
    spec = web_spec()
    desired = _spec.desired_inspect(spec, IMAGE_ID)
    host = desired['HostConfig']
    assert host['ReadonlyRootfs'] is True
    assert host['CapDrop'] == ['ALL']
    assert host['CapAdd'] == ['NET_BIND_SERVICE']
    assert host['Privileged'] is False
    assert 'no-new-privileges:true' in host['SecurityOpt']
    assert policy.no_new_privileges_state(host['SecurityOpt']) is True
    assert host['Memory'] == 128 * MiB
    assert host['MemorySwap'] == host['Memory']
    assert host['NanoCpus'] == 500000000
    assert host['PidsLimit'] == 256
    assert host['RestartPolicy'] == {'Name': 'always', 'MaximumRetryCount': 0}
    assert host['NetworkMode'] == 'containment_web'
    assert host['PortBindings'] == {'8080/tcp': [{'HostIp': '127.0.0.1', 'HostPort': '8080'}]}
    assert host['Binds'] == ['data:/data:rw']
    assert desired['Image'] == IMAGE_ID
    assert desired['Config']['User'] == '1500:1500'
    assert desired['Config']['Env'] == ['GREETING=hello']
    assert desired['Config']['ExposedPorts'] == {'8080/tcp': {}}
    assert desired['Config']['Healthcheck']['Test'] == ['CMD', 'true']


def test_desired_tmpfs_options_are_hardened():
    host = _spec.desired_inspect(web_spec(), IMAGE_ID)['HostConfig']
    tmp = policy.parse_tmpfs_options(host['Tmpfs']['/tmp'])
    assert {'nosuid', 'nodev', 'noexec'} <= set(tmp)
    assert (tmp['size'], tmp['mode']) == (str(64 * MiB), '1777')
    cache = policy.parse_tmpfs_options(host['Tmpfs']['/cache'])
    assert {'nosuid', 'nodev'} <= set(cache) and 'noexec' not in cache
    assert (cache['size'], cache['mode']) == (str(16 * MiB), '0700')


def test_desired_labels_record_management_exceptions_and_relaxations():
    spec = web_spec(volumes=['/srv/app/data:/data:rw', '/srv/app/config:/config'], labels={'team': 'web'})
    labels = _spec.desired_inspect(spec, IMAGE_ID)['Config']['Labels']
    assert labels == {
        'team': 'web',
        policy.LABEL_MANAGED: 'true',
        policy.LABEL_SERVICE: 'web',
        policy.LABEL_POLICY: policy.POLICY_VERSION,
        policy.LABEL_SPEC_HASH: _spec.spec_hash(spec, IMAGE_ID),
        policy.LABEL_EXCEPTION + 'cap_drop_all': 'NET_BIND_SERVICE: binds port 80',
        policy.LABEL_RW_BINDS: '/data',
        policy.LABEL_TMPFS_EXEC + '/cache': 'JIT cache',
    }
    assert policy.exceptions_of(_spec.desired_inspect(spec, IMAGE_ID)) == spec['exceptions']


def test_desired_inspect_without_image_id_has_no_hash_label():
    assert policy.LABEL_SPEC_HASH not in _spec.desired_inspect(web_spec())['Config']['Labels']


def test_an_explicit_no_new_privileges_true_is_not_doubled():
    opts = _spec.desired_inspect(web_spec(security_opts=['no-new-privileges:true']))['HostConfig']['SecurityOpt']
    assert opts == ['no-new-privileges:true']


def test_the_desired_container_passes_its_own_audit():
    """What validate_spec accepted, the audit of the same shape (exceptions read from labels) accepts."""
    findings = policy.evaluate(_spec.desired_inspect(web_spec(), IMAGE_ID))
    assert statuses(findings)['cap_drop_all'] == 'excepted'
    assert policy.FAIL not in statuses(findings).values()


# ---------------------------------------------------------------- spec hash

def test_spec_hash_is_stable_across_equivalent_spellings():
    one = _spec.normalize_spec(raw(user='1500:1500', memory='128m', cap_add=['NET_RAW', 'chown'],
                                   env={'A': '1', 'B': '2'}, exceptions={'cap_drop_all': 'NET_RAW CHOWN'}))
    two = _spec.normalize_spec(raw(user=' 1500:1500 ', memory=128 * MiB, cap_add=['CAP_CHOWN', 'net_raw'],
                                   env={'B': '2', 'A': '1'}, exceptions={'cap_drop_all': 'NET_RAW CHOWN '}))
    assert _spec.spec_hash(one, IMAGE_ID) == _spec.spec_hash(two, IMAGE_ID)
    assert re.match(r'^[0-9a-f]{64}$', _spec.spec_hash(one, IMAGE_ID))


def test_spec_hash_changes_with_the_image_id():
    spec = web_spec()
    assert _spec.spec_hash(spec, IMAGE_ID) != _spec.spec_hash(spec, OTHER_IMAGE_ID)


@pytest.mark.parametrize('change', [dict(memory='256m'), dict(env={'GREETING': 'bye'}), dict(cpus=1),
                                    dict(ports=['127.0.0.1:8081:8080']), dict(restart_retries=3)],
                         ids=['memory', 'env', 'cpus', 'ports', 'restart retries'])
def test_spec_hash_changes_with_the_spec(change):
    assert _spec.spec_hash(web_spec(), IMAGE_ID) != _spec.spec_hash(web_spec(**change), IMAGE_ID)


# ---------------------------------------------------------------- compare with a live container

def live_of(desired):
    """The live container Docker makes from `desired`: the image adds env and labels, the
    engine reports capabilities with the CAP_ prefix and adds its own fields."""
    live = copy.deepcopy(desired)
    live['Id'] = 'f00d' * 16
    live['State'] = {'Status': 'running', 'Running': True}
    live['Config']['Env'] = ['PATH=/usr/local/sbin:/usr/local/bin:/bin'] + live['Config']['Env']
    live['Config']['Labels']['org.opencontainers.image.title'] = 'web'
    live['HostConfig']['CapAdd'] = ['CAP_' + c for c in live['HostConfig']['CapAdd'] or []]
    live['HostConfig']['IpcMode'] = 'private'
    live['HostConfig']['CpuShares'] = 0
    return live


def set_path(inspect, path, value):
    *parents, leaf = path.split('.')
    node = inspect
    for key in parents:
        node = node[key]
    node[leaf] = value


DRIFTS = [
    ('memory raised by docker update', 'HostConfig.Memory', GiB, 'memory'),
    ('an extra capability', 'HostConfig.CapAdd', ['CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'], 'cap_add'),
    ('capabilities no longer all dropped', 'HostConfig.CapDrop', [], 'cap_drop'),
    ('an extra security option', 'HostConfig.SecurityOpt', ['no-new-privileges:true', 'seccomp=unconfined'],
     'security_opts'),
    ('an environment value changed', 'Config.Env', ['PATH=/bin', 'GREETING=bye'], 'env'),
    ('an environment variable of the spec missing', 'Config.Env', ['PATH=/bin'], 'env'),
    ('another image id', 'Image', OTHER_IMAGE_ID, 'image_id'),
    ('pids limit lifted', 'HostConfig.PidsLimit', 0, 'pids_limit'),
    ('cpus changed', 'HostConfig.NanoCpus', 2 * 10 ** 9, 'cpus'),
    ('swap allowed', 'HostConfig.MemorySwap', -1, 'memory_swap'),
    ('a writable root', 'HostConfig.ReadonlyRootfs', False, 'read_only'),
    ('privileged', 'HostConfig.Privileged', True, 'privileged'),
    ('a tmpfs without noexec', 'HostConfig.Tmpfs', {'/tmp': 'rw,nosuid,nodev,size=67108864,mode=1777',
                                                    '/cache': 'rw,nosuid,nodev,size=16777216,mode=0700'}, 'tmpfs'),
    ('an extra tmpfs', 'HostConfig.Tmpfs.dev', 'rw', 'tmpfs'),
    ('another user', 'Config.User', '0:0', 'user'),
    ('a group added', 'HostConfig.GroupAdd', ['0'], 'groups'),
    ('a port on all addresses', 'HostConfig.PortBindings', {'8080/tcp': [{'HostIp': '', 'HostPort': '8080'}]},
     'ports'),
    ('another restart policy', 'HostConfig.RestartPolicy', {'Name': 'on-failure', 'MaximumRetryCount': 5}, 'restart_policy'),
    ('another bind', 'HostConfig.Binds', ['data:/data:rw', '/etc:/etc:ro'], 'volumes'),
    ('host network', 'HostConfig.NetworkMode', 'host', 'network_mode'),
    ('host pid', 'HostConfig.PidMode', 'host', 'pid_mode'),
    ('host ipc', 'HostConfig.IpcMode', 'host', 'ipc_mode'),
    ('a device', 'HostConfig.Devices', [{'PathOnHost': '/dev/kvm', 'PathInContainer': '/dev/kvm',
                                         'CgroupPermissions': 'rwm'}], 'devices'),
    ('a device request', 'HostConfig.DeviceRequests', [{'Driver': 'nvidia'}], 'device_requests'),
    ('another command', 'Config.Cmd', ['sh'], 'command'),
    ('another healthcheck', 'Config.Healthcheck', {'Test': ['NONE']}, 'healthcheck'),
    ('an exception label added by hand', 'Config.Labels.containment.exception.no_swap', 'x', 'labels'),
    ('a spec hash label edited', 'Config.Labels.containment.spec-hash', '0' * 64, 'labels'),
]


def mutate(inspect, path, value):
    if path.startswith('Config.Labels.'):
        inspect['Config']['Labels'][path[len('Config.Labels.'):]] = value
    elif path.startswith('HostConfig.Tmpfs.'):
        inspect['HostConfig']['Tmpfs']['/' + path.rsplit('.', 1)[1]] = value
    else:
        set_path(inspect, path, value)


def test_a_faithful_live_container_does_not_differ():
    """Image env and labels, CAP_ spellings and engine defaults are not differences."""
    desired = _spec.desired_inspect(web_spec(command=['httpd', '-f']), IMAGE_ID)
    assert _spec.compare(desired, live_of(desired)) == {}


@pytest.mark.parametrize('path, value, field', [case[1:] for case in DRIFTS],
                         ids=['detects ' + case[0] for case in DRIFTS])
def test_compare_detects_drift(path, value, field):
    desired = _spec.desired_inspect(web_spec(command=['httpd', '-f']), IMAGE_ID)
    live = live_of(desired)
    mutate(live, path, value)
    differences = _spec.compare(desired, live)
    assert field in differences
    have, want = differences[field]
    assert have != want


def test_compare_reports_live_and_wanted_values():
    desired = _spec.desired_inspect(web_spec(), IMAGE_ID)
    live = live_of(desired)
    live['HostConfig']['Memory'] = GiB
    assert _spec.compare(desired, live) == {'memory': ('1g', '128m')}


def test_compare_ignores_env_keys_the_image_provides():
    desired = _spec.desired_inspect(web_spec(), IMAGE_ID)
    live = live_of(desired)
    live['Config']['Env'] = ['PATH=/opt/bin', 'LANG=C.UTF-8', 'GREETING=hello']
    assert 'env' not in _spec.compare(desired, live)


def test_compare_skips_command_and_healthcheck_the_spec_leaves_to_the_image():
    desired = _spec.desired_inspect(web_spec(healthcheck=ABSENT), IMAGE_ID)
    desired['Config']['Healthcheck'] = None
    live = live_of(desired)
    live['Config']['Cmd'] = ['httpd', '-f', '-p', '8080']
    live['Config']['Healthcheck'] = {'Test': ['CMD', 'true']}
    assert _spec.compare(desired, live) == {}


def test_compare_fills_in_the_zero_durations_docker_inspect_omits():
    desired = _spec.desired_inspect(web_spec(healthcheck={'test': 'true', 'interval': '1s'}), IMAGE_ID)
    live = live_of(desired)
    live['Config']['Healthcheck'] = dict((k, v) for k, v in desired['Config']['Healthcheck'].items() if v)
    assert 'StartPeriod' not in live['Config']['Healthcheck']
    assert _spec.compare(desired, live) == {}


def test_compare_ignores_the_builtin_network_a_mode_lists():
    desired = _spec.desired_inspect(web_spec(network_mode='none', networks=None), IMAGE_ID)
    live = live_of(desired)
    live['NetworkSettings']['Networks'] = {'none': {}}
    assert _spec.compare(desired, live) == {}


def test_diff_view_shows_only_the_differing_fields():
    desired = _spec.desired_inspect(web_spec(), IMAGE_ID)
    live = live_of(desired)
    live['HostConfig']['Memory'] = GiB
    assert _spec.diff_view(None, desired, live) == {'before': {'memory': '1g'}, 'after': {'memory': '128m'}}


def test_the_diff_of_a_create_is_the_service_as_the_inventory_writes_it():
    spec = _spec.normalize_spec(raw(env={'GREETING': 'hello', 'DB_PASSWORD': 'pw-marker'}, secret_env={'API_TOKEN': 'tok-marker'},
                                    ports=['127.0.0.1:8080:8080', '127.0.0.1:5353:53/udp'], labels={'team': 'web'},
                                    healthcheck={'test': 'wget -q -O- http://127.0.0.1:8080/', 'interval': '10s'},
                                    tmpfs=[{'path': '/tmp', 'size': '64m'}, {'path': '/cache', 'size': '512k', 'exec_reason': 'JIT'}],
                                    cap_add=['NET_BIND_SERVICE'], exceptions={'cap_drop_all': 'binds port 80'}))
    image_labels = {'org.opencontainers.image.title': 'web'}
    desired = _spec.desired_inspect(spec, IMAGE_ID, {'Labels': image_labels})
    desired['Config']['Labels'].update(image_labels)  # as the plan expects them
    after = _spec.diff_view(spec, desired, None, image_labels)['after']
    assert after == {
        'image': 'containment-test/web:1', 'user': '1500:1500', 'memory': '128m', 'memory_swap': '128m', 'cpus': 0.5,
        'env': {'GREETING': 'hello', 'DB_PASSWORD': '(secret)', 'API_TOKEN': '(secret)'},
        'ports': ['127.0.0.1:5353:53/udp', '127.0.0.1:8080:8080'], 'networks': ['containment_web'], 'labels': {'team': 'web'},
        'healthcheck': {'test': 'wget -q -O- http://127.0.0.1:8080/', 'interval': '10s', 'timeout': '30s', 'retries': 3,
                        'start_period': '0s'},
        'tmpfs': [{'path': '/cache', 'size': '512k', 'mode': '1777', 'options': 'nodev,nosuid,rw'},
                  {'path': '/tmp', 'size': '64m', 'mode': '1777'}],
        'cap_add': ['NET_BIND_SERVICE'], 'exceptions': {'cap_drop_all': 'binds port 80'},
        'read_only': True, 'cap_drop': ['ALL'], 'security_opts': ['no-new-privileges:true'], 'pids_limit': 256,
        'restart_policy': 'always', 'stop_timeout': 10, 'log_driver': 'json-file', 'log_options': {'max-size': '10m', 'max-file': '3'}}
    assert 'marker' not in repr(after) and IMAGE_ID[7:] not in repr(after)


def test_the_diff_of_a_remove_and_of_a_change_in_the_same_shapes():
    desired = _spec.desired_inspect(web_spec(), IMAGE_ID)
    removed = _spec.diff_view(None, None, live_of(desired))
    assert removed['after'] == {} and removed['before']['memory'] == '128m' and removed['before']['read_only'] is True
    assert removed['before']['ports'] == ['127.0.0.1:8080:8080'] and 'image_id' not in removed['before']
    changed = _spec.desired_inspect(web_spec(image='containment-test/web:2', healthcheck={'test': 'true', 'interval': '1m30s'},
                                             tmpfs=[{'path': '/tmp', 'size': '32m'}]), OTHER_IMAGE_ID)
    diff = _spec.diff_view(None, changed, live_of(desired))
    assert diff['before']['image'] == 'containment-test/web:1' and diff['after']['image'] == 'containment-test/web:2'
    assert diff['after']['healthcheck']['interval'] == '1m30s' and diff['after']['healthcheck']['test'] == 'true'
    assert diff['after']['tmpfs'] == [{'path': '/tmp', 'size': '32m', 'mode': '1777'}]
    for side in diff.values():
        assert not set(side) & {'image_id', 'network_mode'} and policy.LABEL_SPEC_HASH not in side.get('labels', {})
