"""The role's argument specs mirror the module's option table, and its README mirrors the specs.

roles/secure_services/meta/argument_specs.yml describes the service items a second time (Ansible
reads role specs from YAML, not from Python). These tests keep it equal to SERVICE_OPTIONS and
OPERATION_OPTIONS (keys, types, elements, defaults, choices, nested options), so the role can never
accept a key the module refuses or document a default the module does not use.

The option tables of roles/secure_services/README.md are generated from the specs:

    python tests/unit/test_role_argument_specs.py --write
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.containment.docker.plugins.filter.services import ROLE_KEYS
from ansible_collections.containment.docker.plugins.module_utils._spec import OPERATION_OPTIONS, SERVICE_OPTIONS

ROLE = Path(__file__).resolve().parents[2] / 'roles' / 'secure_services'
SPECS = ROLE / 'meta' / 'argument_specs.yml'
README = ROLE / 'README.md'
MODULE_OPTIONS = dict(SERVICE_OPTIONS, **OPERATION_OPTIONS)
COMPARED = ('type', 'elements', 'default', 'choices')
BEGIN = '<!-- BEGIN {} (generated from meta/argument_specs.yml by tests/unit/test_role_argument_specs.py --write) -->'
END = '<!-- END {} -->'


def load_yaml(path):
    return yaml.safe_load(path.read_text(encoding='utf-8'))


def main_options():
    return load_yaml(SPECS)['argument_specs']['main']['options']


def item_options():
    return main_options()['secure_services_services']['options']


def role_vars():
    return load_yaml(ROLE / 'vars' / 'main.yml')


def _differences(role_option, module_option, path):
    found = []
    for key in COMPARED:
        if role_option.get(key) != module_option.get(key):
            found.append('%s: %s is %r in the role, %r in the module' % (path, key, role_option.get(key), module_option.get(key)))
    role_nested, module_nested = role_option.get('options') or {}, module_option.get('options') or {}
    if set(role_nested) != set(module_nested):
        found.append('%s: nested options %s in the role, %s in the module' % (path, sorted(role_nested), sorted(module_nested)))
    for name in sorted(set(role_nested) & set(module_nested)):
        sub_path = '%s.%s' % (path, name)
        found.extend(_differences(role_nested[name], module_nested[name], sub_path))
        if bool(role_nested[name].get('required')) != bool(module_nested[name].get('required')):
            found.append('%s: required differs' % sub_path)
    return found


def test_service_items_have_exactly_the_module_options_plus_role_keys():
    role_keys = set(ROLE_KEYS)
    assert role_keys.isdisjoint(MODULE_OPTIONS), 'a role-only key shadows a module option'
    assert set(item_options()) - role_keys == set(MODULE_OPTIONS)
    assert role_keys <= set(item_options())


@pytest.mark.parametrize('name', sorted(MODULE_OPTIONS))
def test_service_item_option_matches_the_module(name):
    assert _differences(item_options()[name], MODULE_OPTIONS[name], name) == []


def test_only_the_name_is_required_of_an_item():
    # The items themselves require only `name`: the rest may come from secure_services_defaults
    # or the host's override; tasks/checks.yml checks the merged services as the module does.
    assert [k for k, v in item_options().items() if v.get('required')] == ['name']


def test_extra_services_take_the_same_items():
    options = main_options()
    assert options['secure_services_extra_services']['options'] == item_options()
    assert options['secure_services_extra_services']['elements'] == 'dict'


def test_every_public_variable_is_in_defaults_and_specs():
    defaults = load_yaml(ROLE / 'defaults' / 'main.yml')
    assert set(defaults) == set(main_options())
    assert all(name.startswith('secure_services_') for name in defaults)
    assert all(name.startswith('__secure_services_') for name in role_vars())
    for name, option in main_options().items():
        assert option.get('default') in (defaults[name], _fallback(defaults[name])), name


def _fallback(value):
    """The value a default such as '{{ containment_docker_tls | default(false) }}' has when the inventory does
    not set the variable: what the argument spec of a bool option documents (it takes no template)."""
    match = re.match(r'^\{\{ *\w+ *\| *default\((.*)\) *\}\}$', value) if isinstance(value, str) else None
    return yaml.safe_load(match.group(1)) if match else value


# ------------------------------------------------------------------ README tables

_MARKUP = re.compile(r'\b[CMEVO]\(([^)]*)\)')


def _text(description):
    if isinstance(description, list):
        description = ' '.join(description)
    return _MARKUP.sub(r'`\1`', ' '.join(str(description).split())).replace('|', '\\|')


def _value(value):
    if value is None:
        return ''
    if isinstance(value, str):
        return '`%s`' % value.replace('|', '\\|') if value else "`''`"
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1000).strip()
    return '`%s`' % text.replace('\n...', '').replace('|', '\\|')


def _type(option):
    text = option.get('type', 'str')
    if option.get('elements'):
        text += ' of ' + option['elements']
    return text


def _rows(options, prefix=''):
    rows = []
    for name, option in options.items():
        default = _value(option.get('default'))
        if option.get('required'):
            default = 'required'
        if option.get('choices'):
            default += (' (one of %s)' % ', '.join('`%s`' % c for c in option['choices']))
        rows.append('| `%s%s` | %s | %s | %s |' % (prefix, name, _type(option), default.strip(), _text(option['description'])))
        nested = option.get('options')
        if nested and name not in ('secure_services_services', 'secure_services_extra_services'):
            rows.extend(_rows(nested, '%s%s%s.' % (prefix, name, '[]' if option.get('type') == 'list' else '')))
    return rows


def tables():
    header = ['| {} | type | default | description |', '|---|---|---|---|']
    variables = [header[0].format('variable'), header[1]] + _rows(main_options())
    services = [header[0].format('option'), header[1]] + _rows(item_options())
    return {'variables': '\n'.join(variables), 'service options': '\n'.join(services)}


def render(readme):
    for name, table in tables().items():
        begin, end = BEGIN.format(name), END.format(name)
        pattern = re.compile(re.escape(begin) + r'.*?' + re.escape(end), re.DOTALL)
        assert pattern.search(readme), 'README has no %r section' % begin
        readme = pattern.sub(lambda _m: '%s\n%s\n%s' % (begin, table, end), readme)
    return readme


def test_readme_tables_match_the_argument_specs():
    readme = README.read_text(encoding='utf-8')
    assert render(readme) == readme, 'run: python tests/unit/test_role_argument_specs.py --write'


if __name__ == '__main__':
    if sys.argv[1:] == ['--write']:
        README.write_text(render(README.read_text(encoding='utf-8')), encoding='utf-8')
    else:
        sys.exit('usage: %s --write' % sys.argv[0])
