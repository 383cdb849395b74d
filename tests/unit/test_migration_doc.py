"""docs/migrating-from-community-docker.md: the converted examples are accepted as written.

Each YAML block after an `<!-- example: ... -->` marker is loaded and run through the collection's
own checks (the ones a module run makes before it touches an engine): the secure_container task
through _spec.load_spec, the role's service list through _converge.load_specs with the host's
checks (unique uids). The originals of the doc are refused, so the conversion is what makes them pass.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.containment.docker.plugins.module_utils import _converge, _spec

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "migrating-from-community-docker.md"
BLOCK = re.compile(r"^<!-- example: (\S+) -->\n```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples():
    return dict((m.group(1), yaml.safe_load(m.group(2))) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8")))


def test_the_doc_has_both_converted_examples():
    assert sorted(examples()) == ["secure_container", "secure_services"]


def test_converted_docker_container_task_is_accepted():
    (task,) = examples()["secure_container"]
    args = task["containment.docker.secure_container"]
    spec = _spec.load_spec(args, {"host_cpus": 2})
    assert spec["user"] == "1500:1500" and spec["secret_env"] == {"DATABASE_PASSWORD": "{{ vault_api_db_password }}"}


def test_converted_compose_service_is_accepted():
    services = examples()["secure_services"]["secure_services_services"]
    loaded, _ctx = _converge.load_specs(services, host_cpus=2, check_unique_uid=True)
    assert [spec["name"] for spec, _ops in loaded] == ["web"]


def test_the_original_docker_container_task_is_refused():
    """The task before conversion, its options renamed only where the names differ: refused, naming why."""
    text = DOC.read_text(encoding="utf-8")
    original = next(yaml.safe_load(m.group(1)) for m in YAML_BLOCK.finditer(text) if "community.docker.docker_container:" in m.group(1))
    args = dict(original[0]["community.docker.docker_container"])
    args["ports"] = args.pop("published_ports")
    args["cap_add"] = args.pop("capabilities")
    args["networks"] = [n["name"] for n in args["networks"]]
    with pytest.raises(_spec.SpecError) as refused:
        _spec.load_spec(args, {"host_cpus": 2})
    assert [p["field"] for p in refused.value.problems] == ["cpus"], refused.value  # a required option
    args["cpus"] = 1  # with it, the policy names every other breach at once
    with pytest.raises(_spec.SpecError) as refused:
        _spec.load_spec(args, {"host_cpus": 2})
    controls = set(p["rule"].split()[0] for p in refused.value.problems)
    assert {"non_root_user", "no_docker_socket", "cap_drop_all", "ports_bound", "restart_policy"} <= controls, refused.value
