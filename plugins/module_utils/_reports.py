# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# Audit reports, rendered on the controller (the filter plugins in plugins/filter/audit.py
# are thin wrappers). combine() turns the results of secure_container_audit on many hosts
# into one report (the JSON report, shape in REPORT_SCHEMA); to_junit(), to_sarif() and
# to_html() render that report. All pure: strings and dicts in, strings and dicts out.

from __future__ import annotations

import hashlib
import html
import json
import posixpath
import re
import xml.etree.ElementTree as ET

from urllib.parse import quote

from ansible_collections.containment.docker.plugins.module_utils import _audit
from ansible_collections.containment.docker.plugins.module_utils import _policy as policy

REPORT_FORMAT = 'containment.docker/audit-report'
REPORT_FORMAT_VERSION = 1
TOOL_NAME = 'containment.docker.secure_container_audit'
TOOL_URI = 'https://github.com/containment/docker'  # when the collection's metadata is not given (galaxy.yml: repository)
SARIF_SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json'

HOST_OK = 'ok'
# Ansible could not reach the host at all (SSH failed): nothing ran there.
HOST_UNREACHABLE = 'unreachable'
# The host was reached but its engine was not audited: the module failed (engine down, socket
# permission, TLS, Docker SDK missing or too old) or did not run; `error` says why.
HOST_NOT_AUDITED = 'not_audited'

_STATUS_ENUM = list(policy.STATUSES)
_COUNTS_SCHEMA = {'type': 'object', 'required': _STATUS_ENUM, 'additionalProperties': False,
                  'properties': dict((s, {'type': 'integer', 'minimum': 0}) for s in policy.STATUSES)}
_STR = {'type': 'string'}
_CONTROL_SCHEMA = {
    'type': 'object', 'required': ['id', 'tier', 'field', 'cis', 'pss', 'summary', 'fix', 'run_fix'],
    'properties': {'id': _STR, 'tier': {'enum': [policy.FLOOR, policy.BASELINE, policy.ADVISORY]},
                   'field': _STR, 'cis': _STR, 'pss': _STR, 'summary': _STR,
                   'fix': {'type': 'string', 'description': 'for a service of this collection: the option to set'},
                   'run_fix': {'type': 'string', 'description': 'for a container made otherwise: the docker run flag'}}}
_FAILING_CONTROLS = {'type': 'array', 'items': _STR}

# The documented shape of the JSON report (report.json), as a JSON schema (draft 7).
REPORT_SCHEMA = {
    '$schema': 'http://json-schema.org/draft-07/schema#',
    'title': 'containment.docker audit report',
    'type': 'object',
    'required': ['format', 'format_version', 'generated_at', 'policy_version', 'tool', 'source_root', 'passed',
                 'controls', 'daemon_controls', 'hosts', 'findings', 'daemon_findings', 'summary'],
    'additionalProperties': False,
    'properties': {
        'format': {'const': REPORT_FORMAT},
        'format_version': {'const': REPORT_FORMAT_VERSION},
        'generated_at': {'type': ['string', 'null']},
        'policy_version': _STR,
        'tool': {'type': 'object', 'required': ['name', 'version', 'information_uri'],
                 'properties': {'name': _STR, 'version': {'type': ['string', 'null'], 'description': 'the collection version'},
                                'information_uri': _STR}},
        'source_root': {'type': ['string', 'null'],
                        'description': "the folder the containers' source paths are relative to (the controller's working "
                                       "directory when the report was built)"},
        'passed': {'type': 'boolean', 'description': 'no container or daemon control fails and every host was audited'},
        'controls': {'type': 'array', 'items': _CONTROL_SCHEMA, 'description': 'the container controls'},
        'daemon_controls': {'type': 'array', 'items': _CONTROL_SCHEMA,
                            'description': 'the daemon controls (CIS section 2); field: the daemon.json keys'},
        'hosts': {'type': 'array', 'items': {
            'type': 'object', 'required': ['host', 'status', 'error', 'engine', 'daemon', 'containers'],
            'additionalProperties': False,
            'properties': {
                'host': _STR,
                'status': {'enum': [HOST_OK, HOST_UNREACHABLE, HOST_NOT_AUDITED]},
                'error': {'type': ['string', 'null']},
                'engine': {'type': ['object', 'null']},
                'daemon': {'type': ['object', 'null'], 'description': 'null when the daemon was not audited',
                           'required': ['status', 'counts', 'failing_controls', 'settings_source'],
                           'properties': {'status': {'enum': _STATUS_ENUM}, 'counts': _COUNTS_SCHEMA,
                                          'failing_controls': _FAILING_CONTROLS,
                                          'settings_source': {'type': ['string', 'null']}}},
                'containers': {'type': 'array', 'items': {
                    'type': 'object',
                    'required': ['name', 'id', 'image', 'state', 'service', 'managed', 'status', 'counts',
                                 'failing_controls'],
                    'properties': {'name': _STR, 'id': _STR, 'image': _STR, 'image_id': _STR, 'state': _STR,
                                   'service': _STR, 'managed': {'type': 'boolean'}, 'status': {'enum': _STATUS_ENUM},
                                   'counts': _COUNTS_SCHEMA,
                                   'failing_controls': _FAILING_CONTROLS,
                                   'source': {'type': ['object', 'null'], 'required': ['path', 'line'],
                                              'description': 'where the inventory declares the service of a managed '
                                                             'container: path (relative to source_root when under it), line',
                                              'properties': {'path': _STR, 'line': {'type': 'integer', 'minimum': 1}}}}}}}}},
        'findings': {'type': 'array', 'items': {
            'type': 'object',
            'required': ['host', 'container', 'container_id', 'image', 'control', 'tier', 'status', 'message',
                         'evidence', 'reason', 'cis', 'pss', 'fix'],
            'properties': {'host': _STR, 'container': _STR, 'container_id': _STR, 'image': _STR, 'control': _STR,
                           'tier': _STR, 'status': {'enum': _STATUS_ENUM}, 'message': _STR,
                           'evidence': {'type': 'object'}, 'reason': {'type': ['string', 'null']},
                           'cis': _STR, 'pss': _STR, 'fix': _STR}}},
        'daemon_findings': {'type': 'array', 'items': {
            'type': 'object',
            'required': ['host', 'control', 'tier', 'status', 'message', 'evidence', 'reason', 'cis', 'fix'],
            'properties': {'host': _STR, 'control': _STR, 'tier': _STR, 'status': {'enum': _STATUS_ENUM}, 'message': _STR,
                           'evidence': {'type': 'object'}, 'reason': {'type': ['string', 'null']},
                           'cis': _STR, 'pss': _STR, 'fix': _STR}}},
        'summary': {
            'type': 'object',
            'required': ['hosts', 'unreachable_hosts', 'not_audited_hosts', 'containers', 'by_status', 'by_control',
                         'failing_containers', 'daemons'],
            'additionalProperties': False,
            'properties': {
                'hosts': {'type': 'integer', 'minimum': 0},
                'unreachable_hosts': {'type': 'array', 'items': _STR,
                                      'description': 'hosts Ansible could not reach (SSH failed)'},
                'not_audited_hosts': {'type': 'array', 'items': _STR,
                                      'description': 'hosts reached whose engine was not audited (error: why)'},
                'containers': {'type': 'integer', 'minimum': 0},
                'by_status': _COUNTS_SCHEMA,
                'by_control': {'type': 'object', 'additionalProperties': _COUNTS_SCHEMA},
                'failing_containers': {'type': 'array', 'items': _STR,
                                       'description': "'HOST/CONTAINER' of each container that fails a control"},
                'daemons': {
                    'type': 'object', 'required': ['by_status', 'by_control', 'failing_hosts'], 'additionalProperties': False,
                    'properties': {'by_status': _COUNTS_SCHEMA,
                                   'by_control': {'type': 'object', 'additionalProperties': _COUNTS_SCHEMA},
                                   'failing_hosts': {'type': 'array', 'items': _STR,
                                                     'description': 'hosts whose daemon fails a daemon control'}}}}},
    },
}


# ---------------------------------------------------------------- one combined report

def _host_entry(host, result):
    """A host's part of the report from its registered secure_container_audit result."""
    result = result if isinstance(result, dict) else {}
    if result.get('unreachable'):
        return {'host': host, 'status': HOST_UNREACHABLE, 'error': 'unreachable: %s' % (result.get('msg') or 'no answer'),
                'engine': None, 'daemon': None, 'containers': []}, [], []
    if result.get('failed') or result.get('skipped') or 'findings' not in result:
        error = result.get('msg') or ('the host was skipped' if result.get('skipped') else 'no audit result')
        return {'host': host, 'status': HOST_NOT_AUDITED, 'error': 'not audited: %s' % error,
                'engine': result.get('engine'), 'daemon': None, 'containers': []}, [], []
    findings = [dict(f, host=host) for f in result['findings']]
    daemon = result.get('daemon') or None
    daemon_findings = [dict(f, host=host) for f in (daemon or {}).get('findings') or []]
    if daemon:
        daemon = dict((k, daemon.get(k)) for k in ('status', 'counts', 'failing_controls', 'settings_source'))
    return {'host': host, 'status': HOST_OK, 'error': None, 'engine': result.get('engine'), 'daemon': daemon,
            'containers': list(result.get('containers') or [])}, findings, daemon_findings


def _source(declared, source_root):
    """{'path', 'line'} of a service's declaration ({'path': absolute, 'line'}), the path relative to
    source_root when it is under it."""
    if not declared or not declared.get('path') or not declared.get('line'):
        return None
    path = posixpath.normpath(str(declared['path']))
    if source_root and posixpath.isabs(path):
        relative = posixpath.relpath(path, posixpath.normpath(str(source_root)))
        if relative != '..' and not relative.startswith('../'):
            path = relative
    return {'path': path, 'line': int(declared['line'])}


def combine(results, generated_at=None, sources=None, source_root=None, tool=None):
    """One report over {host: registered result}; a host Ansible could not reach is listed as
    unreachable, one whose audit failed or is missing as not audited, each with the error, and
    the others are reported as usual. sources ({host: {service: {'path', 'line'}}}: where the
    inventory declares each service) gives each managed container its `source`; tool ({'version',
    'information_uri'}) is the collection's metadata."""
    hosts, findings, daemon_findings = [], [], []
    for host in sorted(results):
        entry, own, own_daemon = _host_entry(str(host), results[host])
        declared = (sources or {}).get(entry['host']) or {}
        for container in entry['containers']:
            container['source'] = _source(declared.get(container.get('service')), source_root) if container.get('managed') else None
        hosts.append(entry)
        findings.extend(own)
        daemon_findings.extend(own_daemon)
    containers = [dict(c, name='%s/%s' % (h['host'], c['name'])) for h in hosts for c in h['containers']]
    summary = _audit.summarize(containers, findings)
    summary['hosts'] = len(hosts)
    summary['unreachable_hosts'] = [h['host'] for h in hosts if h['status'] == HOST_UNREACHABLE]
    summary['not_audited_hosts'] = [h['host'] for h in hosts if h['status'] == HOST_NOT_AUDITED]
    summary['daemons'] = summarize_daemons(hosts, daemon_findings)
    return {
        'format': REPORT_FORMAT,
        'format_version': REPORT_FORMAT_VERSION,
        'generated_at': generated_at,
        'policy_version': policy.POLICY_VERSION,
        'tool': {'name': TOOL_NAME, 'version': (tool or {}).get('version'),
                 'information_uri': (tool or {}).get('information_uri') or TOOL_URI},
        'source_root': source_root,
        'passed': (not summary['by_status'][policy.FAIL] and not summary['daemons']['by_status'][policy.FAIL]
                   and all(h['status'] == HOST_OK for h in hosts)),
        'controls': [c.as_dict() for c in policy.AUDIT_CONTROLS],
        'daemon_controls': [c.as_dict() for c in policy.DAEMON_CONTROLS],
        'hosts': hosts,
        'findings': findings,
        'daemon_findings': daemon_findings,
        'summary': summary,
    }


def summarize_daemons(hosts, daemon_findings):
    by_control = dict((c.id, dict((s, 0) for s in policy.STATUSES)) for c in policy.DAEMON_CONTROLS)
    for finding in daemon_findings:
        by_control.setdefault(finding['control'], dict((s, 0) for s in policy.STATUSES))[finding['status']] += 1
    return {'by_status': policy.summarize(daemon_findings), 'by_control': by_control,
            'failing_hosts': [h['host'] for h in hosts if (h.get('daemon') or {}).get('status') == policy.FAIL]}


def evidence_text(evidence):
    """Evidence as 'Field: value' lines, values in JSON so null/[]/'' stay distinguishable."""
    return '\n'.join('%s: %s' % (key, json.dumps(value, sort_keys=True, default=str))
                     for key, value in sorted((evidence or {}).items()))


def references(finding_or_control):
    return 'CIS Docker 1.6: %s; Kubernetes PSS restricted: %s' % (finding_or_control['cis'], finding_or_control.get('pss', '-'))


# ---------------------------------------------------------------- JUnit XML

_XML_INVALID = re.compile(u'[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd]')


def _x(text):
    """Text safe for XML 1.0 (control characters cannot be escaped, only dropped)."""
    return _XML_INVALID.sub('?', str(text))


def _suite(parent, name, host, cases, counts):
    suite = ET.SubElement(parent, 'testsuite', name=_x(name), hostname=_x(host), tests=str(cases),
                          failures=str(counts[0]), errors=str(counts[1]), skipped=str(counts[2]), time='0')
    return suite


def _junit_case(suite, label, finding):
    case = ET.SubElement(suite, 'testcase', classname=_x(label), name=_x(finding['control']), time='0')
    detail = '%s\n%s\nFix: %s\n%s' % (finding['message'], evidence_text(finding['evidence']),
                                      finding['fix'], references(finding))
    if finding['status'] == policy.FAIL:
        ET.SubElement(case, 'failure', type='%s control failed' % finding['tier'],
                      message=_x(finding['message'])).text = _x(detail)
    elif finding['status'] == policy.EXCEPTED:
        ET.SubElement(case, 'skipped', message=_x('excepted: %s' % finding['reason']))
    elif finding['status'] == policy.WARN:
        ET.SubElement(case, 'system-out').text = _x('warn: ' + detail)


def to_junit(report):
    """JUnit XML: a testsuite per host/container and one per host's daemon (HOST/daemon), a testcase
    per control. fail -> <failure> with the evidence, excepted -> <skipped> with the reason, warn ->
    passes with the message in <system-out>; an unreachable or not audited host is a suite with one
    <error> case of that type."""
    root = ET.Element('testsuites', name='containment.docker audit')
    by_container, by_daemon = {}, {}
    for finding in report['findings']:
        by_container.setdefault((finding['host'], finding['container']), []).append(finding)
    for finding in report.get('daemon_findings') or []:
        by_daemon.setdefault(finding['host'], []).append(finding)
    totals = [0, 0, 0, 0]  # tests, failures, errors, skipped
    for host in report['hosts']:
        if host['status'] != HOST_OK:
            suite = _suite(root, host['host'], host['host'], 1, (0, 1, 0))
            case = ET.SubElement(suite, 'testcase', classname=_x(host['host']), time='0',
                                 name='host reachable' if host['status'] == HOST_UNREACHABLE else 'engine audited')
            ET.SubElement(case, 'error', type=host['status'], message=_x(host['error'])).text = _x(host['error'])
            totals[0] += 1
            totals[2] += 1
            continue
        suites = [('%s/%s' % (host['host'], container['name']), by_container.get((host['host'], container['name']), []),
                   dict((key, container.get(key, '')) for key in ('id', 'image', 'state', 'service')))
                  for container in host['containers']]
        if host.get('daemon'):  # the daemon first: it decides for every container
            suites.insert(0, ('%s/daemon' % host['host'], by_daemon.get(host['host'], []),
                              {'settings_source': host['daemon'].get('settings_source') or ''}))
        for label, findings, properties in suites:
            counts = policy.summarize(findings)
            suite = _suite(root, label, host['host'], len(findings), (counts[policy.FAIL], 0, counts[policy.EXCEPTED]))
            props = ET.SubElement(suite, 'properties')
            for key, value in properties.items():
                ET.SubElement(props, 'property', name=key, value=_x(value))
            for finding in findings:
                _junit_case(suite, label, finding)
            totals[0] += len(findings)
            totals[1] += counts[policy.FAIL]
            totals[3] += counts[policy.EXCEPTED]
    for key, value in zip(('tests', 'failures', 'errors', 'skipped'), totals):
        root.set(key, str(value))
    root.set('time', '0')
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding='unicode') + '\n'


# ---------------------------------------------------------------- SARIF 2.1.0
# For GitHub code scanning and SARIF validators (tests/github_sarif_rules.py lists the rules GitHub has
# beyond the schema, with their sources): every result has a physical location, the inventory line that
# declares a managed container's service (under %SRCROOT%, the working directory of the run), else
# a stable synthetic artifact HOST/containers/NAME or HOST/daemon under DOCKER_ENGINES.

_SARIF_LEVEL = {policy.FAIL: 'error', policy.EXCEPTED: 'error', policy.WARN: 'note'}
# GitHub's security severity (0.0-10.0; 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low), from the tier.
SECURITY_SEVERITY = {policy.FLOOR: '8.0', policy.BASELINE: '5.0', policy.ADVISORY: '2.0'}
SARIF_SRCROOT = '%SRCROOT%'
SARIF_ENGINES = 'DOCKER_ENGINES'
# GitHub rejects a run of more than 25,000 results (and keeps the 5,000 most severe).
SARIF_MAX_RESULTS = 25000
_SEVERITY_ORDER = {policy.FAIL: 0, policy.WARN: 1, policy.EXCEPTED: 2}


def _rule_name(control_id):
    return ''.join(part.capitalize() for part in control_id.split('_'))


def _rule(control):
    level = 'note' if control['tier'] == policy.ADVISORY else 'error'
    tags = ['security', 'containment', control['tier']]
    tags += ['CIS-Docker-1.6-%s' % ref.strip() for ref in control['cis'].split(',') if ref.strip() not in ('', '-')]
    run_fix = control.get('run_fix') or control['fix']
    if run_fix == control['fix']:
        text = 'Fix: %s' % control['fix']
        markdown = '**Fix:** %s' % control['fix']
    else:
        text = 'Fix, for a service of containment.docker: %s. For a container made with docker run: %s' % (control['fix'], run_fix)
        markdown = ('**Fix**\n\n- a service of containment.docker (module or role option): %s\n'
                    '- a container made with `docker run`: %s' % (control['fix'], run_fix))
    return {
        'id': control['id'],
        'name': _rule_name(control['id']),
        'shortDescription': {'text': control['summary']},
        'fullDescription': {'text': '%s (%s control). %s.' % (control['summary'], control['tier'], references(control))},
        'help': {'text': '%s\n%s.' % (text, references(control)),
                 'markdown': '%s\n\n%s (%s control). %s.' % (markdown, control['summary'], control['tier'], references(control))},
        'defaultConfiguration': {'level': level},
        'properties': {'tier': control['tier'], 'cis': control['cis'], 'pss': control['pss'],
                       'field': control['field'], 'tags': tags, 'security-severity': SECURITY_SEVERITY[control['tier']]},
    }


def _engine_artifact(host, container=None):
    what = 'containers/%s' % quote(container, safe='') if container is not None else 'daemon'
    return {'artifactLocation': {'uri': '%s/%s' % (quote(host, safe=''), what), 'uriBaseId': SARIF_ENGINES},
            'region': {'startLine': 1}}


def _physical(host, container=None, source=None):
    """The inventory line of the service when it is known and under the source root (a relative path), else the
    engine's artifact."""
    path = (source or {}).get('path') or ''
    if path and not posixpath.isabs(path):
        return {'artifactLocation': {'uri': quote(path), 'uriBaseId': SARIF_SRCROOT},
                'region': {'startLine': source['line']}}
    return _engine_artifact(host, container)


def automation_id(report):
    """'containment.docker/audit/HOSTS/RUN': the category (before the last '/') names the set of hosts
    audited, so audits of other host sets keep their own alerts; the run is the report's time."""
    hosts = sorted(h['host'] for h in report['hosts'])
    key = ','.join(hosts)
    if len(key) > 64 or not re.match(r'^[A-Za-z0-9._,-]*$', key):
        key = '%d-hosts-%s' % (len(hosts), hashlib.sha256('\n'.join(hosts).encode('utf-8')).hexdigest()[:16])
    return 'containment.docker/audit/%s/%s' % (key or 'no-hosts', report.get('generated_at') or '')


def _sarif_result(rule_index, finding, qualified, location, fingerprint, properties):
    result = {
        'ruleId': finding['control'],
        'ruleIndex': rule_index[finding['control']],
        'level': _SARIF_LEVEL[finding['status']],
        'message': {'text': '%s: %s. Fix: %s' % (qualified, finding['message'], finding['fix'])},
        'locations': [location],
        'partialFingerprints': {'containmentFinding/v1': fingerprint},
        'properties': dict(properties, status=finding['status'], evidence=finding['evidence'], fix=finding['fix']),
    }
    if finding['status'] == policy.EXCEPTED:
        result['suppressions'] = [{'kind': 'external', 'status': 'accepted', 'justification': finding['reason']}]
    return result


def to_sarif(report):
    """SARIF 2.1.0: rules are the container controls, then the daemon controls (with CIS/PSS
    properties and a security severity from the tier); a result per failing control (level error),
    per excepted control (suppressed, with the reason as justification) and per warning (level
    note), each with a physical location (above) and the logical one: the container in its host."""
    controls = report['controls'] + (report.get('daemon_controls') or [])
    rule_index = dict((c['id'], i) for i, c in enumerate(controls))
    locations, location_index, containers = [], {}, {}
    for host in report['hosts']:
        location_index[host['host']] = len(locations)
        locations.append({'name': host['host'], 'fullyQualifiedName': host['host'], 'kind': 'host'})
        for container in host['containers']:
            qualified = '%s/%s' % (host['host'], container['name'])
            containers[qualified] = container
            location_index[qualified] = len(locations)
            locations.append({'name': container['name'], 'fullyQualifiedName': qualified, 'kind': 'container',
                              'parentIndex': location_index[host['host']]})
    results = []
    for finding in report['findings']:
        if finding['status'] == policy.PASS:
            continue
        qualified = '%s/%s' % (finding['host'], finding['container'])
        location = {'physicalLocation': _physical(finding['host'], finding['container'],
                                                  (containers.get(qualified) or {}).get('source')),
                    'logicalLocations': [{'index': location_index[qualified], 'name': finding['container'],
                                          'fullyQualifiedName': qualified, 'kind': 'container'}]}
        results.append(_sarif_result(rule_index, finding, qualified, location, '%s/%s' % (qualified, finding['control']),
                                     {'host': finding['host'], 'container': finding['container'],
                                      'containerId': finding['container_id'], 'image': finding['image']}))
    for finding in report.get('daemon_findings') or []:
        if finding['status'] == policy.PASS:
            continue
        host = finding['host']
        location = {'physicalLocation': _engine_artifact(host),
                    'logicalLocations': [{'index': location_index[host], 'name': host, 'fullyQualifiedName': host,
                                          'kind': 'host'}]}
        results.append(_sarif_result(rule_index, finding, '%s (daemon)' % host, location,
                                     '%s/daemon/%s' % (host, finding['control']), {'host': host}))
    notifications = [{'level': 'error', 'message': {'text': 'host %s: %s' % (h['host'], h['error'])},
                      'locations': [{'logicalLocations': [{'index': location_index[h['host']], 'name': h['host'],
                                                           'fullyQualifiedName': h['host'], 'kind': 'host'}]}]}
                     for h in report['hosts'] if h['status'] != HOST_OK]
    if len(results) > SARIF_MAX_RESULTS:
        results.sort(key=lambda r: _SEVERITY_ORDER[r['properties']['status']])
        notifications.append({'level': 'warning', 'message': {'text': '%d results, more than code scanning takes in one run: '
                                                                      'the %d most severe are in this file, every one is '
                                                                      'in report.json' % (len(results), SARIF_MAX_RESULTS)}})
        del results[SARIF_MAX_RESULTS:]
    invocation = {'executionSuccessful': not any(n['level'] == 'error' for n in notifications)}
    if notifications:
        invocation['toolExecutionNotifications'] = notifications
    if report.get('generated_at'):
        invocation['endTimeUtc'] = report['generated_at']
    tool = report.get('tool') or {}
    driver = {'name': tool.get('name') or TOOL_NAME, 'informationUri': tool.get('information_uri') or TOOL_URI,
              'rules': [_rule(c) for c in controls], 'properties': {'policyVersion': report['policy_version']}}
    if tool.get('version'):
        driver.update(version=tool['version'], semanticVersion=tool['version'])
    bases = {SARIF_ENGINES: {'uri': 'docker:///', 'description': {
        'text': 'The Docker engines audited: HOST/containers/NAME is a container, HOST/daemon the daemon'}}}
    if report.get('source_root'):
        bases[SARIF_SRCROOT] = {'uri': 'file://%s/' % quote(posixpath.normpath(report['source_root']).rstrip('/')),
                                'description': {'text': 'The working directory of the audit run (the checkout of '
                                                        'the inventory in a pipeline)'}}
    return {
        '$schema': SARIF_SCHEMA_URI,
        'version': '2.1.0',
        'runs': [{
            'tool': {'driver': driver},
            'automationDetails': {'id': automation_id(report),
                                  'description': {'text': 'containment.docker audit of %d host(s)' % len(report['hosts'])}},
            'originalUriBaseIds': bases,
            'invocations': [invocation],
            'logicalLocations': locations,
            'results': results,
            'columnKind': 'unicodeCodePoints',
            'properties': {'summary': report['summary']},
        }],
    }


# ---------------------------------------------------------------- console (kube-bench style)
# What the audit playbook prints: per host, its daemon's and each container's failing, warning and
# excepted controls, one line each with the fix, a [PASS] line per container that passes, and a final
# line of counts.

INFO = 'info'
_TAGS = {policy.FAIL: 'FAIL', policy.WARN: 'WARN', policy.PASS: 'PASS', policy.EXCEPTED: 'INFO', INFO: 'INFO'}
_ANSI = {'FAIL': '31', 'WARN': '33', 'PASS': '32', 'INFO': '34'}
_FALSE_WORDS = ('', '0', 'false', 'no', 'off')


def console_colour(ansible_colour, environ):
    """Colour only where Ansible colours (a terminal, or ANSIBLE_FORCE_COLOR), and never with NO_COLOR
    (any value, no-color.org), ANSIBLE_NOCOLOR or CI (CI logs) set."""
    if environ.get('NO_COLOR'):
        return False
    if any(str(environ.get(name, '')).strip().lower() not in _FALSE_WORDS for name in ('ANSIBLE_NOCOLOR', 'CI')):
        return False
    return bool(ansible_colour)


def _tag(status, colour):
    tag = _TAGS[status]
    return '\033[%sm[%s]\033[0m' % (_ANSI[tag], tag) if colour else '[%s]' % tag


def _counts_text(counts, statuses=(policy.PASS, policy.FAIL, policy.WARN, policy.EXCEPTED)):
    return ', '.join('%d %s' % (counts.get(s, 0), s.upper()) for s in statuses)


def to_console(report, colour=False, report_dir=None):
    """The audit as lines of text (no trailing newline): `[FAIL] CIS CONTROL  WHO: what. Fix: how`."""
    rows = []  # (status, cis, control, text) or (status, None, None, text)
    by_container, by_daemon = {}, {}
    for finding in report['findings']:
        by_container.setdefault((finding['host'], finding['container']), []).append(finding)
    for finding in report.get('daemon_findings') or []:
        by_daemon.setdefault(finding['host'], []).append(finding)

    def add(finding, who):
        what = 'excepted (%s): %s' % (finding['reason'], finding['message']) if finding['status'] == policy.EXCEPTED \
            else '%s. Fix: %s' % (finding['message'], finding['fix'])
        rows.append((finding['status'], finding['cis'].replace(' ', '') or '-', finding['control'], '%s: %s' % (who, what)))

    for host in report['hosts']:
        name = host['host']
        if host['status'] != HOST_OK:
            rows.append((policy.FAIL, None, None, '%s: %s' % (name, host['error'])))
            continue
        engine = host.get('engine') or {}
        rows.append((INFO, None, None, '%s: Docker %s at %s, %d container(s)%s' % (
            name, engine.get('server_version') or '?', engine.get('docker_host') or '?', len(host['containers']),
            '' if host.get('daemon') else ', daemon not audited')))
        daemon = by_daemon.get(name) or []
        noteworthy = [f for f in daemon if f['status'] != policy.PASS]
        if daemon and not noteworthy:
            rows.append((policy.PASS, None, None, '%s daemon: every daemon control passes (%d)' % (name, len(daemon))))
        for finding in noteworthy:
            add(finding, '%s daemon' % name)
        for container in host['containers']:
            findings = by_container.get((name, container['name'])) or []
            noteworthy = [f for f in findings if f['status'] != policy.PASS]
            if not noteworthy:
                rows.append((policy.PASS, None, None, '%s/%s: every control passes (%d)' % (name, container['name'], len(findings))))
                continue
            made = ('service %s of containment.docker, fixes are its options' % container.get('service')
                    if container.get('managed') else 'not made by containment.docker, fixes are docker run flags')
            rows.append((INFO, None, None, '%s/%s: %s (%s)' % (name, container['name'], container.get('image') or '?', made)))
            for finding in noteworthy:
                add(finding, container['name'])
    cis_width = max([len(r[1]) for r in rows if r[1]] or [0])
    control_width = max([len(r[2]) for r in rows if r[2]] or [0])
    lines = ['%s %s %s  %s' % (_tag(status, colour), cis.ljust(cis_width), control.ljust(control_width), text)
             if control else '%s %s' % (_tag(status, colour), text) for status, cis, control, text in rows]
    summary = report['summary']
    audited = [h for h in report['hosts'] if h['status'] == HOST_OK]
    daemons = sum(1 for h in audited if h.get('daemon'))
    if report_dir:
        lines.append('Reports (JSON, JUnit XML, SARIF, HTML): %s' % report_dir)
    lines.append('== Summary: %s in %d container(s); %s in %d daemon(s); %d of %d host(s) audited; %s ==' % (
        _counts_text(summary['by_status']), summary['containers'],
        _counts_text(summary['daemons']['by_status']), daemons, len(audited), len(report['hosts']),
        'PASSED' if report['passed'] else 'FAILED'))
    return '\n'.join(lines)


# ---------------------------------------------------------------- HTML

_SYMBOL = {policy.PASS: '&#10003;', policy.FAIL: '&#10007;', policy.EXCEPTED: 'E', policy.WARN: '!'}

_CSS = '''
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1d2733;background:#fff}
h1{margin:0 0 .2em}h2{margin-top:1.6em;border-bottom:2px solid #dde3ea;padding-bottom:.2em}
.meta{color:#5b6876}.verdict{display:inline-block;padding:.3em .8em;border-radius:4px;font-weight:bold;color:#fff}
.verdict.passed{background:#1e7d34}.verdict.failed{background:#b3261e}
.counts span{display:inline-block;margin:.4em .6em 0 0;padding:.2em .6em;border-radius:3px}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #cfd6de;padding:.25em .45em;text-align:left;vertical-align:top}
th.ctl{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;font-size:.85em;white-space:nowrap}
td.cell{text-align:center;font-weight:bold;min-width:1.4em}
.pass{background:#d8f0dd;color:#1e5b2c}.fail{background:#f8d4d1;color:#8c1d18}
.excepted{background:#dfe3fb;color:#2b3a8c}.warn{background:#fdf0c4;color:#7a5a00}
.unreachable{background:#8c1d18;color:#fff;padding:.6em;border-radius:4px}
pre{white-space:pre-wrap;margin:.2em 0;font-size:.85em}code{font-size:.9em}
'''


def _e(text):
    return html.escape(str(text), quote=True)


def _finding_rows(findings):
    """The details table of non-passing findings."""
    out = ['<table><tr><th>control</th><th>status</th><th>finding</th><th>evidence</th><th>fix / references</th></tr>']
    for f in findings:
        what = _e(f['message'])
        if f['status'] == policy.EXCEPTED:
            what += '<br><strong>Exception reason:</strong> %s' % _e(f['reason'])
        out.append('<tr class="%s"><td><code>%s</code><br>%s</td><td>%s</td><td>%s</td><td><pre>%s</pre></td>'
                   '<td>%s<br><small>%s</small></td></tr>' % (
                       f['status'], _e(f['control']), _e(f['tier']), _e(f['status']), what,
                       _e(evidence_text(f['evidence'])), _e(f['fix']), _e(references(f))))
    out.append('</table>')
    return out


def _html_daemons(report):
    """A row per audited daemon, a column per daemon control, then each host's non-passing daemon findings."""
    controls = report.get('daemon_controls') or []
    by_host = {}
    for finding in report.get('daemon_findings') or []:
        by_host.setdefault(finding['host'], {})[finding['control']] = finding
    if not by_host:
        return []
    out = ['<h2 id="daemons">Docker daemons</h2>',
           '<table><thead><tr><th>host</th>%s</tr></thead><tbody>'
           % ''.join('<th class="ctl" title="%s">%s</th>' % (_e(c['summary']), _e(c['id'])) for c in controls)]
    for host in sorted(by_host):
        row = ['<tr><td><a href="#daemon-%s">%s</a></td>' % (_e(host), _e(host))]
        for control in controls:
            row.append(_cell(control, by_host[host].get(control['id'])))
        out.append(''.join(row) + '</tr>')
    out.append('</tbody></table>')
    for host in sorted(by_host):
        noteworthy = [f for f in by_host[host].values() if f['status'] != policy.PASS]
        out.append('<h3 id="daemon-%s">%s daemon</h3>' % (_e(host), _e(host)))
        out.extend(_finding_rows(noteworthy) if noteworthy else ['<p class="pass">every daemon control passes</p>'])
    return out


def to_html(report):
    """A self-contained page (inline CSS, no scripts, no external assets): verdict, counts, a matrix
    of containers x controls per host, details of every non-passing finding, and the controls."""
    controls = report['controls']
    summary = report['summary']
    by_container = {}
    for finding in report['findings']:
        by_container.setdefault((finding['host'], finding['container']), {})[finding['control']] = finding
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<title>containment.docker audit</title><style>%s</style></head><body>' % _CSS,
           '<h1>Container and daemon audit</h1>',
           '<p class="meta">containment.docker policy %s &middot; generated %s &middot; %d host(s), %d container(s)</p>'
           % (_e(report['policy_version']), _e(report.get('generated_at') or '-'), summary['hosts'],
              summary['containers']),
           '<p><span class="verdict %s">%s</span></p>' % (('passed', 'PASSED') if report['passed'] else ('failed', 'FAILED')),
           '<p class="counts">' + ''.join('<span class="%s">%s: %d</span>' % (s, s, summary['by_status'][s])
                                          for s in policy.STATUSES) + '</p>']
    if summary['unreachable_hosts']:
        out.append('<p class="unreachable">Unreachable (not audited): %s</p>' % _e(', '.join(summary['unreachable_hosts'])))
    if summary['not_audited_hosts']:
        out.append('<p class="unreachable">Not audited: %s</p>' % _e(', '.join(summary['not_audited_hosts'])))
    if summary['failing_containers']:
        out.append('<p>Failing containers: %s</p>' % ', '.join('<code>%s</code>' % _e(c) for c in summary['failing_containers']))
    out.append('<table><tr><th>host</th><th>status</th><th>daemon</th><th>containers</th><th>failing</th>'
               '<th>with exceptions</th><th>with warnings</th></tr>')
    for host in report['hosts']:
        if host['status'] != HOST_OK:
            out.append('<tr><td><a href="#host-%s">%s</a></td><td class="fail" colspan="6">%s</td></tr>'
                       % (_e(host['host']), _e(host['host']), _e(host['status'].replace('_', ' '))))
            continue
        worst = dict((s, sum(1 for c in host['containers'] if c['status'] == s))
                     for s in (policy.FAIL, policy.EXCEPTED, policy.WARN))
        daemon_status = (host.get('daemon') or {}).get('status') or ''
        failed = worst[policy.FAIL] or daemon_status == policy.FAIL
        out.append('<tr><td><a href="#host-%s">%s</a></td><td class="%s">%s</td><td class="%s">%s</td><td>%d</td>%s</tr>' % (
            _e(host['host']), _e(host['host']), policy.FAIL if failed else policy.PASS,
            policy.FAIL if failed else policy.PASS, _e(daemon_status), _e(daemon_status or 'not audited'),
            len(host['containers']), ''.join('<td class="%s">%d</td>' % (s if n else '', n) for s, n in worst.items())))
    out.append('</table>')
    out.extend(_html_daemons(report))
    for host in report['hosts']:
        out.append('<h2 id="host-%s">Host %s</h2>' % (_e(host['host']), _e(host['host'])))
        if host['status'] != HOST_OK:
            out.append('<p class="unreachable">%s</p>' % _e(host['error']))
            continue
        engine = host.get('engine') or {}
        out.append('<p class="meta">engine %s %s at %s</p>' % (
            _e(engine.get('name', '')), _e(engine.get('server_version', '')), _e(engine.get('docker_host', ''))))
        if not host['containers']:
            out.append('<p>No containers.</p>')
            continue
        out.append('<table><thead><tr><th>container</th><th>image</th><th>state</th>%s</tr></thead><tbody>'
                   % ''.join('<th class="ctl" title="%s">%s</th>' % (_e(c['summary']), _e(c['id'])) for c in controls))
        for container in host['containers']:
            cells = by_container.get((host['host'], container['name']), {})
            row = ['<tr><td><a href="#%s">%s</a></td><td>%s</td><td>%s</td>' % (
                _e('%s/%s' % (host['host'], container['name'])), _e(container['name']), _e(container['image']),
                _e(container['state']))]
            for control in controls:
                row.append(_cell(control, cells.get(control['id'])))
            out.append(''.join(row) + '</tr>')
        out.append('</tbody></table>')
        for container in host['containers']:
            noteworthy = [f for f in by_container.get((host['host'], container['name']), {}).values()
                          if f['status'] != policy.PASS]
            out.append('<h3 id="%s">%s <span class="meta">%s &middot; %s</span></h3>' % (
                _e('%s/%s' % (host['host'], container['name'])), _e(container['name']), _e(container['image']),
                _e(container['id'][:12])))
            if not noteworthy:
                out.append('<p class="pass">every control passes</p>')
                continue
            out.extend(_finding_rows(noteworthy))
    out.append('<h2>Controls</h2><table><tr><th>control</th><th>tier</th><th>requires</th><th>CIS Docker 1.6</th>'
               '<th>Kubernetes PSS</th>%s</tr>' % ''.join('<th>%s</th>' % s for s in policy.STATUSES))
    daemon_counts = summary.get('daemons', {}).get('by_control', {})
    for control in controls + (report.get('daemon_controls') or []):
        counts = summary['by_control'].get(control['id']) or daemon_counts.get(control['id'], {})
        out.append('<tr><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>%s</tr>' % (
            _e(control['id']), _e(control['tier']), _e(control['summary']), _e(control['cis']), _e(control['pss']),
            ''.join('<td class="%s">%d</td>' % (s if counts.get(s) else '', counts.get(s, 0)) for s in policy.STATUSES)))
    out.append('</table></body></html>')
    return '\n'.join(out) + '\n'


def _cell(control, finding):
    """One cell of the HTML matrix: the finding's status as a symbol, its message (and exception) on hover."""
    if finding is None:
        return '<td></td>'
    tip = finding['message'] + (' (exception: %s)' % finding['reason'] if finding.get('reason') else '')
    return '<td class="cell %s" title="%s: %s">%s</td>' % (finding['status'], _e(control['id']), _e(tip), _SYMBOL[finding['status']])
