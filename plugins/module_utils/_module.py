# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# What the modules share: argument specs built from the one option table, the guarded
# SDK import, the engine connection and the way errors reach the user.

from __future__ import annotations

import copy
import platform
import socket
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.containment.docker.plugins.module_utils import _connection
from ansible_collections.containment.docker.plugins.module_utils import _engine
from ansible_collections.containment.docker.plugins.module_utils import _secrets
from ansible_collections.containment.docker.plugins.module_utils import _spec
from ansible_collections.containment.docker.plugins.module_utils._converge import Converger, check_specs, load_specs


# Options of the modules that change an engine (doc fragment containment.docker.docker.converge).
CONVERGE_OPTIONS = dict(
    lock_timeout=dict(type='int', default=300),
)


def argument_spec(*tables):
    spec = {}
    for table in tables:
        spec.update(copy.deepcopy(table))
    spec.update(copy.deepcopy(_engine.CONNECTION_OPTIONS))
    return spec


def connect(module):
    """The engine the module's connection options name, or fail_json saying why not and how to fix it."""
    problem = _connection.sdk_problem(_engine.DOCKER_VERSION, _engine.REQUESTS_VERSION)
    if not _engine.HAS_DOCKER:
        problem = 'the Docker SDK for Python (import docker), %s or newer, is not installed' % _connection.MIN_SDK_TEXT
    if problem:
        module.fail_json(msg=_connection.sdk_message(socket.gethostname(), sys.executable, platform.python_version(),
                                                     problem, _connection.os_release()))
    try:
        settings = _connection.resolve(module.params)
    except _connection.ConnectionProblem as exc:
        module.fail_json(msg=str(exc))
    for warning in settings['warnings']:
        module.warn(warning)
    try:
        return _engine.Engine(settings)
    except _engine.EngineError as exc:
        module.fail_json(msg=str(exc))


def converge(module, raws, prune=False, check_unique_uid=False):
    """Run the converger; returns (results, pruned, engine calls per SDK method) or ends the module with
    a clear error.

    Specs are loaded once without the engine first, so bad input is refused even when the
    engine cannot be reached, and nothing on any host changes. That first load also reads the
    env files and secret files: their values are registered with Ansible's masking before the
    first engine call, and every text of the results is redacted of every secret value (logs and
    healthcheck output the app wrote, engine messages) as a second line of defence."""
    secret_values = set()
    for raw in raws:
        secret_values.update(_secrets.raw_values(raw))
    try:
        specs, _ctx = load_specs(raws, None, check_unique_uid)
    except _spec.SpecError as exc:
        _refuse(module, exc, secret_values)
    for spec, _ops in specs:
        secret_values.update(_secrets.values_of(spec))
    module.no_log_values.update(secret_values)
    if module.params['lock_timeout'] < 0:
        module.fail_json(msg="lock_timeout is %d. Fix: give the seconds to wait for another run's host lock, 0 or more."
                             % module.params['lock_timeout'])
    engine = connect(module)
    converger = Converger(engine, check_mode=module.check_mode, lock_timeout=module.params['lock_timeout'])
    try:
        results = _secrets.redact_deep(converger.run(raws, prune=prune, check_unique_uid=check_unique_uid), secret_values)
    except _spec.SpecError as exc:
        _refuse(module, exc, secret_values)
    except _engine.EngineError as exc:
        module.fail_json(msg=_secrets.redact(str(exc), secret_values))
    for line in converger.lock_broken:
        module.warn(line)
    return results + (dict(engine.calls, total=sum(engine.calls.values())),)


def _refuse(module, exc, secret_values):
    module.no_log_values.update(secret_values)
    module.fail_json(msg=_secrets.redact('refused by the containment policy, nothing was changed:\n%s' % exc, secret_values),
                     problems=_secrets.redact_deep(exc.problems, secret_values))


class _Module(AnsibleModule):
    """AnsibleModule that knows secure_stack's free-form services hold secrets. Ansible masks no_log
    options (secret_env of secure_container); a service of secure_stack is a free dict, so its secret
    values are registered with the masking as soon as the arguments are read (before a validation
    error could be returned or the invocation logged), and the module arguments echoed at -vvv carry
    the services with those values replaced, so no masking is needed to hide them."""

    def _load_params(self):
        super(_Module, self)._load_params()
        self._given = dict((k, v) for k, v in self.params.items() if not str(k).startswith('_ansible_'))
        for raw in _raw_services(self.params):
            self.no_log_values.update(_secrets.raw_values(raw))

    def _return_formatted(self, kwargs):
        if 'invocation' not in kwargs:
            args = _secrets.masked_service(dict(self.params))
            if isinstance(args.get('services'), list):
                args['services'] = [_secrets.masked_service(raw) for raw in args['services']]
            kwargs['invocation'] = {'module_args': args}
        return super(_Module, self)._return_formatted(kwargs)


def _raw_services(params):
    services = (params or {}).get('services')
    if isinstance(services, list):
        return [s for s in services if isinstance(s, dict)]
    return [params or {}]


class _ServiceModule(_Module):
    """secure_container's module: its options are one service. When Ansible's own argument check refuses
    them (an unknown key, a type, a missing option), the collection's check of the service answers
    instead: every problem at once, an unknown key with the closest option, and the policy's breaches too."""

    def __init__(self, *args, **kwargs):
        self._checking_arguments = True
        super(_ServiceModule, self).__init__(*args, **kwargs)
        self._checking_arguments = False

    def fail_json(self, msg, **kwargs):
        if getattr(self, '_checking_arguments', False):
            self._checking_arguments = False
            raw = dict((k, v) for k, v in self._given.items() if k not in _engine.CONNECTION_OPTIONS and k not in CONVERGE_OPTIONS)
            problems = check_specs([raw])[2]
            if problems:
                _refuse(self, _spec.SpecError(problems), _secrets.raw_values(raw))
        super(_ServiceModule, self).fail_json(msg, **kwargs)


def new_module(argument_spec, one_service=False, **kwargs):
    """The module object; one_service: its options are one service (secure_container)."""
    return (_ServiceModule if one_service else _Module)(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
