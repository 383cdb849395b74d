"""Fixtures of the integration tests (helpers: integration_helpers.py).

    engine   -- session: the Docker engine answers and the test images exist.
    sandbox  -- per test: an integration_helpers.Sandbox (unique name prefix, run() of
                playbooks); its containers, networks and image tags are removed after
                the test, also when it fails.
"""

from __future__ import annotations

import subprocess

import pytest

from integration_helpers import TOP, Sandbox, docker


@pytest.fixture(scope="session")
def engine(test_images):
    """The engine answers and the test images exist (built by scripts/build-images if not)."""
    if docker("version", "--format", "{{.Server.Version}}", check=False).returncode != 0:
        pytest.fail("no Docker engine answers; run scripts/ensure-docker (make engine)")
    if any(docker("image", "inspect", tag, check=False).returncode for tag in test_images.values()):
        subprocess.run([str(TOP / "scripts" / "build-images")], check=True)
    return test_images


@pytest.fixture
def sandbox(tmp_path, engine):
    box = Sandbox(tmp_path, engine)
    yield box
    box.cleanup()
