"""What GitHub code scanning requires of an uploaded SARIF file beyond the SARIF 2.1.0 schema, as data: each
rule with its source and a check that returns the problems it finds. tests/unit/test_reports.py runs them
over rendered reports (and proves each one catches a breakage); tests/integration/test_audit_playbook.py
over the SARIF file of a real audit run. Sources, read 2026-12:

GH   https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning
     ("SARIF support for code scanning": the supported properties of sarifLog, run, reportingDescriptor,
     result, location, physicalLocation; fingerprints; security-severity)
GHL  https://docs.github.com/en/rest/code-scanning/code-scanning#upload-an-analysis-as-sarif-data
     (the upload limits: an analysis above a maximum is rejected)
CQL  https://github.com/github/codeql-action/blob/main/src/fingerprints.ts (upload-sarif: a location URI
     with a scheme other than file:// is not a file of the repository; a relative one is resolved from
     the checkout's root)
SARIF https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/sarif-v2.1.0-os.html 3.14.14 originalUriBaseIds,
     3.4.4 uriBaseId, 3.27.17 partialFingerprints
"""

from __future__ import annotations

import re

LEVELS = ("none", "note", "warning", "error")
RULE_LEVELS = ("note", "warning", "error")
MAX_RUNS = 20                   # GHL: runs per file
MAX_RESULTS = 25000             # GHL: results per run (only the top 5,000 by severity are shown)
MAX_RULES = 25000               # GHL: rules per run
MAX_LOCATIONS = 1000            # GHL: locations per result (only 100 are kept)
MAX_TAGS = 20                   # GHL: tags per rule (only 10 are kept)
SHOWN_TAGS = 10
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _runs(sarif):
    return sarif.get("runs") or []


def _rules(run):
    return ((run.get("tool") or {}).get("driver") or {}).get("rules") or []


def _results(sarif):
    return [(run, result) for run in _runs(sarif) for result in run.get("results") or []]


def _locations(sarif):
    return [(run, result, location) for run, result in _results(sarif) for location in result.get("locations") or []]


def version(sarif):
    return [] if sarif.get("version") == "2.1.0" else ["version is %r" % sarif.get("version")]


def runs_limit(sarif):
    return [] if 0 < len(_runs(sarif)) <= MAX_RUNS else ["%d runs" % len(_runs(sarif))]


def driver_name(sarif):
    return ["a run has no tool.driver.name" for run in _runs(sarif) if not ((run.get("tool") or {}).get("driver") or {}).get("name")]


def run_limits(sarif):
    problems = []
    for run in _runs(sarif):
        if len(run.get("results") or []) > MAX_RESULTS:
            problems.append("%d results in a run" % len(run["results"]))
        if len(_rules(run)) > MAX_RULES:
            problems.append("%d rules in a run" % len(_rules(run)))
    return problems


def rule_texts(sarif):
    problems = []
    for run in _runs(sarif):
        for rule in _rules(run):
            for key in ("shortDescription", "fullDescription", "help"):
                if not (rule.get(key) or {}).get("text"):
                    problems.append("rule %s has no %s.text" % (rule.get("id"), key))
            if not rule.get("id"):
                problems.append("a rule has no id")
    return problems


def rule_level(sarif):
    return ["rule %s has level %r" % (r.get("id"), (r.get("defaultConfiguration") or {}).get("level"))
            for run in _runs(sarif) for r in _rules(run)
            if (r.get("defaultConfiguration") or {}).get("level", "warning") not in RULE_LEVELS]


def rule_tags(sarif):
    return ["rule %s has %d tags" % (r.get("id"), len((r.get("properties") or {}).get("tags") or []))
            for run in _runs(sarif) for r in _rules(run) if len((r.get("properties") or {}).get("tags") or []) > SHOWN_TAGS]


def security_severity(sarif):
    problems = []
    for run in _runs(sarif):
        for rule in _rules(run):
            properties = rule.get("properties") or {}
            value = properties.get("security-severity")
            if not isinstance(value, str) or not _NUMBER.match(value) or not 0.0 <= float(value) <= 10.0:
                problems.append("rule %s: security-severity %r is not a string of a score from 0.0 to 10.0" % (rule.get("id"), value))
            elif "security" not in (properties.get("tags") or []):
                problems.append("rule %s has a security-severity but no tag security" % rule.get("id"))
    return problems


def result_rule(sarif):
    problems = []
    for run, result in _results(sarif):
        ids = [r.get("id") for r in _rules(run)]
        if result.get("ruleId") not in ids:
            problems.append("result rule %r is not a rule of the run" % result.get("ruleId"))
        elif "ruleIndex" in result and ids[result["ruleIndex"]] != result["ruleId"]:
            problems.append("result rule %r and ruleIndex %r disagree" % (result.get("ruleId"), result["ruleIndex"]))
    return problems


def result_message_and_level(sarif):
    problems = []
    for _run, result in _results(sarif):
        if not (result.get("message") or {}).get("text"):
            problems.append("result of %s has no message.text" % result.get("ruleId"))
        if result.get("level", "warning") not in LEVELS:
            problems.append("result of %s has level %r" % (result.get("ruleId"), result.get("level")))
    return problems


def result_locations(sarif):
    return ["result of %s has %d locations" % (result.get("ruleId"), len(result.get("locations") or []))
            for _run, result in _results(sarif) if not 1 <= len(result.get("locations") or []) <= MAX_LOCATIONS]


def physical_location(sarif):
    problems = []
    for _run, result, location in _locations(sarif):
        physical = location.get("physicalLocation") or {}
        uri = (physical.get("artifactLocation") or {}).get("uri")
        start = (physical.get("region") or {}).get("startLine")
        if not uri:
            problems.append("result of %s has no physicalLocation.artifactLocation.uri" % result.get("ruleId"))
        if not isinstance(start, int) or start < 1:
            problems.append("result of %s has region.startLine %r" % (result.get("ruleId"), start))
    return problems


def uri_in_repository(sarif):
    problems = []
    for run, result, location in _locations(sarif):
        artifact = (location.get("physicalLocation") or {}).get("artifactLocation") or {}
        uri = artifact.get("uri") or ""
        if _SCHEME.match(uri) and not uri.startswith("file://"):
            problems.append("uri %r has a scheme upload-sarif does not read" % uri)
        elif not _SCHEME.match(uri) and (uri.startswith("/") or not artifact.get("uriBaseId")):
            problems.append("uri %r is neither relative with a uriBaseId nor a file URI" % uri)
    return problems


def uri_base_ids(sarif):
    problems = []
    for run in _runs(sarif):
        bases = run.get("originalUriBaseIds") or {}
        for name, base in bases.items():
            uri = (base or {}).get("uri") or ""
            if not _SCHEME.match(uri) or not uri.endswith("/") or "?" in uri or "#" in uri:
                problems.append("originalUriBaseIds %s: %r is not an absolute URI ending in /" % (name, uri))
        for result in run.get("results") or []:
            for location in result.get("locations") or []:
                base = ((location.get("physicalLocation") or {}).get("artifactLocation") or {}).get("uriBaseId")
                if base is not None and base not in bases:
                    problems.append("uriBaseId %s is not declared in originalUriBaseIds" % base)
    return problems


def fingerprints(sarif):
    problems = []
    for run in _runs(sarif):
        seen = set()
        for result in run.get("results") or []:
            prints = result.get("partialFingerprints") or {}
            if not prints:
                problems.append("result of %s has no partialFingerprints" % result.get("ruleId"))
            for name, value in prints.items():
                if not isinstance(value, str) or not value or not re.search(r"/v\d+$", name):
                    problems.append("fingerprint %r=%r is not a versioned name with a string" % (name, value))
            key = (result.get("ruleId"), tuple(sorted(prints.items())))
            if key in seen:
                problems.append("two results of %s share the fingerprint %r" % key)
            seen.add(key)
    return problems


def automation_details(sarif):
    problems = []
    for run in _runs(sarif):
        ident = (run.get("automationDetails") or {}).get("id") or ""
        if "/" not in ident or not ident.rsplit("/", 1)[0]:
            problems.append("automationDetails.id %r has no category (the part before the last /)" % ident)
    return problems


# (source, what GitHub requires, check)
RULES = (
    ("GH sarifLog", "version is 2.1.0, the only version code scanning takes", version),
    ("GHL", "at most %d runs per file" % MAX_RUNS, runs_limit),
    ("GH run", "tool.driver.name is required", driver_name),
    ("GHL", "at most %d results and %d rules per run" % (MAX_RESULTS, MAX_RULES), run_limits),
    ("GH reportingDescriptor", "a rule has an id, shortDescription.text, fullDescription.text and help.text", rule_texts),
    ("GH reportingDescriptor", "defaultConfiguration.level is note, warning or error", rule_level),
    ("GHL", "at most %d tags per rule, of which the first %d are kept: stay within %d" % (MAX_TAGS, SHOWN_TAGS, SHOWN_TAGS), rule_tags),
    ("GH reportingDescriptor", "properties.security-severity is a string of a score from 0.0 to 10.0, on a rule tagged security",
     security_severity),
    ("GH result", "ruleId names a rule of the run (and ruleIndex, when given, is that rule)", result_rule),
    ("GH result", "message.text is required; level is none, note, warning or error", result_message_and_level),
    ("GH result / GHL", "at least one location (a result without one is not shown), at most %d" % MAX_LOCATIONS,
     result_locations),
    ("GH physicalLocation", "artifactLocation.uri and region.startLine are required", physical_location),
    ("GH physicalLocation / CQL", "uri is relative to the repository (with a uriBaseId) or a file URI, no other scheme",
     uri_in_repository),
    ("SARIF 3.14.14, 3.4.4", "every uriBaseId is declared in originalUriBaseIds, each an absolute URI ending in /",
     uri_base_ids),
    ("GH fingerprints / SARIF 3.27.17", "partialFingerprints on every result: versioned names, string values, "
     "no two results of a rule alike", fingerprints),
    ("GH run", "automationDetails.id has a category (before the last /) that keeps runs over other hosts apart",
     automation_details),
)


def problems(sarif):
    """Every problem of every rule, as 'SOURCE: problem'."""
    return ["%s: %s" % (source, problem) for source, _what, check in RULES for problem in check(sarif)]
