"""The documentation of containment.docker.secure_container_audit matches its argument spec
(what ansible-test's validate-modules checks), and its examples and return docs are valid YAML."""

from __future__ import annotations

import yaml

from ansible_collections.containment.docker.plugins.doc_fragments.docker import ModuleDocFragment
from ansible_collections.containment.docker.plugins.module_utils import _audit, _module
from ansible_collections.containment.docker.plugins.modules import secure_container_audit as module

DOC = yaml.safe_load(module.DOCUMENTATION)
FRAGMENT = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)
SPEC = _module.argument_spec(module.AUDIT_OPTIONS)


def documented_options():
    options = dict(FRAGMENT["options"])
    options.update(DOC["options"])
    return options


def test_every_option_is_documented_and_every_documented_option_exists():
    assert "containment.docker.docker" in DOC["extends_documentation_fragment"]
    assert sorted(documented_options()) == sorted(SPEC)


def test_types_defaults_elements_and_aliases_match():
    for name, doc in documented_options().items():
        spec = SPEC[name]
        assert doc["type"] == spec.get("type", "str"), name
        assert doc.get("default") == spec.get("default"), name
        assert doc.get("elements") == spec.get("elements"), name
        assert sorted(doc.get("aliases", [])) == sorted(spec.get("aliases", [])), name
        assert bool(doc.get("required", False)) == bool(spec.get("required", False)), name


def test_examples_use_fqcns_and_only_documented_options():
    examples = yaml.safe_load(module.EXAMPLES)
    used = [task["containment.docker.secure_container_audit"] for task in examples
            if "containment.docker.secure_container_audit" in task]
    assert used
    for args in used:
        assert set(args or {}) <= set(SPEC)
    for task in examples:
        assert all("." in key for key in task if key not in ("name", "register", "when")), task


def test_return_documents_what_the_audit_returns():
    returned = yaml.safe_load(module.RETURN)
    assert set(returned) == {"engine", "daemon", "policy_version", "containers", "findings", "summary"}
    assert set(returned["daemon"]["contains"]) == set(_audit.daemon_result({})) == {
        "settings_source", "status", "counts", "failing_controls", "findings"}
    finding_keys = set(returned["findings"]["contains"])
    assert {"container", "container_id", "image", "control", "status", "message", "evidence", "reason",
            "cis", "pss"} <= finding_keys
    assert set(returned["summary"]["contains"]) == {"containers", "by_status", "by_control", "failing_containers"}
