"""The Galaxy tarball: `ansible-galaxy collection build` ships the collection and nothing else.

The checkout (the files git knows, as scripts/sanity copies them) is copied to a temporary
folder together with decoys of every kind of local state a developer's or CI's tree has
(a venv, caches, fleet state, test output, the changelog's plugin cache, benchmark results),
then built there: none of those may reach the tarball, and every tracked file of the
collection's own folders must."""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parent.parent.parent
ANSIBLE_GALAXY = str(Path(sys.executable).parent / "ansible-galaxy")
if not os.path.exists(ANSIBLE_GALAXY):
    ANSIBLE_GALAXY = shutil.which("ansible-galaxy") or "ansible-galaxy"

# top-level entries a user gets (MANIFEST.json and FILES.json are written by the build)
SHIPPED_TOP = {"plugins", "roles", "playbooks", "meta", "docs", "tests", "changelogs", "README.md",
               "CHANGELOG.rst", "COPYING", "LICENSE", "LICENSES", "bindep.txt", "MANIFEST.json", "FILES.json"}
# folders whose tracked files must all ship
SHIPPED_TREES = ("plugins/", "roles/", "playbooks/", "meta/", "docs/", "tests/sanity/", "LICENSES/")
REQUIRED = ("README.md", "CHANGELOG.rst", "COPYING", "LICENSE", "LICENSES/GPL-3.0-or-later.txt",
            "changelogs/changelog.yaml", "meta/runtime.yml", "playbooks/deploy.yml", "playbooks/audit.yml",
            "plugins/modules/secure_container.py", "roles/secure_services/meta/argument_specs.yml",
            # what ansible-builder reads from an installed collection (meta/execution-environment.yml names the others)
            "meta/execution-environment.yml", "meta/ee-requirements.txt", "bindep.txt")
# local state and build leftovers, made in the copy before the build
DECOYS = (".venv/bin/python", ".cache/pip/x", ".pytest_cache/v/x", "tests/output/junit.xml",
          "tests/fleet/.state/inventory.yml", "changelogs/.plugin-cache.yaml", "bench/results/run.json",
          "bench/.venv-community/bin/python", "plugins/modules/__pycache__/secure_container.cpython-311.pyc",
          "changelogs/fragments/unreleased-change.yml", "containment-docker-0.0.1.tar.gz", "roles/secure_services/tasks/main.yml.swp")
MAX_BYTES = 1024 * 1024


def _git_files():
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=TOP,
                         capture_output=True, check=True).stdout.decode()
    return [f for f in out.split("\0") if f and (os.path.lexists(TOP / f))]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    src = tmp_path_factory.mktemp("checkout") / "docker"
    for rel in _git_files():
        dest = src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if (TOP / rel).is_symlink():
            os.symlink(os.readlink(TOP / rel), dest)
        elif (TOP / rel).is_file():
            shutil.copy2(TOP / rel, dest)
    for rel in DECOYS:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text("local state\n")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([ANSIBLE_GALAXY, "collection", "build", "--output-path", str(out), str(src)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    galaxy = yaml.safe_load((TOP / "galaxy.yml").read_text(encoding="utf-8"))
    path = out / ("%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"]))
    assert path.is_file(), sorted(p.name for p in out.iterdir())
    return path


@pytest.fixture(scope="module")
def members(tarball):
    with tarfile.open(tarball) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_only_collection_content_at_the_top(members):
    top = {name.split("/", 1)[0] for name in members}
    assert top <= SHIPPED_TOP, "not collection content: %s" % sorted(top - SHIPPED_TOP)


def test_no_local_state_or_tooling(members):
    for decoy in DECOYS:
        assert decoy not in members, decoy
    ignored = yaml.safe_load((TOP / "galaxy.yml").read_text(encoding="utf-8"))["build_ignore"]
    for name in members:
        assert "__pycache__" not in name.split("/"), name
        assert not any(name == p or name.startswith(p.rstrip("/") + "/") for p in ignored if "*" not in p), name


def test_the_collection_is_complete(members):
    for name in REQUIRED:
        assert name in members and (members[name].isfile() or members[name].issym()), name
    tracked = [f for f in _git_files() if f.startswith(SHIPPED_TREES)]
    assert tracked, "no tracked files under %s" % (SHIPPED_TREES,)
    missing = sorted(f for f in tracked if f not in members and "__pycache__" not in f)
    assert not missing, "ignored by build_ignore but part of the collection: %s" % missing


def test_symlinks_stay_inside_and_resolve_to_files(members):
    links = [m for m in members.values() if m.issym() or m.islnk()]
    for link in links:
        seen = {link.name}
        target = link
        while target.issym():  # follow the chain; a loop or an escape fails
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(target.name), target.linkname))
            assert not resolved.startswith("../") and not posixpath.isabs(resolved), "%s points outside: %s" % (link.name, resolved)
            assert resolved not in seen, "symlink loop at %s" % link.name
            seen.add(resolved)
            assert resolved in members, "%s points to %s, which is not in the tarball" % (link.name, resolved)
            target = members[resolved]
        assert target.isfile(), "%s does not end at a file" % link.name
    assert "LICENSES/GPL-3.0-or-later.txt" in {m.name for m in links}


def test_license_texts(members, tarball):
    with tarfile.open(tarball) as tar:
        texts = {name: tar.extractfile(name).read() for name in ("COPYING", "LICENSE")}
    assert texts["COPYING"] == texts["LICENSE"] == (TOP / "COPYING").read_bytes()
    assert texts["COPYING"].lstrip().startswith(b"GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007")
    assert yaml.safe_load((TOP / "galaxy.yml").read_text(encoding="utf-8"))["license"] == ["GPL-3.0-or-later"]


def test_size_is_sane(tarball, members):
    assert tarball.stat().st_size < MAX_BYTES, tarball.stat().st_size
    assert len(members) < 500, len(members)
