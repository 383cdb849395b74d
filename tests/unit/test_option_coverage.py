# -*- coding: utf-8 -*-
"""Every row of _spec.OPTIONS (and every operation option) has a test on the real engine, or a written reason.

The integration suite's option table (the dict returned by rows() in tests/integration/test_options.py)
covers most rows: each is created, rerun unchanged, changed and read back there. The other rows name the
integration test that exercises them in ELSEWHERE, with a word that test (or a fixture, table or helper of
its file it uses) must contain; LEFT_OUT says why a row has no engine test. A new row in none of the three
fails here, so an option cannot land without an engine test or a stated reason. The check reads the test
files (ast), it runs nothing: that the named test passes is the integration suite's job.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ansible_collections.containment.docker.plugins.module_utils import _spec

INTEGRATION = Path(__file__).resolve().parents[1] / 'integration'

# option -> (file::test, a word the test or what it uses contains)
ELSEWHERE = {
    'name': ('test_secure_container.py::test_state_stopped_then_absent', 'name'),
    'image': ('test_secure_container.py::test_tag_moved_to_a_rebuilt_image_recreates', 'image'),
    'image_id': ('test_secure_container.py::test_tag_moved_to_a_rebuilt_image_recreates', 'image_id'),
    'env': ('test_secrets.py::test_a_secret_in_every_output_path_of_the_module', 'LOG_LEVEL'),
    'user': ('test_secure_container.py::test_floor_seen_from_inside_the_container', 'uid=1500'),
    'memory': ('test_secure_container.py::test_create_rerun_and_change_memory', 'memory'),
    'cpus': ('test_demo.py::test_demo_stops_every_attack', 'cpu'),
    'blkio_weight': ('test_options.py::test_a_setting_the_engine_discards_fails_the_create_and_leaves_nothing', 'blkio_weight'),
    'pids_limit': ('test_secure_container.py::test_floor_seen_from_inside_the_container', 'pids_limit'),
    'read_only': ('test_secure_container.py::test_floor_seen_from_inside_the_container', 'Read-only file system'),
    'tmpfs': ('test_secure_container.py::test_floor_seen_from_inside_the_container', 'noexec'),
    'network_mode': ('test_secure_container.py::test_rerun_with_network_mode_none_is_unchanged', 'network_mode'),
    'ipc_mode': ('test_audit_module.py::test_bad_shape_made_by_hand', 'host-ipc'),
    'uts_mode': ('test_audit_module.py::test_bad_shape_made_by_hand', 'host-uts'),
    'userns_mode': ('test_audit_module.py::test_bad_shape_made_by_hand', 'host-userns'),
    'cap_drop': ('test_secure_container.py::test_floor_seen_from_inside_the_container', 'CapEff'),
    'cap_add': ('test_secure_container.py::test_out_of_band_container_is_detected_and_replaced', 'CapAdd'),
    'privileged': ('test_audit_module.py::test_bad_shape_made_by_hand', 'privileged'),
    'security_opts': ('test_options.py::test_every_option_converges_reruns_unchanged_changes_and_drifts_back', 'security_opts'),
    'exceptions': ('test_audit_module.py::test_exception_shows_excepted_with_its_reason', 'excepted'),
    'labels': ('test_audit_module.py::test_filters_check_mode_and_an_engine_that_cannot_be_reached', 'labels'),
    'secret_env': ('test_secrets.py::test_a_secret_in_every_output_path_of_the_module', 'secret_env'),
    'env_file': ('test_secrets.py::test_a_secret_in_every_output_path_of_the_module', 'env_file'),
    'secrets': ('test_secrets.py::test_a_secret_in_every_output_path_of_the_module', 'db_password'),
    'depends_on': ('test_depends_on.py::test_a_dependant_starts_only_after_its_dependency_is_healthy', 'service_healthy'),
    # the operation options
    'state': ('test_secure_container.py::test_state_stopped_then_absent', 'absent'),
    'pull': ('test_role.py::test_deploy_rerun_check_diff_rollback_and_audit_over_ssh_and_tls', 'pull'),
    'grace_period': ('test_secure_container.py::test_new_version_that_exits_is_rolled_back_and_old_keeps_serving', 'grace_period'),
    'healthy_timeout': ('test_secure_container.py::test_healthcheck_passing_becomes_healthy_failing_is_rolled_back', 'healthy_timeout'),
    'recreate': ('test_depends_on.py::test_recreate_and_restart_triggers', 'recreate'),
    'restart': ('test_depends_on.py::test_recreate_and_restart_triggers', 'restart'),
}

# option -> why no engine test runs it
LEFT_OUT = {
    'pid_mode': 'host is its only mode besides container:NAME, and host breaks no_host_namespaces and (Docker adds '
                'label=disable) security_profiles; the unit rows of both controls and the refusal of a bad mode '
                '(test_malformed_specs.py) cover it',
    'device_requests': 'never set by the collection (read back only, so that a GPU request added by hand is drift); a '
                       'request needs a GPU and its driver, which CI has not: the unit rows of no_devices cover it',
}


def _words(node):
    """String constants (and keyword argument names) under an ast node."""
    words = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            words.add(sub.value)
        elif isinstance(sub, ast.keyword) and sub.arg:
            words.add(sub.arg)
    return words


def _module(path):
    tree = ast.parse(path.read_text(encoding='utf-8'))
    named = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            named[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    named[target.id] = node
    return named


def words_of_test(file_name, test_name):
    """The words of one test and of the module-level fixtures, tables and helpers it names (one level), or None."""
    named = _module(INTEGRATION / file_name)
    test = named.get(test_name)
    if not isinstance(test, ast.FunctionDef):
        return None
    used = set(a.arg for a in test.args.args) | set(n.id for n in ast.walk(test) if isinstance(n, ast.Name))
    words = _words(test)
    for name in used & set(named):
        words |= _words(named[name])
    return words


def option_table_rows():
    """The options of the integration option table: the keys of the dict rows() returns."""
    rows = _module(INTEGRATION / 'test_options.py')['rows']
    returned = next(n.value for n in ast.walk(rows) if isinstance(n, ast.Return))
    return set(k.value for k in returned.keys)


ALL_OPTIONS = [o.name for o in _spec.OPTIONS] + [o.name for o in _spec.OPERATIONS]


def test_every_option_has_an_engine_test_or_a_reason():
    in_table = option_table_rows()
    places = [in_table, set(ELSEWHERE), set(LEFT_OUT)]
    missing = [name for name in ALL_OPTIONS if not any(name in place for place in places)]
    assert missing == [], 'add these options to rows() in tests/integration/test_options.py (or to ELSEWHERE / LEFT_OUT): %s' % missing
    twice = [name for name in ALL_OPTIONS if sum(name in place for place in places) > 1]
    assert twice == [], 'listed in more than one place: %s' % twice
    assert set().union(*places) <= set(ALL_OPTIONS), 'not options: %s' % sorted(set().union(*places) - set(ALL_OPTIONS))


@pytest.mark.parametrize('option', sorted(ELSEWHERE))
def test_the_named_engine_test_exists_and_is_about_the_option(option):
    where, word = ELSEWHERE[option]
    file_name, test_name = where.split('::')
    words = words_of_test(file_name, test_name)
    assert words is not None, '%s: no test %s' % (option, where)
    assert any(word in w for w in words), '%s: %s does not mention %r' % (option, where, word)
