"""The option docs of secure_container (hand-written YAML, as ansible-doc reads it) say what the option
table of _spec.py declares: the same names, types, elements, defaults, choices, required and no_log, down
to the suboptions. A new row in the table without its documentation fails here. Module docs have no
no_log key (ansible-test's schema refuses it): a no_log option says C(no_log) in its description."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from ansible_collections.containment.docker.plugins.module_utils import _spec

MODULE = Path(__file__).resolve().parents[2] / 'plugins' / 'modules' / 'secure_container.py'
COMPARED = ('type', 'elements', 'default', 'choices', 'required', 'no_log')
TABLE = dict(_spec.SERVICE_OPTIONS, **_spec.OPERATION_OPTIONS)


def text_of(option):
    description = option.get('description') or ''
    return ' '.join(description) if isinstance(description, list) else description


def documented_options():
    tree = ast.parse(MODULE.read_text(encoding='utf-8'))
    doc = next(node.value.value for node in tree.body
               if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == 'DOCUMENTATION')
    return yaml.safe_load(doc)['options']


def differences(doc, spec, path):
    found = []
    for key in COMPARED:
        have, want = doc.get(key) if key != 'no_log' else 'C(no_log)' in text_of(doc), spec.get(key)
        if key == 'type':
            have, want = have or 'str', want or 'str'
        if key in ('required', 'no_log'):
            have, want = bool(have), bool(want)
        if have != want:
            found.append('%s: %s is %r in the docs, %r in the table' % (path, key, have, want))
    nested_doc, nested_spec = doc.get('suboptions') or {}, spec.get('options') or {}
    if set(nested_doc) != set(nested_spec):
        found.append('%s: suboptions %s in the docs, %s in the table' % (path, sorted(nested_doc), sorted(nested_spec)))
    for name in sorted(set(nested_doc) & set(nested_spec)):
        found.extend(differences(nested_doc[name], nested_spec[name], '%s.%s' % (path, name)))
    return found


def test_the_docs_name_exactly_the_options_of_the_table():
    assert set(documented_options()) == set(TABLE)


@pytest.mark.parametrize('name', sorted(TABLE))
def test_each_documented_option_matches_its_row(name):
    option = documented_options()[name]
    assert option.get('description'), name
    assert differences(option, TABLE[name], name) == []


def test_the_options_required_to_run_a_container_say_so():
    for name in _spec.REQUIRED_UNLESS_ABSENT:
        assert 'Required unless O(state=absent)' in text_of(documented_options()[name]), name
