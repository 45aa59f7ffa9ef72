"""The deploy verdict: the validation figures against the thresholds, check by check.

A configuration passes only when every check holds; a NaN figure (a statistic that could
not be computed) fails its check, so missing evidence is never read as evidence.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

from pk8opt.errors import ConfigError

OPTIONAL = ("max_pbo", "max_prob_oos_loss")  # thresholds that may be off (None)


@dataclass(frozen=True)
class Thresholds:
    """What a configuration must show before `deploy` ships it (defaults: the issue's bar)."""

    min_oos_t: float = 2.0
    min_dsr: float = 0.95
    max_pbo: float | None = None  # None: PBO is reported, not a check
    min_lockbox_pnl_per_window: float = 0.0
    min_active_windows: int = 3
    max_prob_oos_loss: float | None = 0.2  # None: reported, not a check

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None and f.name in OPTIONAL:
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ConfigError(
                    f"validation threshold {f.name} must be a finite number; got {v!r}"
                )
        for name in ("min_dsr", "max_pbo", "max_prob_oos_loss"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= v <= 1.0:
                raise ConfigError(f"validation threshold {name} is a probability (0..1); got {v}")
        if self.min_active_windows < 0 or int(self.min_active_windows) != self.min_active_windows:
            raise ConfigError(
                "validation threshold min_active_windows must be a whole number >= 0; "
                f"got {self.min_active_windows}"
            )


@dataclass(frozen=True)
class Figures:
    """The validation figures of the chosen configuration (names as logged to MLflow)."""

    pbo: float
    prob_oos_loss: float
    dsr: float
    psr: float
    n_trials: int
    oos_pnl_per_window: float
    oos_t: float
    lockbox_pnl_per_window: float | None
    active_windows: int


@dataclass(frozen=True)
class Check:
    """One line of the verdict table. `failure` is the short reason when it did not pass."""

    name: str
    value: float | None
    threshold: str
    passed: bool
    failure: str = ""
    reason: str = ""  # why the value is n/a (could not be computed), when it is


@dataclass(frozen=True)
class Verdict:
    passed: bool
    checks: list[Check]

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def tag(self) -> str:
        """'pass', or 'fail: <reason>; <reason>' with one short reason per failing check."""
        if self.passed:
            return "pass"
        parts: list[str] = []
        names: list[str] = []
        for i, c in enumerate(self.failures):
            if i and c.reason and c.reason == self.failures[i - 1].reason:
                names.append(c.name)  # n/a for the same reason as the one before: said once
                parts[-1] = f"{', '.join(names)} n/a: {c.reason}"
            else:
                names = [c.name]
                parts.append(c.failure)
        return "fail: " + "; ".join(parts)

    def brief(self) -> str:
        """'pass', or 'fail: ' and each failing check in a few words (`dsr 0.122 < 0.95`,
        `oos_t n/a`), without the reasons `tag` gives: a line to read at a glance."""
        if self.passed:
            return "pass"
        return "fail: " + ", ".join(
            f"{c.name} n/a" if c.reason else c.failure for c in self.failures
        )


def _fmt(v: float) -> str:
    """Three significant digits, without exponents for large USDC amounts."""
    if not math.isfinite(v):
        return str(v)
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"


# (holds, operator shown in the table, operator shown when it fails)
_OPS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    ">": (lambda v, t: v > t, "<="),
    ">=": (lambda v, t: v >= t, "<"),
    "<=": (lambda v, t: v <= t, ">"),
}


def _check(
    name: str, value: float | None, op: str, threshold: float, reasons: Mapping[str, str]
) -> Check:
    holds, negated = _OPS[op]
    shown = f"{op} {threshold:g}"
    reason = reasons.get(name, "")
    if value is None or math.isnan(v := float(value)):
        if reason:
            return Check(name, value, shown, False, f"{name} n/a: {reason}", reason)
        what = "missing" if value is None else "nan (could not be computed)"
        return Check(name, value, shown, False, f"{name} {what}")
    if holds(v, threshold):
        return Check(name, v, shown, True)
    return Check(name, v, shown, False, f"{name} {_fmt(v)} {negated} {threshold:g}")


def judge(fig: Figures, th: Thresholds, reasons: Mapping[str, str] | None = None) -> Verdict:
    """Every check of the deploy gate, in the order the table shows them.

    oos_pnl_per_window > 0 and oos_t >= min_oos_t (walk-forward), dsr >= min_dsr,
    prob_oos_loss <= max_prob_oos_loss and pbo <= max_pbo (each only when its threshold is
    set), lockbox_pnl_per_window >= min_lockbox_pnl_per_window (None: the lockbox was not
    run, which fails as 'lockbox not run'), active_windows >= min_active_windows.
    `reasons` (figure name -> why it could not be computed) go into the failures of the
    checks whose figure is n/a.
    """
    why = reasons or {}
    checks = [
        _check("oos_pnl_per_window", fig.oos_pnl_per_window, ">", 0.0, why),
        _check("oos_t", fig.oos_t, ">=", th.min_oos_t, why),
        _check("dsr", fig.dsr, ">=", th.min_dsr, why),
    ]
    if th.max_prob_oos_loss is not None:
        checks.append(_check("prob_oos_loss", fig.prob_oos_loss, "<=", th.max_prob_oos_loss, why))
    if th.max_pbo is not None:
        checks.append(_check("pbo", fig.pbo, "<=", th.max_pbo, why))
    lockbox = _check(
        "lockbox_pnl_per_window",
        fig.lockbox_pnl_per_window,
        ">=",
        th.min_lockbox_pnl_per_window,
        why,
    )
    if fig.lockbox_pnl_per_window is None:
        lockbox = Check(lockbox.name, None, lockbox.threshold, False, "lockbox not run")
    checks.append(lockbox)
    checks.append(_check("active_windows", fig.active_windows, ">=", th.min_active_windows, why))
    return Verdict(passed=all(c.passed for c in checks), checks=checks)
