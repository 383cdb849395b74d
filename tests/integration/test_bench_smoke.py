"""bench/run works end to end, at the smallest size: two services, one repetition.

Every contender (the role, community.docker, the docker CLI) is measured in every
scenario (cold, nochange, onechange) on one host and on the fleet, the JSON on
stdout and the files in --output hold them all, and nothing of the run is left on
its engines. bench/run itself checks after each step that the engines hold what
the step claims (all running, nothing recreated on a rerun, exactly the changed
service recreated), so a contender that did not converge fails this test.

No timing is asserted: timings are what the benchmark reports, never pass/fail.
The first run creates bench/.venv-community (the `ansible` package from PyPI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent.parent
CONTENDERS = ["ours", "community", "cli"]
SCENARIOS = ["cold", "nochange", "onechange"]
# two hosts prove the fleet path (the benchmark itself uses three) and keep this test short
FLEET_HOSTS = 2


def test_bench_measures_every_contender_and_scenario(tmp_path, engine):
    env = dict(os.environ, BENCH_ANSIBLE_PLAYBOOK=str(Path(sys.executable).parent / "ansible-playbook"))
    proc = subprocess.run(
        [str(TOP / "bench" / "run"), "--services", "2", "--repetitions", "1", "--fleet-hosts", str(FLEET_HOSTS),
         "--grace", "1", "--memory-services", "2", "--output", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=900, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-6000:]
    report = json.loads(proc.stdout)

    assert report["parameters"]["contenders"] == CONTENDERS
    layouts = ["single", "fleet-%d" % FLEET_HOSTS]
    assert sorted(report["results"]) == sorted(layouts)
    for layout in layouts:
        assert sorted(report["results"][layout]) == sorted(SCENARIOS)
        for scenario in SCENARIOS:
            cells = report["results"][layout][scenario]
            assert sorted(cells) == sorted(CONTENDERS), (layout, scenario)
            for contender, cell in cells.items():
                assert len(cell["samples"]) == 1 and cell["samples"][0] > 0, (layout, scenario, contender)
                assert cell["min"] <= cell["median"] <= cell["max"]
            for ratio in ("ours/community", "ours/cli"):
                assert report["ratios"][layout][scenario][ratio] > 0
        # the playbooks' own account: a rerun changes nothing, the other steps change something
        for contender in ("ours", "community"):
            changed = report["changed_tasks"][layout]
            assert changed["nochange"][contender] == [0], (layout, contender)
            assert changed["cold"][contender][0] > 0 and changed["onechange"][contender][0] > 0, (layout, contender)
    for scenario in SCENARIOS:
        assert sorted(report["scaling"][scenario]) == sorted(CONTENDERS)
    assert [t["target"] for t in report["targets"]] == [
        "nochange: ours / community.docker", "cold: ours / community.docker", "cold: ours / docker CLI",
    ] + ["%s: ours on %d hosts / ours on one host" % (scenario, FLEET_HOSTS) for scenario in SCENARIOS]
    assert all(isinstance(t["met"], bool) for t in report["targets"])
    assert [(m["services"], m["scenario"]) for m in report["memory"]] == [(2, "cold"), (2, "nochange")]
    assert all(m["maxrss_kib"] > 10 * 1024 for m in report["memory"])  # a Python process, in KiB
    assert report["machine"]["nproc"] >= 1 and report["machine"]["docker"]

    # the same report on disk, as JSON and as markdown with every contender and scenario
    [json_file] = tmp_path.glob("bench-*.json")
    [md_file] = tmp_path.glob("bench-*.md")
    assert json.loads(json_file.read_text()) == report
    markdown = md_file.read_text()
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| hosts | scenario |"))
    header, table = lines[start], []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        table.append(line)
    for contender in CONTENDERS:
        assert "| %s s (min-max) |" % contender in header
    rows = [line.split("|")[1:3] for line in table]
    assert sorted((h.strip(), s.strip()) for h, s in rows) == sorted(
        (h, s) for h in ("1", str(FLEET_HOSTS)) for s in SCENARIOS)
    assert "ours / community.docker" in header and "ours / docker CLI" in header
    assert "Peak memory" in markdown

    # nothing of the run is left on the engines that still answer (the fleet may be gone)
    for sock in report["engines"]:
        ps = subprocess.run(["docker", "-H", sock, "ps", "-aq", "--filter", "name=" + report["prefix"]],
                            capture_output=True, text=True, check=False)
        nets = subprocess.run(["docker", "-H", sock, "network", "ls", "-q", "--filter", "name=" + report["prefix"]],
                              capture_output=True, text=True, check=False)
        if ps.returncode == 0:
            assert ps.stdout.split() == [] and nets.stdout.split() == [], sock
