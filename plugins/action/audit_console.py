# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Prints an audit report on the controller's console, one line per failing control with its fix
# (documentation: plugins/modules/audit_console.py). The lines are rendered, pure and unit-tested,
# by _reports.to_console; this plugin only decides on colour and prints them as they are.

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible.utils import color as ansible_color

from ansible_collections.containment.docker.plugins.module_utils import _reports


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('report', 'report_dir', 'colour'))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        unknown = sorted(set(args) - self._VALID_ARGS)
        report = args.get('report')
        choice = str(args.get('colour', 'auto')).lower()
        problem = None
        if unknown:
            problem = 'unsupported option(s) %s; supported: %s' % (', '.join(unknown), ', '.join(sorted(self._VALID_ARGS)))
        elif not isinstance(report, dict) or report.get('format') != _reports.REPORT_FORMAT:
            problem = 'report must be the report built by the containment.docker.audit_report filter'
        elif choice not in ('auto', 'never', 'always'):
            problem = "colour must be auto, never or always, not %r" % choice
        if problem:
            return dict(result, failed=True, msg='containment.docker.audit_console: %s' % problem)
        colour = choice == 'always' or (choice == 'auto' and _reports.console_colour(ansible_color.ANSIBLE_COLOR, os.environ))
        plain = _reports.to_console(report, report_dir=args.get('report_dir'))
        self._display.display(_reports.to_console(report, colour=True, report_dir=args.get('report_dir')) if colour else plain)
        result.update(changed=False, lines=plain.split('\n'))
        return result
