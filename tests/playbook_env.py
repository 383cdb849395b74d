"""How every test suite runs ansible-playbook: the venv's own (the Makefile's pinned ansible-core and
Docker SDK) and an environment without colours, retry files or warnings that tests do not read.
Shared by tests/integration and tests/faults (tests/ is on sys.path through tests/conftest.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
if not Path(ANSIBLE_PLAYBOOK).exists():
    ANSIBLE_PLAYBOOK = shutil.which("ansible-playbook") or "ansible-playbook"

ANSIBLE_ENV = {
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_RETRY_FILES_ENABLED": "0",
    "ANSIBLE_LOCALHOST_WARNING": "0",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    "ANSIBLE_DEPRECATION_WARNINGS": "0",
}
