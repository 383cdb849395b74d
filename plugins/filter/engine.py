# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The daemon.json plan of the role secure_engine. Thin wrapper: the logic lives, pure and
# unit-tested, in plugins/module_utils/_engine_config.py. Documentation: engine_config.yml.

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError


# Ansible imports every filter file of a collection to find any one of its filters, in every worker
# process, so the logic is imported when a filter of this file runs, not when the file loads.
def _engine_config():
    from ansible_collections.containment.docker.plugins.module_utils import _engine_config as engine_config
    return engine_config


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def engine_config(current, hardened, settings=None, exceptions=None):
    for name, value in (('the current daemon.json', current), ('hardened', hardened), ('settings', settings),
                        ('exceptions', exceptions)):
        if value is not None and not isinstance(value, dict):
            raise AnsibleFilterError('engine_config: %s must be a dict (a JSON object), not %s' % (name, type(value).__name__))
    plan = _engine_config().engine_config(_plain(current), _plain(hardened), _plain(settings), _plain(exceptions))
    plan['record'] = _engine_config().record(plan['exceptions'])
    return plan


class FilterModule(object):

    def filters(self):
        return {'engine_config': engine_config}
