"""The EXAMPLES of the modules' documentation run as written (ansible-doc shows them to users).

Each example runs with its service names given the test's unique prefix and its host ports
moved to free ones, so it touches nothing else on the engine; the sandbox removes what it made.
The examples name images the way users do (registry.example.com/..., ghcr.io/...): there is no
registry here, so those names are tags of the local test images (EXAMPLE_IMAGES) while the test
runs, removed afterwards by the last test that still uses them."""

from __future__ import annotations

import fcntl
import os
import subprocess

import pytest
import yaml
from ansible_collections.containment.docker.plugins.modules import secure_container, secure_stack

from integration_helpers import ANSIBLE_ENV, ANSIBLE_PLAYBOOK, docker, free_port, inspect

MODULES = {'secure_container': secure_container, 'secure_stack': secure_stack}
# image of an example -> the key in scripts/images.env of the local image it stands for
EXAMPLE_IMAGES = {
    'registry.example.com/shop/web:1.4.2': 'CONTAINMENT_IMAGE_DOGGOS',  # a web app on port 8080
    'ghcr.io/example/edge:2.1': 'CONTAINMENT_IMAGE_WEB',  # busybox httpd, any port
    'registry.example.com/shop/worker:3.0.1': 'CONTAINMENT_IMAGE_BUSYBOX_1',  # sleeps
}
# Tests of other checkouts may use the same tags on this engine at the same time: each holds
# this lock shared while it needs them, and only one that gets it exclusively removes them.
TAGS_LOCK = '/tmp/containment-example-images.lock'


def _services(task):
    args = next(value for key, value in task.items() if key.startswith('containment.docker.'))
    return args['services'] if 'services' in args else [args]


@pytest.fixture
def example_images(engine):
    """The examples' image names, tagged on the local test images while the test runs."""
    with open(TAGS_LOCK, 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            for name, key in EXAMPLE_IMAGES.items():
                docker('tag', engine[key], name)
            yield EXAMPLE_IMAGES
        finally:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # still in use by another test: the last one removes them
            else:
                docker('rmi', *EXAMPLE_IMAGES, check=False)


def test_examples_use_registry_names_only():
    """What users copy must look like their images, never like this repository's test images."""
    images = {s['image'] for module in MODULES.values() for task in yaml.safe_load(module.EXAMPLES) for s in _services(task)
              if 'image' in s}  # a removal needs only the name
    assert images <= set(EXAMPLE_IMAGES), 'map these example images to a local one in EXAMPLE_IMAGES: %s' % (images - set(EXAMPLE_IMAGES))
    assert all('/' in image.split(':')[0] and '.' in image.split('/')[0] for image in images), images


@pytest.mark.parametrize('module', sorted(MODULES))
def test_examples_run_as_documented(module, sandbox, tmp_path, example_images):
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
