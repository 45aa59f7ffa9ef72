"""A figure that cannot be computed says why: the reason reaches the verdict's failures,
its tag, the table under the verdict, validation.md and deploy's refusal."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from rich.console import Console
from support.validation import GOOD

from pk8opt.validation import (
    Thresholds,
    deflated_sharpe,
    judge,
    pbo_cscv,
    walk_forward,
    walk_forward_folds,
)
from pk8opt.validation.gate import GateCheck
from pk8opt.validation.reasons import DEFLATED_SHARPE, WALK_FORWARD, Reasons
from pk8opt.validation.report import check_table, reason_lines

SHORT = "walk-forward needs at least 5 windows for one fold"


def test_a_statistic_that_raises_gives_none_and_its_message_as_the_reason() -> None:
    why = Reasons()
    assert why.attempt(WALK_FORWARD, walk_forward_folds, 4, n_folds=4, embargo=1) is None
    assert set(why) == set(WALK_FORWARD)
    assert why["oos_t"].startswith(SHORT) and "the data has 4" in why["oos_t"]
    assert "validation.embargo_windows" in why["oos_t"]  # a config key the user can change
    assert why.attempt(("pbo",), pbo_cscv, np.zeros((1, 6))) is None
    assert why["pbo"] == "PBO needs at least 2 trials to choose from; the matrix has 1"
    # the first reason wins; a statistic that works leaves no reason
    why.note(("oos_t",), "later")
    assert why["oos_t"].startswith(SHORT)
    assert why.attempt(("dsr",), deflated_sharpe, np.array([1.0, 2.0, 0.5]), 5, 0.1).dsr > 0
    assert "dsr" not in why


def test_a_walk_forward_with_one_test_window_has_no_t_statistic_and_says_so() -> None:
    m = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    walk = walk_forward(m, walk_forward_folds(5, n_folds=4, embargo=1))
    assert len(walk.oos) == 2 and math.isfinite(walk.t)
    why = Reasons()
    why.explain_walk(walk)
    assert why == {}
    one = dataclasses.replace(walk, oos=walk.oos[:1], t=math.nan)
    why.explain_walk(one)
    assert list(why) == ["oos_t"]
    assert why["oos_t"].startswith("the t-statistic needs at least 2 out-of-sample windows")


def test_a_deflated_sharpe_without_spread_says_which_input_lacks_it() -> None:
    why = Reasons()
    flat = deflated_sharpe(np.array([1.0, 1.0, 1.0]), 10, 0.2)
    why.explain_dsr(flat)
    assert why["dsr"] == why["psr"]
    assert why["dsr"] == "the chosen trial's P&L is the same in every window (no Sharpe ratio)"
    why = Reasons()
    lone = deflated_sharpe(np.array([1.5]), 10)  # one window: no Sharpe ratio, no null variance
    assert math.isnan(lone.dsr) and math.isnan(lone.sr0)
    why.explain_dsr(lone)
    assert why["dsr"] == "the Sharpe ratio needs at least 2 in-sample windows; there are 1"
    assert set(DEFLATED_SHARPE) == {"dsr", "psr"}


def test_the_verdict_carries_each_reason_and_says_a_shared_one_once() -> None:
    bad = dataclasses.replace(GOOD, oos_pnl_per_window=math.nan, oos_t=math.nan, prob_oos_loss=0.55)
    why = {"oos_pnl_per_window": "too few windows", "oos_t": "too few windows"}
    v = judge(bad, Thresholds(), why)
    failing = {c.name: c for c in v.failures}
    assert failing["oos_t"].failure == "oos_t n/a: too few windows"
    assert failing["oos_t"].reason == "too few windows" and failing["prob_oos_loss"].reason == ""
    assert v.tag() == (
        "fail: oos_pnl_per_window, oos_t n/a: too few windows; prob_oos_loss 0.55 > 0.2"
    )
    assert reason_lines(v.checks) == ["oos_pnl_per_window, oos_t n/a: too few windows"]
    # a figure that was computed keeps its value even with a reason on file
    assert judge(GOOD, Thresholds(), {"oos_t": "x"}).passed
    # without a reason, nan still fails as before
    assert judge(bad, Thresholds()).tag().startswith("fail: oos_pnl_per_window nan")


@pytest.mark.parametrize(
    "checks",
    [
        judge(
            dataclasses.replace(GOOD, dsr=math.nan, psr=math.nan),
            Thresholds(),
            {"dsr": "no spread"},
        ).checks,
        [GateCheck("dsr", None, ">= 0.95", False, "no spread")],  # deploy's refusal
    ],
)
def test_the_table_shows_n_a_and_the_reason_under_it(checks: list) -> None:
    console = Console(record=True, width=100)
    console.print(check_table(checks, "validation"))
    text = console.export_text()
    dsr_line = next(line for line in text.splitlines() if line.strip().startswith("dsr"))
    assert "n/a" in dsr_line and "FAIL" in dsr_line
    assert "dsr n/a: no spread" in text
