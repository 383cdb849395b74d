#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Documentation only: the work is done on the controller by plugins/action/audit_console.py.

from __future__ import annotations

DOCUMENTATION = r'''
---
module: audit_console
short_description: Print an audit report on the console, one line per failing control with its fix
version_added: 0.1.0
description:
  - "Prints the report of P(containment.docker.audit_report#filter) in the style of kube-bench: per host a
    V([INFO]) line, then its daemon's and each container's failing (V([FAIL])), warning (V([WARN])) and excepted
    (V([INFO]), with the reason) controls, one line each, C([FAIL] CIS CONTROL  CONTAINER: what is wrong. Fix: what to change);
    a V([PASS]) line per container or daemon where every control passes; a V([FAIL]) line per host that was not
    audited, with the reason; and a final line of counts."
  - "The fix is phrased for the way the container was made: for a container of this collection
    (its C(containment.managed) label) the option of M(containment.docker.secure_container) or of the role
    C(containment.docker.secure_services) to set, for any other the C(docker run) flag, such as
    C(--security-opt no-new-privileges) or C(--user 1500:1500)."
  - "The lines are printed as they are, in colour only on a terminal: never when C(NO_COLOR), C(ANSIBLE_NOCOLOR) or
    C(CI) is set, nor when the output is not a terminal (unless C(ANSIBLE_FORCE_COLOR))."
  - It runs on the controller, changes nothing, and never fails on a failing control (the audit playbook gates
    after it).
author:
  - containment.docker maintainers (@containment)
attributes:
  check_mode:
    description: It only prints.
    support: full
  diff_mode:
    description: Nothing changes.
    support: none
  idempotent:
    description: It only prints.
    support: full
options:
  report:
    description: The report built by P(containment.docker.audit_report#filter).
    type: dict
    required: true
  report_dir:
    description: The folder of the written reports, named in a line before the counts.
    type: str
  colour:
    description: V(auto) colours on a terminal only (above); V(never) and V(always) decide.
    type: str
    choices: [auto, never, always]
    default: auto
seealso:
  - module: containment.docker.secure_container_audit
  - plugin: containment.docker.audit_report
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Print the audit, one line per failing control with its fix
  containment.docker.audit_console:
    report: "{{ containment_audit_report }}"
    report_dir: audit-reports
  run_once: true
'''

RETURN = r'''
lines:
  description: The printed lines, without colour.
  returned: success
  type: list
  elements: str
  sample:
    - "[INFO] host1: Docker 20.10.24 at unix:///var/run/docker.sock, 2 container(s)"
    - "[FAIL] 5.26 no_new_privileges  by-hand: no-new-privileges is not set, so setuid binaries can escalate.
      Fix: run it with --security-opt no-new-privileges"
    - "== Summary: 45 PASS, 11 FAIL, 1 WARN, 0 EXCEPTED in 3 container(s); ... =="
'''
