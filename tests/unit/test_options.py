# -*- coding: utf-8 -*-
"""The options of issue 10, row by row of _spec.OPTIONS: what each value normalises to, where it lands in
the inspect shape, how a container is read back (Docker's defaults and the image's values filled in, in the
inventory's units), and the refusals (each naming the field). The engine side: tests/integration/test_options.py."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.containment.docker.plugins.module_utils import _spec
from ansible_collections.containment.docker.plugins.module_utils._spec import SpecError

MiB = 1024 ** 2
IMAGE_ID = 'sha256:' + 'a' * 64


def raw(**options):
    service = dict(name='web', image='containment-test/web:1', user='1500:1500', memory='128m', cpus=0.5)
    service.update(options)
    return service


def desired(**options):
    return _spec.desired_inspect(_spec.normalize_spec(raw(**options)), IMAGE_ID)


def get(inspect, path):
    for key in path.split('.'):
        inspect = inspect[key]
    return inspect


# option value -> (field of the inspect shape, what it holds, what compare and the diff show)
ACCEPTED = [
    ('hostname', 'web-1', 'Config.Hostname', 'web-1', 'web-1'),
    ('domainname', 'example.internal', 'Config.Domainname', 'example.internal', 'example.internal'),
    ('working_dir', '/srv/app', 'Config.WorkingDir', '/srv/app', '/srv/app'),
    ('stop_signal', 'sigquit', 'Config.StopSignal', 'SIGQUIT', 'SIGQUIT'),
    ('init', True, 'HostConfig.Init', True, True),
    ('init', 'yes', 'HostConfig.Init', True, True),
    ('shm_size', '256m', 'HostConfig.ShmSize', 256 * MiB, '256m'),
    ('memory_reservation', '64m', 'HostConfig.MemoryReservation', 64 * MiB, '64m'),
    ('cpu_shares', 512, 'HostConfig.CpuShares', 512, 512),
    ('cpuset_cpus', '0-1,3', 'HostConfig.CpusetCpus', '0-1,3', '0-1,3'),
    ('blkio_weight', 300, 'HostConfig.BlkioWeight', 300, 300),
    ('groups', ['1600', 1601], 'HostConfig.GroupAdd', ['1600', '1601'], ['1600', '1601']),
    ('ulimits', ['nofile:1024:2048', 'memlock:-1'], 'HostConfig.Ulimits',
     [{'Name': 'memlock', 'Soft': -1, 'Hard': -1}, {'Name': 'nofile', 'Soft': 1024, 'Hard': 2048}], ['memlock:-1:-1', 'nofile:1024:2048']),
    ('ulimits', ['nproc:64'], 'HostConfig.Ulimits', [{'Name': 'nproc', 'Soft': 64, 'Hard': 64}], ['nproc:64:64']),
    ('sysctls', {'net.ipv4.ip_unprivileged_port_start': 80}, 'HostConfig.Sysctls', {'net.ipv4.ip_unprivileged_port_start': '80'},
     {'net.ipv4.ip_unprivileged_port_start': '80'}),
    ('etc_hosts', {'db.internal': '10.0.0.5', 'gw': 'host-gateway'}, 'HostConfig.ExtraHosts', ['db.internal:10.0.0.5', 'gw:host-gateway'],
     {'db.internal': '10.0.0.5', 'gw': 'host-gateway'}),
    ('dns_servers', ['10.0.0.2', '2001:db8::53'], 'HostConfig.Dns', ['10.0.0.2', '2001:db8::53'], ['10.0.0.2', '2001:db8::53']),
    ('dns_search_domains', ['example.internal'], 'HostConfig.DnsSearch', ['example.internal'], ['example.internal']),
    ('dns_opts', ['ndots:2', 'timeout:1'], 'HostConfig.DnsOptions', ['ndots:2', 'timeout:1'], ['ndots:2', 'timeout:1']),
    ('device_read_bps', [{'path': '/dev/vda', 'rate': '10m'}], 'HostConfig.BlkioDeviceReadBps', [{'Path': '/dev/vda', 'Rate': 10 * MiB}],
     ['/dev/vda:10m']),
    ('device_write_bps', [{'path': '/dev/vda', 'rate': '1g'}], 'HostConfig.BlkioDeviceWriteBps', [{'Path': '/dev/vda', 'Rate': 1024 * MiB}],
     ['/dev/vda:1g']),
    ('device_read_iops', [{'path': '/dev/vda', 'rate': 1000}], 'HostConfig.BlkioDeviceReadIOps', [{'Path': '/dev/vda', 'Rate': 1000}],
     ['/dev/vda:1000']),
    ('device_write_iops', [{'path': '/dev/vda', 'rate': '500'}], 'HostConfig.BlkioDeviceWriteIOps', [{'Path': '/dev/vda', 'Rate': 500}],
     ['/dev/vda:500']),
    ('log_options', {'max-size': '50m', 'max-file': 5}, 'HostConfig.LogConfig', {'Type': 'json-file', 'Config': {'max-size': '50m', 'max-file': '5'}},
     {'max-size': '50m', 'max-file': '5'}),
]


@pytest.mark.parametrize('option, value, field, engine, shown', ACCEPTED, ids=lambda v: v if isinstance(v, str) else None)
def test_an_option_lands_in_its_field_and_reads_back_in_the_inventorys_units(option, value, field, engine, shown):
    container = desired(**{option: value})
    assert get(container, field) == engine
    row = next(o for o in _spec.OPTIONS if o.name == option)
    assert row.read(container) == shown
    live = copy.deepcopy(container)
    assert option not in _spec.compare(container, live)


REFUSED = [
    ('hostname', 'bad_name!', 'format'),
    ('hostname', 'x' * 64, 'format'),
    ('working_dir', 'relative/dir', 'engine rule'),
    ('stop_signal', 'SIG TERM', 'format'),
    ('stop_signal', '99', 'format'),
    ('init', 'maybe', 'format'),
    ('shm_size', 'lots', 'format'),
    ('memory_reservation', '1g', 'engine rule'),  # above memory
    ('cpu_shares', 1, 'engine range'),
    ('cpu_shares', 300000, 'engine range'),
    ('cpuset_cpus', '0-a', 'format'),
    ('blkio_weight', 5, 'engine range'),
    ('groups', ['1600', '1600'], 'format'),
    ('groups', ['99999999999'], 'format'),
    ('ulimits', ['nofile=1024'], 'format'),
    ('ulimits', ['nofiles:1024'], 'format'),
    ('ulimits', ['nofile:2048:1024'], 'engine rule'),
    ('ulimits', ['nofile:1024', 'nofile:2048'], 'format'),
    ('sysctls', {'net.core.somaxconn': None}, 'format'),
    ('sysctls', {'NOT A KEY': '1'}, 'format'),
    ('etc_hosts', {'db': 'not-an-ip'}, 'format'),
    ('etc_hosts', {'bad name': '10.0.0.1'}, 'format'),
    ('dns_servers', ['dns.example'], 'format'),
    ('dns_search_domains', ['bad domain'], 'format'),
    ('dns_opts', ['two words'], 'format'),
    ('device_read_bps', [{'path': '/dev/vda'}], 'format'),
    ('device_read_bps', [{'path': 'vda', 'rate': '1m'}], 'format'),
    ('device_read_iops', [{'path': '/dev/vda', 'rate': '1m'}], 'format'),
    ('device_write_bps', [{'path': '/dev/vda', 'rate': '1m'}, {'path': '/dev/vda', 'rate': '2m'}], 'format'),
    ('log_driver', 'bad driver', 'format'),
    ('log_options', {'max-size': 'lots'}, 'format'),
    ('log_options', {'max-file': '0', 'max-size': '1m'}, 'format'),
    ('log_options', {'mode': 'non-blocking', 'max-size': '1m'}, 'engine rule'),  # not an option of json-file
    ('networks', [{'name': 'n1', 'ipv4_address': 'fe80::1'}], 'format'),
    ('networks', [{'name': 'n1', 'aliases': ['bad alias']}], 'format'),
    ('networks', [{'name': 'n1', 'mac_address': '02:42:ac:11:00:02'}], 'unknown option'),
    ('networks', ['n1', {'name': 'n1'}], 'format'),
    ('depends_on', [{'service': 'db', 'condition': 'service_done'}], 'format'),
    ('depends_on', ['db', {'db': {'condition': 'service_healthy'}}], 'format'),
    ('depends_on', 'db', 'format'),  # neither a list nor a mapping
    ('depends_on', [{'db': {'condition': 'service_healthy', 'required': False}}], 'format'),
    ('env', {'FOO': None}, 'format'),
]


@pytest.mark.parametrize('option, value, rule', REFUSED, ids=lambda v: repr(v)[:40])
def test_a_bad_value_is_refused_naming_the_field(option, value, rule):
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(**{option: value}))
    assert (option, rule) in [(p['field'], p['rule']) for p in err.value.problems], err.value.problems


def test_env_null_is_refused_saying_what_compose_would_do_and_how_to_write_it():
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(env={'FOO': None}))
    assert 'Compose takes from the environment' in str(err.value) and "lookup('ansible.builtin.env', 'FOO')" in str(err.value)


def test_hostname_and_dns_need_a_network_namespace_of_their_own():
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(network_mode='host', networks=None, hostname='h'))
    assert [p['field'] for p in err.value.problems] == ['hostname']
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(network_mode='container:db', networks=None, dns_servers=['10.0.0.2'], etc_hosts={'a': '10.0.0.1'}))
    assert sorted(p['field'] for p in err.value.problems) == ['dns_servers', 'etc_hosts']


# ---------------------------------------------------------------- durations, ports, volumes, networks

@pytest.mark.parametrize('text, ns, shown', [
    ('1m30s', 90 * 10 ** 9, '1m30s'), ('1h2m3s', 3723 * 10 ** 9, '1h2m3s'), ('1s500ms', 1500 * 10 ** 6, '1s500ms'),
    ('2.5s', 2500 * 10 ** 6, '2s500ms'), ('90', 90 * 10 ** 9, '1m30s'), (0, 0, '0s'),
])
def test_go_durations_parse_and_show_in_the_same_units(text, ns, shown):
    assert _spec.parse_duration(text) == ns
    assert _spec.format_duration(ns) == shown


@pytest.mark.parametrize('text', ['1m30', '1d', 'm', '1.s', '-1m'])
def test_a_duration_go_would_refuse_is_refused(text):
    with pytest.raises(ValueError):
        _spec.parse_duration(text)


@pytest.mark.parametrize('text, expected', [
    ('127.0.0.1:8000-8002:9000-9002', [('127.0.0.1', '8000', 9000, 'tcp'), ('127.0.0.1', '8001', 9001, 'tcp'), ('127.0.0.1', '8002', 9002, 'tcp')]),
    ('127.0.0.1:8080:80/TCP', [('127.0.0.1', '8080', 80, 'tcp')]),
    ('127.0.0.1:53:53/Udp', [('127.0.0.1', '53', 53, 'udp')]),
    ('::1:8080:80', [('::1', '8080', 80, 'tcp')]),
    ('fe80::1:8080:80/udp', [('fe80::1', '8080', 80, 'udp')]),
    ('[::1]:8000-8001:8000-8001', [('::1', '8000', 8000, 'tcp'), ('::1', '8001', 8001, 'tcp')]),
    ('9000-9001', [('', '', 9000, 'tcp'), ('', '', 9001, 'tcp')]),
])
def test_ports_ranges_protocols_in_capitals_and_unbracketed_ipv6(text, expected):
    assert [(p['host_ip'], p['host_port'], p['container_port'], p['proto']) for p in _spec.parse_ports(text)] == expected


@pytest.mark.parametrize('text, why', [
    ('127.0.0.1:8000-8010:9000-9001', 'the host range has 11 ports'),
    ('127.0.0.1:8010-8000:9000', 'not a number'),
    ('127.0.0.1:1-2000:1-2000', 'more than 1000'),
    ('127.0.0.1:8080:80/ICMP', 'protocol'),
])
def test_a_port_range_the_engine_would_misread_is_refused(text, why):
    with pytest.raises(ValueError) as err:
        _spec.parse_ports(text)
    assert why in str(err.value)


def test_a_range_publishes_each_port_and_an_unchanged_range_compares_equal():
    container = desired(ports=['127.0.0.1:8000-8001:9000-9001/TCP'])
    assert container['HostConfig']['PortBindings'] == {'9000/tcp': [{'HostIp': '127.0.0.1', 'HostPort': '8000'}],
                                                       '9001/tcp': [{'HostIp': '127.0.0.1', 'HostPort': '8001'}]}
    assert container['Config']['ExposedPorts'] == {'9000/tcp': {}, '9001/tcp': {}}


@pytest.mark.parametrize('text, bind, propagation', [
    ('/srv/app:/app:ro,rslave', '/srv/app:/app:ro,rslave', 'rslave'),
    ('/srv/app:/app:rslave,Z', '/srv/app:/app:ro,Z,rslave', 'rslave'),
    ('/srv/app:/app:z', '/srv/app:/app:ro,z', ''),
    ('data:/data:nocopy', 'data:/data:rw,nocopy', ''),
    ('data:/data:ro,nocopy,z', 'data:/data:ro,z,nocopy', ''),
])
def test_volume_options_are_sent_in_one_order_and_propagation_reaches_the_policy(text, bind, propagation):
    container = desired(volumes=[text])
    assert container['HostConfig']['Binds'] == [bind]
    assert container['Mounts'][0]['Propagation'] == propagation


def test_a_shared_propagation_is_accepted_by_the_parser_and_refused_by_the_policy():
    with pytest.raises(SpecError) as err:
        _spec.load_spec(raw(volumes=['/srv/app:/app:rshared']))
    assert [p['rule'] for p in err.value.problems] == ['no_sensitive_mounts (baseline)']


NFS = {'type': 'nfs', 'o': 'addr=10.0.0.5,ro', 'device': ':/export'}


@pytest.mark.parametrize('mount, bind', [
    ({'source': 'data', 'target': '/data'}, 'data:/data:rw'),
    ({'type': 'volume', 'source': 'data', 'target': '/data', 'read_only': True, 'no_copy': True}, 'data:/data:ro,nocopy'),
    ({'type': 'bind', 'source': '/srv/app', 'target': '/app'}, '/srv/app:/app:ro'),
    ({'type': 'bind', 'source': '/srv/app', 'target': '/app', 'read_only': False, 'propagation': 'rslave'}, '/srv/app:/app:rw,rslave'),
    ({'source': 'share', 'target': '/share', 'volume_options': NFS}, 'share:/share:rw'),
], ids=lambda v: v if isinstance(v, str) else None)
def test_mounts_are_the_volumes_line_they_stand_for(mount, bind):
    by_mounts = desired(mounts=[mount])
    line = desired(volumes=[bind])
    assert by_mounts['HostConfig']['Binds'] == line['HostConfig']['Binds'] == [bind]
    assert _spec.compare(by_mounts, line) == {} or set(_spec.compare(by_mounts, line)) == {'labels'}  # the hash label differs


def test_a_volume_with_options_is_declared_with_its_driver():
    spec = _spec.normalize_spec(raw(mounts=[{'source': 'share', 'target': '/share', 'volume_options': NFS},
                                            {'source': 'cache', 'target': '/cache', 'volume_driver': 'local'},
                                            {'source': 'plain', 'target': '/plain'}]))
    assert _spec.declared_volumes(spec) == {'share': {'Name': 'share', 'Driver': 'local', 'Options': NFS},
                                            'cache': {'Name': 'cache', 'Driver': 'local', 'Options': {}}}
    assert _spec.hashable(_spec.normalize_spec(raw())) == dict((k, v) for k, v in _spec.hashable(spec).items() if k != 'mounts')


@pytest.mark.parametrize('mount, says', [
    ({'type': 'bind', 'source': 'data', 'target': '/data'}, 'type is bind but source'),
    ({'type': 'volume', 'source': '/srv/data', 'target': '/data'}, 'type is volume but source'),
    ({'type': 'bind', 'source': '/srv/x', 'target': '/x', 'volume_options': {'o': 'bind'}}, 'apply to type volume'),
    ({'source': 'data', 'target': '/data', 'propagation': 'rslave'}, 'bind mounts only'),
    ({'source': 'data', 'target': 'data'}, 'not an absolute path'),
    ({'source': 'data', 'target': '/data', 'volume_options': {'o': ['bind']}}, 'map names to strings'),
    ({'source': 'data', 'target': '/data', 'colour': 'red'}, "no option 'colour'"),
    ('data:/data', 'must be a mapping'),
])
def test_a_bad_mount_is_refused_naming_the_field(mount, says):
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(mounts=[mount]))
    assert [p['field'] for p in err.value.problems] == ['mounts'] and says in str(err.value)


def test_a_mount_on_a_path_of_volumes_and_one_volume_with_two_definitions_are_refused():
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(volumes=['data:/data'], mounts=[{'source': 'other', 'target': '/data'}]))
    assert 'mounted twice' in str(err.value)
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(mounts=[{'source': 'data', 'target': '/a', 'volume_options': {'o': 'size=1m'}},
                                         {'source': 'data', 'target': '/b', 'volume_options': {'o': 'size=2m'}}]))
    assert 'declared twice with different' in str(err.value)


def bind_volume(device, **more):
    return dict(dict(source='hostdata', target='/data', volume_options={'type': 'none', 'o': 'bind', 'device': device}), **more)


@pytest.mark.parametrize('mount, passes', [
    (bind_volume('/srv/app/data', read_only=True), True),
    (bind_volume('/srv/app/data', read_only=False), True),  # read-write said explicitly, recorded as for a bind
    (bind_volume('/srv/app/data'), False),  # read-write by default, as a volume: not for a bind in disguise
    (bind_volume('/etc', read_only=True), False),
    (bind_volume('/etc/myapp', read_only=True), True),  # the rule for binds, from the same code
    (bind_volume('/var/run', read_only=True), False),  # the Docker socket's folder (a floor control)
    ({'source': 'share', 'target': '/share', 'volume_options': dict(NFS, device='/etc')}, True),  # nfs: not a host path
], ids=lambda v: v if isinstance(v, bool) else v.get('volume_options', {}).get('device'))
def test_a_local_volume_that_binds_a_host_path_is_judged_as_that_bind(mount, passes):
    if passes:
        _spec.load_spec(raw(mounts=[mount]))
        return
    with pytest.raises(SpecError) as err:
        _spec.load_spec(raw(mounts=[mount]))
    assert {p['rule'] for p in err.value.problems} <= {'no_sensitive_mounts (baseline)', 'no_docker_socket (floor)'}
    assert 'volume hostdata (a bind of' in str(err.value) or 'Docker socket' in str(err.value)


def test_a_volume_line_naming_a_volume_that_binds_a_host_path_is_judged_by_the_engines_volume():
    spec = _spec.normalize_spec(raw(volumes=['hostdata:/data:ro']))
    _spec.validate_spec(spec)  # nothing known about the volume: a named volume
    engine_volume = {'Name': 'hostdata', 'Driver': 'local', 'Options': {'type': 'none', 'o': 'bind', 'device': '/root'}}
    with pytest.raises(SpecError) as err:
        _spec.validate_spec(spec, {'volumes': {'hostdata': engine_volume}})
    assert 'volume hostdata (a bind of /root) of sensitive host path /root' in str(err.value)


def test_networks_take_names_and_dicts_and_the_service_name_is_always_an_alias():
    container = desired(networks=['front', {'name': 'back', 'aliases': ['db', 'db.internal'], 'ipv4_address': '172.30.0.10'}])
    assert container['HostConfig']['NetworkMode'] == 'front'
    assert container['NetworkSettings']['Networks'] == {
        'front': {'Aliases': ['web'], 'IPAMConfig': None},
        'back': {'Aliases': ['web', 'db', 'db.internal'], 'IPAMConfig': {'IPv4Address': '172.30.0.10'}}}
    row = next(o for o in _spec.OPTIONS if o.name == 'networks')
    assert row.read(container) == ['back aliases=db,db.internal ipv4=172.30.0.10', 'front']


def test_the_live_container_id_docker_adds_to_the_aliases_is_not_a_difference():
    container = desired(networks=[{'name': 'back', 'aliases': ['db']}])
    live = copy.deepcopy(container)
    live['Id'] = '0123456789ab' + 'c' * 52
    live['NetworkSettings']['Networks']['back']['Aliases'].append('0123456789ab')
    assert 'networks' not in _spec.compare(container, live)
    live['NetworkSettings']['Networks']['back']['Aliases'].remove('db')
    assert _spec.compare(container, live)['networks'] == (['back'], ['back aliases=db'])


# ---------------------------------------------------------------- values the image decides

IMAGE_HEALTH = {'Test': ['CMD', 'wget', '-q', 'http://127.0.0.1:8080/'], 'Interval': 2 * 10 ** 9, 'Timeout': 2 * 10 ** 9,
                'StartPeriod': 5 * 10 ** 9, 'Retries': 3}


def test_a_service_healthcheck_takes_the_zero_fields_from_the_images_as_docker_does():
    spec = _spec.normalize_spec(raw(healthcheck={'test': 'true', 'interval': '10s'}))
    container = _spec.desired_inspect(spec, IMAGE_ID, {'Healthcheck': IMAGE_HEALTH})
    assert container['Config']['Healthcheck'] == {'Test': ['CMD-SHELL', 'true'], 'Interval': 10 * 10 ** 9, 'Timeout': 30 * 10 ** 9,
                                                  'Retries': 3, 'StartPeriod': 5 * 10 ** 9}
    live = copy.deepcopy(container)  # what docker inspect shows after the engine merged the image's
    assert 'healthcheck' not in _spec.compare(container, live)
    assert _spec.diff_view(None, container, None)['after']['healthcheck'] == {  # as the inventory writes it
        'test': 'true', 'interval': '10s', 'timeout': '30s', 'start_period': '5s', 'retries': 3}


def test_fields_the_spec_leaves_to_the_image_are_not_compared():
    container = desired()
    live = copy.deepcopy(container)
    live['Config'].update(WorkingDir='/srv/app', StopSignal='SIGQUIT', Hostname='4f1c2a9e4f1c', Env=['GREETING=hello'],
                          ExposedPorts={'9000/tcp': {}})
    live['HostConfig']['ShmSize'] = 64 * MiB
    assert _spec.compare(container, live) == {}


def test_strict_fields_see_drift_by_docker_update():
    container = desired(cpu_shares=512)
    live = copy.deepcopy(container)
    live['HostConfig'].update(CpuShares=100, MemoryReservation=8 * MiB, CpusetCpus='0')
    assert _spec.compare(container, live) == {'cpu_shares': (100, 512), 'memory_reservation': ('8m', 0), 'cpuset_cpus': ('0', '')}


# ---------------------------------------------------------------- logs, seccomp, defaults

def test_the_default_logs_rotate_and_other_drivers_get_no_rotation_options():
    assert desired()['HostConfig']['LogConfig'] == {'Type': 'json-file', 'Config': {'max-size': '10m', 'max-file': '3'}}
    assert desired(log_driver='local')['HostConfig']['LogConfig'] == {'Type': 'local', 'Config': {'max-size': '10m', 'max-file': '3'}}
    assert desired(log_driver='journald')['HostConfig']['LogConfig'] == {'Type': 'journald', 'Config': {}}
    assert desired(log_driver='journald', log_options={'tag': 'web'})['HostConfig']['LogConfig']['Config'] == {'tag': 'web'}


def test_a_seccomp_profile_file_is_sent_as_its_json_and_compared_by_content(tmp_path):
    profile = tmp_path / 'profile.json'
    profile.write_text(json.dumps({'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['mkdir'], 'action': 'SCMP_ACT_ERRNO'}]}))
    container = desired(security_opts=['seccomp=%s' % profile])
    sent = [o for o in container['HostConfig']['SecurityOpt'] if o.startswith('seccomp=')]
    assert len(sent) == 1 and json.loads(sent[0][len('seccomp='):])['syscalls'][0]['names'] == ['mkdir']
    shown = next(o for o in _spec.OPTIONS if o.name == 'security_opts').read(container)
    assert any(o.startswith('seccomp=<profile sha256:') for o in shown)
    profile.write_text(json.dumps({'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['rmdir'], 'action': 'SCMP_ACT_ERRNO'}]}))
    assert 'security_opts' in _spec.compare(desired(security_opts=['seccomp=%s' % profile]), container)


@pytest.mark.parametrize('content', ['not json', '[1, 2]', None])
def test_a_seccomp_file_that_is_not_a_profile_is_refused(tmp_path, content):
    profile = tmp_path / 'profile.json'
    if content is not None:
        profile.write_text(content)
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec(raw(security_opts=['seccomp=%s' % profile]))
    assert [(p['field'], p['rule']) for p in err.value.problems] == [('security_opts', 'seccomp profile')]


def test_unset_new_options_leave_the_spec_hash_as_it_was():
    plain = _spec.normalize_spec(raw())
    assert not set(_spec.hashable(plain)) & {'hostname', 'ulimits', 'log_driver', 'log_options', 'sysctls', 'groups', 'init', 'depends_on'}
    changed = _spec.normalize_spec(raw(ulimits=['nofile:1024']))
    assert _spec.spec_hash(plain, IMAGE_ID) != _spec.spec_hash(changed, IMAGE_ID)


def test_depends_on_is_orchestration_neither_hashed_nor_compared():
    spec = _spec.normalize_spec(raw(depends_on=['db', {'service': 'cache'}, {'queue': {'condition': 'service_healthy'}}]))
    assert spec['depends_on'] == [{'service': 'cache', 'condition': 'service_started'}, {'service': 'db', 'condition': 'service_started'},
                                  {'service': 'queue', 'condition': 'service_healthy'}]
    assert _spec.spec_hash(spec, IMAGE_ID) == _spec.spec_hash(_spec.normalize_spec(raw()), IMAGE_ID)
    assert _spec.normalize_spec(raw())['depends_on'] == []


def test_recreate_and_restart_are_operation_options():
    assert _spec.operations(raw(recreate='yes', restart=False)) == dict(
        state='started', pull='missing', grace_period=3, healthy_timeout=60, recreate=True, restart=False)
    assert 'recreate' not in _spec.normalize_spec(raw(recreate=True))
    with pytest.raises(SpecError) as err:
        _spec.operations(raw(restart='sometimes'))
    assert [p['field'] for p in err.value.problems] == ['restart']


def test_state_absent_needs_only_the_name():
    spec = _spec.normalize_spec({'name': 'web', 'state': 'absent'})
    assert spec['name'] == 'web' and spec['image'] is None
    with pytest.raises(SpecError) as err:
        _spec.normalize_spec({'name': 'web'})
    assert sorted(p['field'] for p in err.value.problems) == sorted(_spec.REQUIRED_UNLESS_ABSENT)
    assert ('state', 'started', _spec.REQUIRED_UNLESS_ABSENT) in _spec.REQUIRED_IF


def test_every_row_that_lands_in_the_container_is_read_back():
    """A row with an inspect field and no reading would be drift nobody sees."""
    for option in _spec.OPTIONS:
        if option.inspect is not None and option.compare is None:
            assert option.shown, option.name
