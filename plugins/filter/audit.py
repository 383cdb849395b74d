# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Filters that render the audit reports on the controller (used by playbooks/audit.yml with
# ansible.builtin.copy). Thin wrappers: the rendering lives, pure and unit-tested, in
# plugins/module_utils/_reports.py. Documentation: the audit_*.yml files beside this one.

from __future__ import annotations

import json
import os

import yaml

from ansible.errors import AnsibleFilterError

try:  # ansible-core 2.19 and later tag what it loads from YAML with its file and line
    from ansible._internal._datatag._tags import Origin
except ImportError:  # older: no source lines, the reports use the engines' synthetic locations
    Origin = None


# Ansible imports every filter file of a collection to find any one of its filters, in every worker
# process, so the logic is imported when a filter of this file runs, not when the file loads.
def _reports():
    from ansible_collections.containment.docker.plugins.module_utils import _reports as reports
    return reports


_COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _plain(value):
    """Template results (lazy containers, tagged strings) as plain JSON data."""
    return json.loads(json.dumps(value, default=str))


def collection_metadata(root=_COLLECTION):
    """{'version', 'information_uri'} of this collection: MANIFEST.json when installed from a tarball,
    else galaxy.yml (a checkout); None values when neither is readable."""
    try:
        with open(os.path.join(root, 'MANIFEST.json')) as handle:
            info = json.load(handle).get('collection_info') or {}
    except (OSError, ValueError):
        try:
            with open(os.path.join(root, 'galaxy.yml')) as handle:
                info = yaml.safe_load(handle) or {}
        except (OSError, yaml.YAMLError):
            info = {}
    return {'version': info.get('version'), 'information_uri': info.get('repository')}


def declared_at(services):
    """{host: {service name: {'path', 'line'}}} from {host: [the role's service items]}, where the
    inventory file declares each item (the Origin ansible-core tags loaded YAML with)."""
    sources = {}
    for host, items in (services or {}).items():
        for item in items or []:
            if not isinstance(item, dict) or not item.get('name'):
                continue
            origin = Origin and (Origin.get_tag(item) or Origin.get_tag(item.get('name')))
            if origin and origin.path and origin.line_num:
                declared = {'path': str(origin.path), 'line': int(origin.line_num)}
                sources.setdefault(str(host), {}).setdefault(str(item['name']), declared)
    return sources


def audit_report(results, generated_at=None, services=None, source_root=None):
    if isinstance(results, (list, tuple)):
        results = dict((item.get('host'), item.get('result')) for item in results)
    if not isinstance(results, dict):
        raise AnsibleFilterError('audit_report expects a dict of host name to the registered audit result')
    if services is not None and not isinstance(services, dict):
        raise AnsibleFilterError('audit_report: services expects a dict of host name to its list of services')
    root = os.path.realpath(str(source_root)) if source_root else os.getcwd()
    return _reports().combine(_plain(results), generated_at=generated_at, sources=declared_at(services),
                              source_root=root, tool=collection_metadata())


def _report(report, name):
    if not isinstance(report, dict) or report.get('format') != _reports().REPORT_FORMAT:
        raise AnsibleFilterError('%s expects the report built by containment.docker.audit_report' % name)
    return _plain(report)


def audit_junit(report):
    return _reports().to_junit(_report(report, 'audit_junit'))


def audit_sarif(report):
    return _reports().to_sarif(_report(report, 'audit_sarif'))


def audit_html(report):
    return _reports().to_html(_report(report, 'audit_html'))


class FilterModule(object):

    def filters(self):
        return {
            'audit_report': audit_report,
            'audit_junit': audit_junit,
            'audit_sarif': audit_sarif,
            'audit_html': audit_html,
        }
