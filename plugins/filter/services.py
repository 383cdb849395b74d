# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The role secure_services on the controller, in Python (as Jinja loops over hundreds of services they
# cost seconds per host): the merge of a host's services (secure_services_merge), the one-pass check of
# its variables before any host is touched (secure_services_check, with secure_services_fingerprint to
# check once per play run; the services' part is service_problems, a thin wrapper of secure_stack's own
# checks, plugins/module_utils/_converge.py check_specs) and the summary (secure_services_report).
# Documentation: the .yml file of each filter beside this one.

from __future__ import annotations

import hashlib
import json
import os
import re

import yaml

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

# Ansible imports every filter file of a collection to find any one of its filters, in every worker
# process: the checks (secure_stack's, a tenth of a second to import) are imported when a check runs.


def _checks():
    from ansible_collections.containment.docker.plugins.module_utils import _converge, _secrets, _spec
    return _converge, _secrets, _spec


def _plain(value):
    """Template results (lazy containers, tagged strings) as plain JSON data."""
    return json.loads(json.dumps(value, default=str))


def service_problems(services, host=None, disabled=None):
    for name, value in (('the services', services), ('disabled', disabled)):
        if value is not None and not isinstance(value, (list, tuple)):
            raise AnsibleFilterError('service_problems: %s must be a list of services, not %s' % (name, type(value).__name__))
    _converge, _secrets, _spec = _checks()
    services, disabled = _plain(services), _plain(disabled or [])
    problems = _converge.check_specs(services, check_unique_uid=True, offline=True)[2]
    for raw in disabled:  # not deployed: its keys and types only
        problems.extend(_spec.collect_spec(raw, offline=True)[1])
    secret_values = set()
    for raw in services + disabled:
        secret_values.update(_secrets.raw_values(raw))
    prefix = '%s: ' % host if host else ''
    return [_secrets.redact(prefix + _spec.format_problem(p), secret_values) for p in problems]


# Keys of a service item that only the role reads; the module never sees them.
ROLE_KEYS = ('enabled',)

# A port that names its host address: IPv4, or IPv6 in brackets, before a colon.
_ADDRESSED = re.compile(r'^(\[[^\]]*\]|[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+):')


def _combine(base, over):
    """base with over on top, dicts merged key by key at every depth, anything else (lists too) replaced:
    Ansible's combine(recursive=True)."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _combine(merged[key], value)
        else:
            merged[key] = value
    return merged


def bind_prefix(address):
    """How the bind address is written in front of a port: IPv6 in brackets, once."""
    address = str(address).strip()
    if address.startswith('[') and address.endswith(']'):
        address = address[1:-1]
    return '[%s]' % address if ':' in address else address


def bind_port(port, prefix):
    """A port without a host address of its own, bound to the prefix. A port has one when it starts with one
    (IPv4, or IPv6 in brackets), or when it has two colons or more before its /PROTO: HOST_IP:HOST_PORT:
    CONTAINER_PORT with an IPv6 host IP without brackets, as the Compose spec accepts it (::1:8080:80).
    Without one it has at most one colon."""
    port = str(port).strip()
    if _ADDRESSED.match(port) or port.split('/', maxsplit=1)[0].count(':') >= 2:
        return port
    return '%s:%s' % (prefix, port) if ':' in port else '%s::%s' % (prefix, port)


def _mapping(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnsibleFilterError('secure_services_merge: %s must be a mapping of options, not %s'
                                 % (what, type(value).__name__))
    return value


def secure_services_merge(services, extra=None, defaults=None, overrides=None, bind_address='127.0.0.1'):
    """A host's services as the role gives them to secure_stack: the group's list then the host's extras,
    secure_services_defaults under each, the host's override (by name) over it, ports without an address bound
    to bind_address; split into the enabled ones (stack) and the rest (disabled), role-only keys removed.
    Also the names (a service without one is called by its place) and the problems of the merge itself:
    a name given twice, an override naming no service."""
    items = []
    for what, value in (('secure_services_services', services), ('secure_services_extra_services', extra)):
        value = _plain(value) if value is not None else []
        if not isinstance(value, list):
            raise AnsibleFilterError('secure_services_merge: %s must be a list, not %s' % (what, type(value).__name__))
        for index, item in enumerate(value):
            items.append(_mapping(item, '%s[%d]' % (what, index)))
    defaults = _mapping(_plain(defaults), 'secure_services_defaults')
    overrides = _mapping(_plain(overrides), 'secure_services_overrides')
    prefix = bind_prefix(bind_address)
    stack, disabled, names = [], [], []
    for index, service in enumerate(items, 1):
        name = service.get('name')
        override = _mapping(overrides.get(name if isinstance(name, str) else '', {}),
                            'secure_services_overrides[%s]' % name)
        merged = _combine(_combine(defaults, service), override)
        name = merged.get('name')
        names.append(str(name) if name else '(service #%d without a name)' % index)
        if isinstance(merged.get('ports'), list):  # another type is the check's to report
            merged['ports'] = [bind_port(port, prefix) for port in merged['ports']]
        enabled = boolean(merged.get('enabled', True), strict=False)
        (stack if enabled else disabled).append(dict((k, v) for k, v in merged.items() if k not in ROLE_KEYS))
    problems = ["service %s is defined twice (give a host's own service another name, or change the group's service"
                " with secure_services_overrides)" % name
                for name in sorted(set(names), key=names.index) if names.count(name) > 1]
    problems.extend('secure_services_overrides names %s, which is not a service of this host (its services: %s)'
                    % (name, ', '.join(names)) for name in overrides if name not in names)
    return {'stack': stack, 'disabled': disabled, 'names': names, 'problems': problems}


_ROLE_SPECS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           'roles', 'secure_services', 'meta', 'argument_specs.yml')


def role_specs(path=_ROLE_SPECS):
    """The options of the role's main entry point, from its meta/argument_specs.yml: the one description
    of the role's variables (read here with the C YAML loader: Ansible's own from_yaml took a twentieth
    of a second each time)."""
    with open(path, 'rb') as handle:
        return yaml.load(handle, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader))['argument_specs']['main']['options']


def _role_variables(variables, specs):
    """The role's variables among `variables` (a host's secure_services_* variables), as plain data."""
    if not isinstance(variables, dict):
        raise AnsibleFilterError('the role variables must be a mapping of name to value')
    return _plain(dict((name, value) for name, value in variables.items() if name in specs))


def _secret_values(variables):
    """Every secret value the role's variables hold, in any service, the defaults or an override."""
    _secrets = _checks()[1]
    found = set()
    for item in _service_items(variables):
        found.update(_secrets.raw_values(item))
    return found


def _digest(variables, secret_values):
    """The digest of the variables with every secret value masked: it tells whether the variables are the ones
    that passed, and nothing of a secret (a digest of one could be guessed back for a weak value, and this one is
    in a fact that -v shows). A change of a secret value alone is the module's to check, on the host."""
    masked = _checks()[1].redact_deep(variables, secret_values)
    return hashlib.sha256(json.dumps(masked, sort_keys=True).encode('utf-8')).hexdigest()


def secure_services_fingerprint(variables):
    """What the role's checks depend on, as a digest: the same variables give the same one."""
    variables = _role_variables(variables, role_specs())
    return _digest(variables, _secret_values(variables))


def _service_items(variables):
    """Every mapping of the variables that holds service options (services, extras, defaults, overrides)."""
    for key in ('secure_services_services', 'secure_services_extra_services'):
        value = variables.get(key)
        yield from value if isinstance(value, list) else []
    yield variables.get('secure_services_defaults')
    overrides = variables.get('secure_services_overrides')
    yield from overrides.values() if isinstance(overrides, dict) else []


def secure_services_check(variables, host=None):
    """Every problem of the role's variables on one host, one line each, secrets masked: first the variables
    against the role's argument specs (types and choices; a service that is not a mapping), then, when they
    pass, the merge's own problems and every service merged, as secure_stack will check it. With the
    variables' fingerprint when there is no problem."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    _secrets = _checks()[1]
    specs = role_specs()
    variables = _role_variables(variables, specs)
    secret_values = _secret_values(variables)
    # the top level only: the service items are checked merged, below, with the module's own checks
    top = dict((key, dict((k, v) for k, v in option.items() if k != 'options')) for key, option in specs.items())
    problems = ArgumentSpecValidator(top).validate(variables).error_messages
    if not problems:
        try:
            merged = secure_services_merge(variables.get('secure_services_services'),
                                           extra=variables.get('secure_services_extra_services'),
                                           defaults=variables.get('secure_services_defaults'),
                                           overrides=variables.get('secure_services_overrides'),
                                           bind_address=variables.get('secure_services_bind_address', '127.0.0.1'))
        except AnsibleFilterError as exc:
            problems = [str(exc).replace('secure_services_merge: ', '', 1)]
        else:
            problems = merged['problems'] + service_problems(merged['stack'], host=host, disabled=merged['disabled'])
    problems = [_secrets.redact(p, secret_values) for p in problems]
    return {'problems': problems, 'fingerprint': None if problems else _digest(variables, secret_values)}


_VERBS = dict(create='created', recreate='recreated', restart='restarted', start='started', stop='stopped',
              remove='removed', none='unchanged')


def secure_services_report(result, check_mode=False):
    """One line per service (and per pruned container) of a secure_stack result, then the counts. A plan
    when check_mode (ansible_check_mode follows --check only), or when the result has services but none
    has steps (a task-level check_mode, such as apply: {check_mode: true})."""
    result = result if isinstance(result, dict) else {}
    # only the fields the lines read are made plain: a result has every container's state too
    entries = [_plain(dict((k, entry.get(k)) for k in ('name', 'action', 'failed', 'msg', 'reasons', 'steps') if k in entry))
               for entry in result.get('services') or []]
    planned = bool(check_mode) or (bool(entries) and not any('steps' in entry for entry in entries))
    would = 'would be ' if planned else ''
    lines = []
    for entry in entries:
        action = entry.get('action')
        if entry.get('failed'):
            lines.append('%s: FAILED to %s - %s' % (entry.get('name'), action, entry.get('msg', '')))
        elif action == 'none':
            lines.append('%s: unchanged' % entry.get('name'))
        else:
            reasons = '; '.join(entry.get('reasons') or [])
            lines.append('%s: %s%s (%s)' % (entry.get('name'), would, _VERBS.get(action, action), reasons))
    for entry in _plain(result.get('pruned') or []):
        lines.append('%s: %sremoved (%s)' % (entry.get('name'), would, '; '.join(entry.get('reasons') or [])))
    counts = _plain(result.get('summary') or {})
    lines.append('%screated %d, recreated %d, restarted %d, started %d, stopped %d, removed %d, unchanged %d, failed %d' % (
        'plan, nothing changed (check mode): ' if planned else '', counts.get('create', 0), counts.get('recreate', 0),
        counts.get('restart', 0), counts.get('start', 0), counts.get('stop', 0),
        counts.get('remove', 0) + counts.get('pruned', 0), counts.get('none', 0), counts.get('failed', 0)))
    return lines


class FilterModule(object):

    def filters(self):
        return {'service_problems': service_problems, 'secure_services_merge': secure_services_merge,
                'secure_services_check': secure_services_check, 'secure_services_fingerprint': secure_services_fingerprint,
                'secure_services_report': secure_services_report}
