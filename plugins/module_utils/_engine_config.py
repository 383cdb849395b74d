# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# The daemon.json the role secure_engine converges to (through the filter
# containment.docker.engine_config): the host's current file, the hardened values over it,
# the user's own settings over those. The result is judged by the audit's own daemon controls
# (_policy.DAEMON_CONTROLS), so the role cannot write what the audit would fail; a relaxation
# needs an exception with a written reason, which the role records beside daemon.json and the
# audit reports as `excepted`. Pure: dicts in, dicts out.

from __future__ import annotations

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy

RECORD_FORMAT = 'containment.docker/engine-record'
# Options dockerd applies on SIGHUP without a restart (Docker 20.10, daemon/reload.go) that the
# hardened set touches: live-restore goes first, by reload, so the restart keeps containers running.
RELOADABLE_FIRST = {'live-restore': True}


def key_owners():
    """{daemon.json key: control id} from the daemon controls' `field`."""
    owners = {}
    for control in policy.DAEMON_CONTROLS:
        for key in control.field.split(','):
            owners.setdefault(key.strip(), control.id)
    return owners


def judge(config, exceptions):
    """The daemon findings the audit would report for a daemon running `config`."""
    icc = config.get('icc', True)
    facts = {'info': None, 'settings': config, 'settings_source': 'the planned daemon.json',
             'bridge': {policy.BRIDGE_ICC: 'true' if icc is True or str(icc).lower() == 'true' else 'false'}}
    return [f for f in policy.evaluate_daemon(facts, exceptions) if f['control'] != 'storage_driver']


def engine_config(current, hardened, settings=None, exceptions=None):
    """{'config': the daemon.json to write, 'interim': the current file with only live-restore turned on
    (to apply by reload first; None when not needed), 'exceptions': {control: reason} to record,
    'differs': bool, 'errors': [...], 'findings': the planned config's daemon findings}."""
    current = dict(current or {})
    settings = dict(settings or {})
    errors = []
    recorded = {}
    for control_id, reason in sorted(dict(exceptions or {}).items()):
        control = policy.DAEMON_CONTROLS_BY_ID.get(control_id)
        reason = str(reason or '').strip()
        if control is None:
            errors.append('secure_engine_exceptions: %r is not a daemon control; known: %s'
                          % (control_id, ', '.join(c.id for c in policy.DAEMON_CONTROLS)))
        elif control.tier == policy.FLOOR:
            errors.append('secure_engine_exceptions.%s: %s is a floor control, which no exception relaxes; fix: %s'
                          % (control_id, control_id, control.fix))
        elif not reason:
            errors.append('secure_engine_exceptions.%s: give a written reason for the relaxation' % control_id)
        else:
            recorded[control_id] = reason
    owners = key_owners()
    config = dict(current)
    for key, value in dict(hardened or {}).items():
        if owners.get(key) in recorded and key in current:
            continue  # the user keeps the current value of an excepted control
        config[key] = value
    config.update(settings)
    findings = judge(config, recorded)
    for finding in findings:
        if finding['status'] == policy.FAIL:
            control = policy.DAEMON_CONTROLS_BY_ID[finding['control']]
            how = ('no exception relaxes this floor control' if control.tier == policy.FLOOR else
                   'or keep it with secure_engine_exceptions.%s: <the reason>' % control.id)
            errors.append('daemon.json %s: %s (control %s, %s, CIS %s); fix: %s, %s'
                          % (control.field, finding['message'], control.id, control.tier, control.cis, control.fix, how))
    interim = None
    if config != current and config.get('live-restore') is True and current.get('live-restore') is not True:
        interim = dict(current, **RELOADABLE_FIRST)
    return {'config': config, 'interim': interim, 'exceptions': recorded, 'differs': config != current,
            'errors': errors, 'findings': findings}


def record(exceptions):
    """The content of containment-engine.json, beside daemon.json: what the audit reads as excepted."""
    return {'format': RECORD_FORMAT, 'managed_by': 'containment.docker.secure_engine',
            'exceptions': dict(sorted(dict(exceptions or {}).items()))}
