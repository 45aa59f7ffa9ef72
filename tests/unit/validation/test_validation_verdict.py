"""The deploy verdict: every check, its reason, and NaN never passing."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from support.validation import GOOD

from pk8opt.errors import ConfigError
from pk8opt.validation import Thresholds, judge


def test_all_checks_hold_passes() -> None:
    v = judge(GOOD, Thresholds())
    assert v.passed and v.tag() == "pass" and v.failures == []
    assert [c.name for c in v.checks] == [
        "oos_pnl_per_window",
        "oos_t",
        "dsr",
        "prob_oos_loss",
        "lockbox_pnl_per_window",
        "active_windows",
    ]
    assert [c.threshold for c in v.checks] == ["> 0", ">= 2", ">= 0.95", "<= 0.2", ">= 0", ">= 3"]
    assert all(c.passed and c.failure == "" for c in v.checks)


def test_pbo_is_a_check_only_when_its_threshold_is_set() -> None:
    # PBO is reported beside the verdict by default; a config that sets max_pbo checks it
    assert judge(dataclasses.replace(GOOD, pbo=0.9), Thresholds()).passed
    v = judge(GOOD, Thresholds(max_pbo=0.2, max_prob_oos_loss=None))
    assert [c.name for c in v.checks][3] == "pbo" and "prob_oos_loss" not in v.checks[3].name
    assert judge(dataclasses.replace(GOOD, pbo=0.55), Thresholds(max_pbo=0.2)).tag() == (
        "fail: pbo 0.55 > 0.2"
    )
    off = Thresholds(max_prob_oos_loss=None)
    assert judge(dataclasses.replace(GOOD, prob_oos_loss=0.9), off).passed
    assert all(c.passed and c.failure == "" for c in v.checks)


def test_thresholds_are_inclusive_where_the_rule_says_so() -> None:
    edge = dataclasses.replace(
        GOOD, oos_t=2.0, dsr=0.95, prob_oos_loss=0.2, lockbox_pnl_per_window=0.0, active_windows=3
    )
    assert judge(edge, Thresholds()).passed
    assert not judge(dataclasses.replace(GOOD, oos_pnl_per_window=0.0), Thresholds()).passed


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"prob_oos_loss": 0.55}, "prob_oos_loss 0.55 > 0.2"),
        ({"dsr": 0.41}, "dsr 0.41 < 0.95"),
        ({"oos_t": 1.234}, "oos_t 1.23 < 2"),
        ({"oos_pnl_per_window": -0.25}, "oos_pnl_per_window -0.25 <= 0"),
        ({"lockbox_pnl_per_window": -3.0}, "lockbox_pnl_per_window -3 < 0"),
        ({"lockbox_pnl_per_window": None}, "lockbox not run"),
        ({"active_windows": 2}, "active_windows 2 < 3"),
        ({"oos_pnl_per_window": -12345.678}, "oos_pnl_per_window -12346 <= 0"),
        ({"dsr": 0.000123}, "dsr 0.000123 < 0.95"),
    ],
)
def test_each_failing_check_names_its_reason(change: dict, reason: str) -> None:
    v = judge(dataclasses.replace(GOOD, **change), Thresholds())
    assert not v.passed
    assert v.tag() == f"fail: {reason}"
    assert len(v.failures) == 1


def test_several_failures_join_in_table_order() -> None:
    bad = dataclasses.replace(GOOD, prob_oos_loss=0.55, dsr=0.5, lockbox_pnl_per_window=None)
    assert judge(bad, Thresholds()).tag() == (
        "fail: dsr 0.5 < 0.95; prob_oos_loss 0.55 > 0.2; lockbox not run"
    )


def test_brief_names_each_failing_check_without_the_reasons() -> None:
    assert judge(GOOD, Thresholds()).brief() == "pass"
    bad = dataclasses.replace(GOOD, oos_t=math.nan, oos_pnl_per_window=math.nan, dsr=0.5)
    why = "walk-forward needs at least 5 windows for one fold"
    v = judge(bad, Thresholds(), {"oos_t": why, "oos_pnl_per_window": why})
    assert why in v.tag()
    assert v.brief() == "fail: oos_pnl_per_window n/a, oos_t n/a, dsr 0.5 < 0.95"


@pytest.mark.parametrize(
    "name", ["pbo", "prob_oos_loss", "dsr", "oos_pnl_per_window", "oos_t", "lockbox_pnl_per_window"]
)
def test_nan_figures_fail(name: str) -> None:
    v = judge(dataclasses.replace(GOOD, **{name: math.nan}), Thresholds(max_pbo=0.2))
    assert not v.passed
    (failed,) = v.failures
    assert failed.name == name and "nan" in failed.failure


def test_infinite_t_of_a_constant_profit_passes_but_minus_inf_fails() -> None:
    assert judge(dataclasses.replace(GOOD, oos_t=math.inf), Thresholds()).passed
    assert judge(dataclasses.replace(GOOD, oos_t=-math.inf), Thresholds()).tag() == (
        "fail: oos_t -inf < 2"
    )


def test_custom_thresholds() -> None:
    th = Thresholds(min_oos_t=3.5, min_dsr=0.5, max_pbo=0.6, min_lockbox_pnl_per_window=-1.0)
    v = judge(dataclasses.replace(GOOD, pbo=0.55, dsr=0.6, lockbox_pnl_per_window=-0.5), th)
    assert v.tag() == "fail: oos_t 3.1 < 3.5"


def test_thresholds_accept_numpy_numbers() -> None:
    th = Thresholds(min_oos_t=np.float64(2.5), min_active_windows=np.int64(4))
    assert not judge(dataclasses.replace(GOOD, oos_t=2.4), th).passed


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"max_pbo": 1.5}, "max_pbo is a probability"),
        ({"min_dsr": -0.1}, "min_dsr is a probability"),
        ({"min_oos_t": math.nan}, "min_oos_t must be a finite number"),
        ({"min_active_windows": -1}, "min_active_windows must be a whole number"),
        ({"min_active_windows": 2.5}, "min_active_windows must be a whole number"),
        ({"min_oos_t": "2"}, "min_oos_t must be a finite number"),
        ({"max_pbo": True}, "max_pbo must be a finite number"),
        ({"max_prob_oos_loss": 2.0}, "max_prob_oos_loss is a probability"),
        ({"min_dsr": None}, "min_dsr must be a finite number"),
    ],
)
def test_thresholds_reject_nonsense(kwargs: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Thresholds(**kwargs)
