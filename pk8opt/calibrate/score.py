"""How well an engine's open-loop replay predicts a run's orders, order by order.

Per order `i` (a run's order the venue took), with `y` the share of it the venue filled
(0..1) and `f` the share the engine filled:

    fill term   (y - f)^2
    time term   0                              neither filled
                1                              one of them filled, the other did not
                min(|d|, cap) / cap            both filled; d = the engine's time to its
                                               first fill + the response latency - the
                                               run's time to its first fill (each from
                                               the order's post)
    loss        fill term + w x time term      (w = the time weight, 0..1)

and a set of windows scores `sum(loss) / number of orders`: 0 is a perfect prediction,
lower is better.

Why this and not log-loss: the engine is deterministic, so its prediction is a point
forecast (the share it fills), not a probability; log-loss would need an invented
epsilon, and that epsilon would set the exchange rate between a missed fill and a time
error. The squared error of the filled share is the Brier score when orders fill all or
nothing (strictly proper: its expectation is lowest when the forecast is the true fill
probability) and, for partial fills, strictly consistent for the expected filled share.
The time term is a capped absolute error (consistent for the median delay up to the
cap); a miss costs it the most, 1, so with `w <= 1` a parameter set can never lower its
score by failing to fill an order to avoid a timing error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pk8opt.errors import ConfigError

EPS = 1e-9


@dataclass(frozen=True)
class ScoreRule:
    time_cap_s: float = 2.0
    time_weight: float = 1.0

    def check(self) -> None:
        if not self.time_cap_s > 0:
            raise ConfigError(f"--time-cap {self.time_cap_s}: must be positive")
        if not 0 <= self.time_weight <= 1:
            raise ConfigError(f"--time-weight {self.time_weight}: must be in [0, 1]")


def time_term(real_ttf_ns: int | None, paper_ttf_ns: int | None, rule: ScoreRule) -> float:
    if real_ttf_ns is None and paper_ttf_ns is None:
        return 0.0
    if real_ttf_ns is None or paper_ttf_ns is None:
        return 1.0
    cap = rule.time_cap_s
    return min(abs(paper_ttf_ns - real_ttf_ns) / 1e9, cap) / cap


def order_loss(
    real_fraction: float,
    paper_fraction: float,
    real_ttf_ns: int | None,
    paper_ttf_ns: int | None,
    rule: ScoreRule,
) -> tuple[float, float]:
    """(fill term, time term) of one order (the module's docstring)."""
    return (real_fraction - paper_fraction) ** 2, time_term(real_ttf_ns, paper_ttf_ns, rule)


@dataclass
class WindowScore:
    """One window's sums under one parameter set."""

    orders: int = 0
    fill_loss: float = 0.0
    time_loss: float = 0.0
    real_filled: int = 0  # orders with any fill
    paper_filled: int = 0
    both_filled: int = 0
    real_shares: float = 0.0
    paper_shares: float = 0.0
    real_pnl: float | None = 0.0  # None: a session of the window has no winner
    paper_pnl: float | None = 0.0
    abs_dt_s: list[float] = field(default_factory=list)  # |d| of the orders both filled

    def add(self, fill: float, time: float, real: float, paper: float) -> None:
        """One order: its two terms and the shares each side filled."""
        self.orders += 1
        self.fill_loss += fill
        self.time_loss += time
        self.real_filled += real > EPS
        self.paper_filled += paper > EPS
        self.both_filled += real > EPS and paper > EPS
        self.real_shares += real
        self.paper_shares += paper

    def loss(self, rule: ScoreRule) -> float:
        return self.fill_loss + rule.time_weight * self.time_loss


def score(parts: Iterable[WindowScore], rule: ScoreRule) -> float:
    """The mean loss per order over `parts` (nan with no order)."""
    n = 0
    total = 0.0
    for p in parts:
        n += p.orders
        total += p.loss(rule)
    return total / n if n else float("nan")


def totals(parts: Iterable[WindowScore]) -> WindowScore:
    """The sums over `parts` (P&L: None when any part has none)."""
    out = WindowScore()
    for p in parts:
        out.orders += p.orders
        out.fill_loss += p.fill_loss
        out.time_loss += p.time_loss
        out.real_filled += p.real_filled
        out.paper_filled += p.paper_filled
        out.both_filled += p.both_filled
        out.real_shares += p.real_shares
        out.paper_shares += p.paper_shares
        out.real_pnl = _plus(out.real_pnl, p.real_pnl)
        out.paper_pnl = _plus(out.paper_pnl, p.paper_pnl)
        out.abs_dt_s.extend(p.abs_dt_s)
    return out


def _plus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b
