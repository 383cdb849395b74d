"""The pure parts of bench/run --scale and --check-ratios: which ratios slid against the committed run,
the least-squares fits of the growth and the order of the points. No timing: the numbers are made up."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parent.parent.parent


def _load_bench():
    loader = importlib.machinery.SourceFileLoader("bench_run", str(TOP / "bench" / "run"))
    spec = importlib.util.spec_from_loader("bench_run", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


bench = _load_bench()

COMMITTED = {"1x20": {"nochange": {"ours/community": 0.10, "ours/cli": 5.0, "ours/stack": 1.2},
                      "cold": {"ours/community": 0.30, "ours/cli": 1.0}},
             "6x20": {"cold": {"ours/community": 0.50}}}


def test_a_ratio_slid_when_it_grew_by_more_than_15_percent():
    run = {"1x20": {"nochange": {"ours/community": 0.116, "ours/cli": 5.76, "ours/stack": 1.0},
                    "cold": {"ours/community": 0.20, "ours/cli": 1.15}},
           "1x200": {"cold": {"ours/cli": 3.0}}}
    rows, slid = bench.compare_ratios(COMMITTED, run)
    # 0.10 -> 0.116 is +16 %, 5.0 -> 5.76 is +15.2 %; exactly +15 % (1.0 -> 1.15) has not slid, nor a ratio that fell
    assert slid == ["1x20/nochange/ours/cli", "1x20/nochange/ours/community"]
    by_name = dict((row[0], (row[1], row[2])) for row in rows)
    assert by_name["1x20/cold/ours/community"] == (0.30, 0.20)
    # a ratio of only one side is listed, never counted as slid
    assert by_name["6x20/cold/ours/community"] == (0.50, None)
    assert by_name["1x200/cold/ours/cli"] == (None, 3.0)
    changes = dict((row[0], row[3]) for row in rows)
    assert changes["6x20/cold/ours/community"] is None
    assert changes["1x20/nochange/ours/stack"] == pytest.approx(-1 / 6)


def test_the_same_ratios_have_not_slid():
    rows, slid = bench.compare_ratios(COMMITTED, COMMITTED)
    assert slid == [] and len(rows) == 6 and all(row[3] == 0 for row in rows)


def test_flatten_keeps_numbers_only():
    assert bench.flatten_ratios({"a": {"b": 1.5, "c": None, "d": True, "e": {"f": 2}}}) == {"a/b": 1.5, "a/e/f": 2}


def test_least_squares_recovers_a_line_and_needs_two_distinct_points():
    fit = bench.least_squares([(10, 2.5), (50, 4.5), (100, 7.0), (200, 12.0)])
    assert fit["slope"] == pytest.approx(0.05) and fit["intercept"] == pytest.approx(2.0)
    assert fit["r2"] == pytest.approx(1.0) and fit["points"] == 4
    assert bench.least_squares([(20, 1.0), (20, 2.0)]) is None
    assert bench.least_squares([(20, 1.0), (50, None)]) is None


def test_scale_fits_per_service_on_one_host_and_per_host_at_the_fleet_size():
    def cell(seconds, calls=None):
        return {"seconds": seconds, "engine_calls": calls}

    results = {"1x10": {"nochange": {"ours": cell(2.1, 16), "cli": cell(0.3)}},
               "1x20": {"nochange": {"ours": cell(2.2, 26), "cli": cell(0.5)}},
               "1x50": {"nochange": {"ours": cell(2.5, 56), "cli": {"not_finished": 120}}},
               "3x20": {"nochange": {"ours": cell(3.2, 26), "cli": cell(0.9)}},
               "6x20": {"nochange": {"ours": cell(4.7, 26), "cli": cell(1.5)}}}
    fits = bench.scale_fits(results, ["ours", "cli"], 20)
    ours = fits["ours"]["nochange"]
    assert ours["ms_per_service"] == pytest.approx(10.0) and ours["base_s"] == pytest.approx(2.0)
    assert ours["s_per_host"] == pytest.approx(0.5)
    assert ours["engine_calls_per_service"] == pytest.approx(1.0) and ours["engine_calls_base"] == pytest.approx(6.0)
    # a point that did not finish is not fitted
    assert fits["cli"]["nochange"]["ms_per_service"] == pytest.approx(20.0)
    assert fits["cli"]["nochange"]["s_per_host"] == pytest.approx(0.2)


def test_scale_points_run_smallest_first_and_share_the_one_host_point():
    assert bench.scale_points([10, 50, 100, 200], [1, 3, 6], 20) == [
        (1, 10), (1, 20), (1, 50), (3, 20), (1, 100), (6, 20), (1, 200)]
