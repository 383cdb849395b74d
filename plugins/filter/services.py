# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The check of the role secure_services, on the controller before any host is touched. Thin wrapper:
# the checks are secure_stack's own (plugins/module_utils/_converge.py check_specs), pure and
# unit-tested. Documentation: service_problems.yml.

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.containment.docker.plugins.module_utils import _converge
from ansible_collections.containment.docker.plugins.module_utils import _secrets
from ansible_collections.containment.docker.plugins.module_utils import _spec


def _plain(value):
    """Template results (lazy containers, tagged strings) as plain JSON data."""
    return json.loads(json.dumps(value, default=str))


def service_problems(services, host=None, disabled=None):
    for name, value in (('the services', services), ('disabled', disabled)):
        if value is not None and not isinstance(value, (list, tuple)):
            raise AnsibleFilterError('service_problems: %s must be a list of services, not %s' % (name, type(value).__name__))
    services, disabled = _plain(services), _plain(disabled or [])
    problems = _converge.check_specs(services, check_unique_uid=True, offline=True)[2]
    for raw in disabled:  # not deployed: its keys and types only
        problems.extend(_spec.collect_spec(raw, offline=True)[1])
    secret_values = set()
    for raw in services + disabled:
        secret_values.update(_secrets.raw_values(raw))
    prefix = '%s: ' % host if host else ''
    return [_secrets.redact(prefix + _spec.format_problem(p), secret_values) for p in problems]


class FilterModule(object):

    def filters(self):
        return {'service_problems': service_problems}
