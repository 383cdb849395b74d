"""The EXAMPLES of the modules' documentation run as written (ansible-doc shows them to users).

Each example runs with its service names given the test's unique prefix and its host ports
moved to free ones, so it touches nothing else on the engine; the sandbox removes what it made."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from ansible_collections.containment.docker.plugins.modules import secure_container, secure_stack

from integration_helpers import ANSIBLE_ENV, ANSIBLE_PLAYBOOK, free_port, inspect

MODULES = {'secure_container': secure_container, 'secure_stack': secure_stack}


def _services(task):
    args = next(value for key, value in task.items() if key.startswith('containment.docker.'))
    return args['services'] if 'services' in args else [args]


@pytest.mark.parametrize('module', sorted(MODULES))
def test_examples_run_as_documented(module, sandbox, tmp_path):
    tasks = yaml.safe_load(MODULES[module].EXAMPLES)
    for service in [s for task in tasks for s in _services(task)]:
        service['name'] = sandbox.prefix + service['name']
        deps = service.get('depends_on')
        if isinstance(deps, dict):
            service['depends_on'] = dict((sandbox.prefix + name, value) for name, value in deps.items())
        elif deps:
            service['depends_on'] = [sandbox.prefix + name for name in deps]
        service['ports'] = ['127.0.0.1:%d:%s' % (free_port(), port.rsplit(':', 1)[1]) for port in service.get('ports', [])]
    if module == 'secure_stack':
        tasks[0]['containment.docker.secure_stack']['prune'] = False  # never prune the shared engine
    playbook = tmp_path / 'examples.yml'
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks,
                                         'vars': {'ansible_python_interpreter': '{{ ansible_playbook_python }}'}}]))
    # the examples' Ansible Vault variable, as a vaulted group_vars file would define it
    proc = subprocess.run([ANSIBLE_PLAYBOOK, '-i', 'localhost,', '-c', 'local', str(playbook),
                           '-e', 'vault_db_password=example-only-password'], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, **ANSIBLE_ENV), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    created = [inspect(s['name']) for task in tasks for s in _services(task)]
    assert any(created), 'the examples left no container at all'
    for live in filter(None, created):  # a later example may remove what an earlier one created
        assert live['State']['Running'] and live['HostConfig']['ReadonlyRootfs'] is True
        assert live['Config']['Labels']['containment.managed'] == 'true'
