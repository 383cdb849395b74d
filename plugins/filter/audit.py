# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Filters that render the audit reports on the controller (used by playbooks/audit.yml with
# ansible.builtin.copy). Thin wrappers: the rendering lives, pure and unit-tested, in
# plugins/module_utils/_reports.py. Documentation: the audit_*.yml files beside this one.

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.containment.docker.plugins.module_utils import _reports


def _plain(value):
    """Template results (lazy containers, tagged strings) as plain JSON data."""
    return json.loads(json.dumps(value, default=str))


def audit_report(results, generated_at=None):
    if isinstance(results, (list, tuple)):
        results = dict((item.get('host'), item.get('result')) for item in results)
    if not isinstance(results, dict):
        raise AnsibleFilterError('audit_report expects a dict of host name to the registered audit result')
    return _reports.combine(_plain(results), generated_at=generated_at)


def _report(report, name):
    if not isinstance(report, dict) or report.get('format') != _reports.REPORT_FORMAT:
        raise AnsibleFilterError('%s expects the report built by containment.docker.audit_report' % name)
    return _plain(report)


def audit_junit(report):
    return _reports.to_junit(_report(report, 'audit_junit'))


def audit_sarif(report):
    return _reports.to_sarif(_report(report, 'audit_sarif'))


def audit_html(report):
    return _reports.to_html(_report(report, 'audit_html'))


class FilterModule(object):

    def filters(self):
        return {
            'audit_report': audit_report,
            'audit_junit': audit_junit,
            'audit_sarif': audit_sarif,
            'audit_html': audit_html,
        }
