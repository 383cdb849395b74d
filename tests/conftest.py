"""Shared pytest setup for tests/unit and tests/integration.

Tests run against the collection *as installed*: scripts/collection-path puts
this checkout at <dir>/ansible_collections/containment/docker (a symlink), and
here <dir> goes first on sys.path and into ANSIBLE_COLLECTIONS_PATH, so

    from ansible_collections.containment.docker.plugins.module_utils import ...

and `ansible-playbook` run by a test both find this checkout. The Makefile
exports the same variables; this file makes a bare `pytest tests/unit` work too.

Fixtures:
    collections_path  -- that <dir> (str)
    test_images       -- the image tags from scripts/images.env, e.g.
                         test_images["CONTAINMENT_IMAGE_BUSYBOX_1"]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parent.parent
IMAGES_ENV = TOP / "scripts" / "images.env"


def _collections_path() -> str:
    out = subprocess.run(
        [str(TOP / "scripts" / "collection-path")],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def read_images_env(path: Path = IMAGES_ENV) -> dict[str, str]:
    """Parse scripts/images.env (plain KEY=VALUE lines, # comments)."""
    images = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            images[key.strip()] = value.strip()
    return images


COLLECTIONS_PATH = _collections_path()
if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)
_acp = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
if COLLECTIONS_PATH not in _acp.split(os.pathsep):
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(p for p in (COLLECTIONS_PATH, _acp) if p)

TEST_IMAGES = read_images_env()


@pytest.fixture(scope="session")
def collections_path() -> str:
    return COLLECTIONS_PATH


@pytest.fixture(scope="session")
def test_images() -> dict[str, str]:
    return dict(TEST_IMAGES)
