# -*- coding: utf-8 -*-
"""Secrets without an engine: env files read as the docker CLI reads them, secret files checked for
the container's user, digests that detect a change without revealing the content, and the masking of
every text the converger prints (diff, reasons, refusals, module arguments, log lines).

Every secret value below starts with 'Sx9': no output may contain that string."""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.containment.docker.plugins.module_utils import _converge
from ansible_collections.containment.docker.plugins.module_utils import _secrets
from ansible_collections.containment.docker.plugins.module_utils import _spec
from ansible_collections.containment.docker.plugins.module_utils._spec import SpecError

IMAGE = {'Id': 'sha256:' + 'a' * 64, 'Config': {'Env': ['PATH=/bin'], 'Labels': {}}}


# ---------------------------------------------------------------- env files

@pytest.mark.parametrize('text, expected', [
    ('A=1\nB=2\n', {'A': '1', 'B': '2'}),
    ('# a comment\n\n   \nA=1\n', {'A': '1'}),
    ('\ufeffA=1\n', {'A': '1'}),                                   # a byte order mark is dropped
    ('   A=1\n', {'A': '1'}),                                      # leading whitespace is dropped
    ('A="quoted" \n', {'A': '"quoted" '}),                         # the value is taken as is
    ('A=x # not a comment\n', {'A': 'x # not a comment'}),
    ('A=\n', {'A': ''}),
    ('A=b=c\n', {'A': 'b=c'}),
    ('A=1\nA=2\n', {'A': '2'}),                                    # the last one wins
    ('FROM_ENV\nUNSET_HERE\n', {'FROM_ENV': 'Sx9-environ'}),       # a name alone: the module's environment
    ('A=1\r\nB=2\r\n', {'A': '1', 'B': '2'}),
])
def test_env_file_is_parsed_as_the_docker_cli_does(text, expected):
    assert _secrets.parse_env_file(text, {'FROM_ENV': 'Sx9-environ'}) == expected


@pytest.mark.parametrize('text, says', [
    ('=Sx9-value\n', 'line 1 has no variable name'),
    ('OK=1\nBAD NAME=Sx9-value\n', 'line 2: the variable name contains whitespace'),
])
def test_a_bad_env_file_line_is_named_by_number_never_by_its_text(text, says):
    with pytest.raises(_secrets.EnvFileError) as error:
        _secrets.parse_env_file(text, {})
    assert str(error.value) == says


def test_reading_a_missing_or_binary_env_file_names_the_path(tmp_path):
    assert _secrets.read_env_file(str(tmp_path / 'nope.env')) == (
        None, 'cannot read env file %s: No such file or directory' % (tmp_path / 'nope.env'))
    binary = tmp_path / 'bin.env'
    binary.write_bytes(b'A=\xff\xfe')
    assert _secrets.read_env_file(str(binary)) == (None, 'env file %s is not UTF-8 text' % binary)


# ---------------------------------------------------------------- secret files

@pytest.mark.parametrize('uid, gid, owner, group, mode, readable', [
    (1500, 1500, 1500, 1500, 0o400, True),
    (1500, 1500, 0, 1500, 0o040, True),       # the group may read
    (1500, 1500, 0, 0, 0o600, False),         # root's own file
    (1500, 1500, 0, 0, 0o644, True),          # world-readable
    (1500, 1500, 1500, 0, 0o044, False),      # the owner class decides, even when others may read
    (1500, 1501, 0, 1501, 0o400, False),
])
def test_readable_by_follows_the_kernel_rule(uid, gid, owner, group, mode, readable):
    assert _secrets.readable_by(uid, gid, owner, group, mode) is readable


def test_a_digest_matches_its_content_only_and_never_repeats():
    sha = 'ab' * 32
    first, second = _secrets.file_digest(sha), _secrets.file_digest(sha)
    assert first != second                       # a new salt each time: no comparing across hosts
    assert _secrets.digest_matches(sha, first) and _secrets.digest_matches(sha, second)
    assert not _secrets.digest_matches('cd' * 32, first)
    cheap = first.replace('$16384$', '$2$')      # a label cannot choose a cheaper cost
    assert not _secrets.digest_matches(sha, cheap)
    assert not _secrets.digest_matches(sha, 'garbage') and not _secrets.digest_matches(sha, None)
    assert sha not in first


# ---------------------------------------------------------------- texts

def test_redact_replaces_longest_values_first_in_every_string():
    values = {'Sx9-abc', 'Sx9-abcdef'}
    assert _secrets.redact('pw=Sx9-abcdef and Sx9-abc', values) == 'pw=******** and ********'
    data = {'logs': ['Sx9-abc'], 'n': 3, 'msg': 'x Sx9-abcdef', 'ok': None}
    assert _secrets.redact_deep(data, values) == {'logs': ['********'], 'n': 3, 'msg': 'x ********', 'ok': None}


def test_raw_values_and_masked_service_cover_dicts_and_lists():
    raw = {'name': 'web', 'secret_env': {'A': 'Sx9-1'}, 'env': ['DB_PASSWORD=Sx9-2', 'LEVEL=info']}
    assert _secrets.raw_values(raw) == {'Sx9-1', 'Sx9-2', 'DB_PASSWORD=Sx9-2'}
    masked = _secrets.masked_service(raw)
    assert masked == {'name': 'web', 'secret_env': {'A': '(secret)'}, 'env': ['DB_PASSWORD=(secret)', 'LEVEL=info']}
    assert _secrets.masked_service({'env': {'API_TOKEN': 'Sx9-3', 'LEVEL': 'info'}})['env'] == {
        'API_TOKEN': '(secret)', 'LEVEL': 'info'}
    assert _secrets.raw_values({'secret_env': 'Sx9-str'}) == set()  # refused later, and never echoed


def test_credentials_in_volume_options_are_masked_and_the_rest_stays_readable():
    raw = {'name': 'files', 'mounts': [
        {'source': 'share', 'target': '/share', 'volume_driver': 'local',
         'volume_options': {'type': 'cifs', 'device': '//nas/share', 'o': 'addr=nas,username=app,password=Pw-1x,vers=3.0'}},
        {'source': 'other', 'target': '/other', 'volume_options': {'o': 'pass=Pw-2y', 'api_token': 'Tk-3z'}},
        {'source': 'plain', 'target': '/plain', 'volume_options': {'type': 'none', 'o': 'bind', 'device': '/srv/plain'}},
        'not-a-mount']}
    assert _secrets.raw_values(raw) == {'Pw-1x', 'Pw-2y', 'Tk-3z'}
    masked = _secrets.masked_service(raw)
    assert masked['mounts'][0]['volume_options'] == {'type': 'cifs', 'device': '//nas/share',
                                                     'o': 'addr=nas,username=app,password=(secret),vers=3.0'}
    assert masked['mounts'][1]['volume_options'] == {'o': 'pass=(secret)', 'api_token': '(secret)'}
    assert masked['mounts'][2:] == raw['mounts'][2:]
    assert raw['mounts'][0]['volume_options']['o'].endswith('password=Pw-1x,vers=3.0'), 'the service itself is not changed'
    assert _secrets.masked_service({'name': 'x', 'mounts': raw['mounts'][2:]}) == {'name': 'x', 'mounts': raw['mounts'][2:]}


@pytest.mark.parametrize('name, secret', [
    ('DB_PASSWORD', True), ('db_passwd', True), ('GITHUB_TOKEN', True), ('CLIENT_SECRET', True),
    ('AWS_ACCESS_KEY', True), ('KEY', True), ('KEYBOARD', False), ('LOG_LEVEL', False), ('MONKEY_NAME', False),
])
def test_names_that_look_secret(name, secret):
    assert _secrets.looks_secret(name) is secret


# ---------------------------------------------------------------- specs

def service(**overrides):
    raw = dict(name='app', image='containment-test/busybox:1', user='1500:1500', memory='16m', cpus=0.5)
    raw.update(overrides)
    return raw


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / 'db_password'
    path.write_text('Sx9-file-one\n', encoding='utf-8')
    os.chmod(str(path), 0o444)
    return path


def test_env_and_secret_env_win_over_env_files_and_every_file_value_is_secret(tmp_path):
    first, second = tmp_path / 'a.env', tmp_path / 'b.env'
    first.write_text('A=Sx9-a1\nB=Sx9-b1\nC=Sx9-c1\n', encoding='utf-8')
    second.write_text('B=Sx9-b2\n', encoding='utf-8')
    spec = _spec.normalize_spec(service(env={'A': 'plain'}, secret_env={'C': 'Sx9-c0'}, env_file=[str(first), str(second)]))
    assert spec['env'] == {'A': 'plain'}
    assert spec['secret_env'] == {'B': 'Sx9-b2', 'C': 'Sx9-c0'}
    assert _spec.managed_labels(spec)['containment.secret-env'] == 'B,C'


def test_env_file_and_secrets_problems_name_service_field_and_path_never_a_value(tmp_path, secret_file):
    missing = str(tmp_path / 'missing.env')
    bad = tmp_path / 'bad.env'
    bad.write_text('=Sx9-bad\n', encoding='utf-8')
    locked = tmp_path / 'locked'
    locked.write_text('Sx9-locked', encoding='utf-8')
    os.chmod(str(locked), 0o600)
    with pytest.raises(SpecError) as error:
        _spec.normalize_spec(service(env_file=[missing, str(bad)], secret_env={'X': 'Sx9-x'}, env={'X': 'Sx9-y'},
                                     secrets=[{'name': 'locked', 'source': str(locked)},
                                              {'name': 'gone', 'source': str(tmp_path / 'gone')},
                                              {'name': 'rel', 'source': 'relative/path'}]))
    text = str(error.value)
    assert "service 'app': field 'env_file': env file: cannot read env file %s: No such file or directory" % missing in text
    assert "env file %s: line 1 has no variable name" % bad in text
    assert 'X is set in both env and secret_env' in text
    assert "secret locked: %s (owner %d:%d, mode 0600) is not readable by the container's user 1500:1500" % (
        locked, os.getuid(), os.getgid()) in text
    assert "ansible.builtin.copy owner: '1500' group: '1500' mode: '0400'" in text
    assert 'secret gone: cannot read secret file %s' % (tmp_path / 'gone') in text
    assert "secret rel: source 'relative/path' is not an absolute path" in text
    assert 'Sx9' not in text


@pytest.mark.parametrize('field, value', [
    ('env', ['DB_PASSWORD=Sx9-listed']), ('secret_env', 'Sx9-string'), ('secret_env', ['Sx9-x']), ('secrets', 'Sx9-s'),
])
def test_a_wrongly_typed_secret_option_is_refused_without_its_value(field, value):
    with pytest.raises(SpecError) as error:
        _spec.normalize_spec(service(**{field: value}))
    assert '%s must be a' % field in str(error.value) and 'Sx9' not in str(error.value)


def test_a_secret_file_is_a_read_only_bind_at_run_secrets_that_passes_the_policy(secret_file):
    spec = _spec.load_spec(service(secrets=[{'name': 'db_password', 'source': str(secret_file)},
                                            {'name': 'other', 'source': str(secret_file), 'target': '/etc/app/pw'}]))
    desired = _spec.desired_inspect(spec, IMAGE['Id'])
    assert desired['HostConfig']['Binds'] == ['%s:/run/secrets/db_password:ro' % secret_file, '%s:/etc/app/pw:ro' % secret_file]
    findings = dict((f['control'], f['status']) for f in _spec.validate_spec(spec))
    assert findings['no_sensitive_mounts'] == 'pass' and findings['no_docker_socket'] == 'pass'


# The options a spec hash held before secrets (and the options of issue 10) existed.
LEGACY_KEYS = ('name', 'image', 'command', 'entrypoint', 'env', 'user', 'memory', 'memory_swap', 'cpus', 'pids_limit', 'tmpfs',
               'ports', 'volumes', 'network_mode', 'pid_mode', 'networks', 'cap_add', 'security_opts', 'devices', 'exceptions',
               'restart_policy', 'restart_retries', 'healthcheck', 'labels', 'stop_timeout')


def test_the_spec_hash_holds_no_secret_and_is_unchanged_for_services_without_secrets():
    plain = _spec.normalize_spec(service(env={'A': '1'}))
    legacy = dict((k, v) for k, v in plain.items() if k in LEGACY_KEYS)
    legacy['networks'] = _spec.network_names(plain)
    assert _spec.hashable(plain) == legacy   # the payload of the hash before these options existed
    one = _spec.normalize_spec(service(secret_env={'DB_PASSWORD': 'Sx9-one'}))
    two = _spec.normalize_spec(service(secret_env={'DB_PASSWORD': 'Sx9-two'}))
    other = _spec.normalize_spec(service(secret_env={'API_TOKEN': 'Sx9-one'}))
    assert _spec.spec_hash(one, 'img') == _spec.spec_hash(two, 'img') != _spec.spec_hash(other, 'img')
    assert 'Sx9' not in repr(_spec.hashable(one))


# ---------------------------------------------------------------- plans, diffs, reasons

def ops():
    return {'state': 'started', 'pull': 'missing', 'grace_period': 3, 'healthy_timeout': 60}


def live_of(spec):
    desired = _converge.plan_service(spec, ops(), None, IMAGE, {})['desired']
    live = copy.deepcopy(desired)
    live.update(Id='c0ffee' * 10 + 'beef', State={'Status': 'running', 'Running': True})
    live['Config']['Env'] = IMAGE['Config']['Env'] + live['Config']['Env']
    live['HostConfig']['IpcMode'] = 'private'
    return live


def plan_and_diff(spec, live):
    plan = _converge.plan_service(spec, ops(), live, IMAGE, {})
    return plan, _spec.diff_view(spec, plan['desired'], live)


def test_an_unchanged_secret_plans_nothing(secret_file):
    spec = _spec.normalize_spec(service(secret_env={'DB_PASSWORD': 'Sx9-one'},
                                        secrets=[{'name': 'db', 'source': str(secret_file)}]))
    plan, diff = plan_and_diff(spec, live_of(spec))
    assert (plan['action'], plan['reasons'], diff) == ('none', [], {'before': {}, 'after': {}})


def test_a_rotated_secret_env_is_named_in_reasons_and_diff_never_shown(secret_file):
    live = live_of(_spec.normalize_spec(service(env={'LEVEL': 'info'}, secret_env={'DB_PASSWORD': 'Sx9-one'})))
    spec = _spec.normalize_spec(service(env={'LEVEL': 'debug'}, secret_env={'DB_PASSWORD': 'Sx9-two', 'NEW_ONE': 'Sx9-new'}))
    plan, diff = plan_and_diff(spec, live)
    assert plan['action'] == 'recreate'
    assert "env differs: DB_PASSWORD: (secret changed), LEVEL: live 'info', wanted 'debug', NEW_ONE: (secret) added" in plan['reasons']
    assert diff['before']['env'] == {'DB_PASSWORD': '(secret)', 'LEVEL': 'info'}
    assert diff['after']['env'] == {'DB_PASSWORD': '(secret changed)', 'LEVEL': 'debug', 'NEW_ONE': '(secret)'}
    assert 'Sx9' not in repr(plan['reasons']) + repr(diff)


def test_a_plain_env_name_that_looks_secret_is_masked_too():
    live = live_of(_spec.normalize_spec(service(env={'DB_PASSWORD': 'Sx9-first'})))
    plan, diff = plan_and_diff(_spec.normalize_spec(service(env={'DB_PASSWORD': 'Sx9-second'})), live)
    assert 'env differs: DB_PASSWORD: (secret changed)' in plan['reasons']
    assert 'Sx9' not in repr(diff)


def test_a_value_that_was_secret_stays_hidden_when_it_moves_to_plain_env():
    live = live_of(_spec.normalize_spec(service(secret_env={'DB_HOST': 'Sx9-first'})))
    plan, diff = plan_and_diff(_spec.normalize_spec(service(env={'DB_HOST': 'db.internal'})), live)
    assert diff['before']['env'] == {'DB_HOST': '(secret)'} and 'Sx9' not in repr(plan['reasons']) + repr(diff)


def test_a_changed_secret_file_recreates_by_name(secret_file):
    live = live_of(_spec.normalize_spec(service(secrets=[{'name': 'db', 'source': str(secret_file)}])))
    os.chmod(str(secret_file), 0o644)
    secret_file.write_text('Sx9-file-two\n', encoding='utf-8')
    plan, diff = plan_and_diff(_spec.normalize_spec(service(secrets=[{'name': 'db', 'source': str(secret_file)}])), live)
    assert plan['action'] == 'recreate' and plan['reasons'] == ['secret db: (secret changed)']
    assert diff['before']['labels']['containment.secret.db'] == '(secret)'
    assert diff['after']['labels']['containment.secret.db'] == '(secret changed)'


def test_values_of_a_spec_include_file_contents_and_each_line(secret_file):
    spec = _spec.normalize_spec(service(env={'API_KEY': 'Sx9-k', 'LEVEL': 'x'}, secret_env={'A': 'Sx9-a'},
                                        secrets=[{'name': 'db', 'source': str(secret_file)}]))
    assert _secrets.values_of(spec) == {'Sx9-k', 'Sx9-a', 'Sx9-file-one\n', 'Sx9-file-one'}
