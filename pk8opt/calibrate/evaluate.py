"""One parameter set's open-loop replay of a run's windows, set order by order against
what the venue did (`score.py` says how it is scored).

A window is the sessions of every symbol that start at the same time (the sweep's unit
of evidence, never split between the fit and the held-out windows). Results are kept
per (parameter set, window): the fit, its profile and the bootstrap ask for the same
ones again and again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pk8opt.backtest.openloop import OpenLoopResult, OrderOutcome, replay_orders
from pk8opt.backtest.session_cache import ReplaySession
from pk8opt.calibrate.reallog import RealOrder, RealWindow
from pk8opt.calibrate.score import ScoreRule, WindowScore, order_loss, score
from pk8opt.calibrate.space import to_engine

EPS = 1e-9


@dataclass
class Window:
    """One window of the run: each session with the run's orders in it."""

    start_s: int
    sessions: list[tuple[ReplaySession, RealWindow]]

    @property
    def n_orders(self) -> int:
        return sum(len(w.orders) for _, w in self.sessions)


@dataclass(frozen=True)
class OrderRow:
    """One order, the venue's outcome beside the engine's (the report's CSV and plots)."""

    window_start_s: int
    slug: str
    order_id: str
    outcome: str  # Up or Down
    price: float
    size: float
    real_fraction: float
    paper_fraction: float
    real_ttf_s: float | None  # post to first fill
    paper_ttf_s: float | None  # post to first fill, heard (+ the response latency)
    ahead: float | None  # the engine's queue ahead when it rested
    marketable: bool
    real_liquidity: str
    paper_liquidity: str
    rejected: str


@dataclass
class Problem:
    """What every evaluation needs: the windows in time order, the engine parameters
    that are not fitted, and the score's rule."""

    windows: list[Window]
    base: dict[str, Any]
    rule: ScoreRule


@dataclass
class Evaluation:
    """One parameter set on some windows: a `WindowScore` for each (by window index)."""

    values: dict[str, Any]
    parts: dict[int, WindowScore]
    rows: list[OrderRow] = field(default_factory=list)

    def score(self, rule: ScoreRule) -> float:
        return score(self.parts.values(), rule)


def values_key(values: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(values.items()))


class Evaluator:
    """Scores parameter sets on the problem's windows, each (set, window) once."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.replays = 0  # sessions replayed (not taken from the memo)
        self._memo: dict[tuple[Any, int], tuple[WindowScore, list[OrderRow]]] = {}

    def evaluate(self, values: Mapping[str, Any], windows: Sequence[int]) -> Evaluation:
        """`values` (searched names) on the windows of index `windows`."""
        out = Evaluation(dict(values), {})
        for i in windows:
            part, rows = self.window(values, i)
            out.parts[i] = part
            out.rows.extend(rows)
        return out

    def window(self, values: Mapping[str, Any], i: int) -> tuple[WindowScore, list[OrderRow]]:
        key = (values_key(values), i)
        got = self._memo.get(key)
        if got is None:
            got = self._memo[key] = self._window(values, i)
        return got

    def _window(self, values: Mapping[str, Any], i: int) -> tuple[WindowScore, list[OrderRow]]:
        prob = self.problem
        params = {**prob.base, **to_engine(values)}
        response_ns = round(float(params["response_latency_ms"]) * 1e6)
        win = prob.windows[i]
        part = WindowScore()
        rows: list[OrderRow] = []
        for session, real in win.sessions:
            plans = [o.plan for o in real.orders]
            res = replay_orders(session, plans, params)
            self.replays += 1
            for o, got in zip(real.orders, res.outcomes, strict=True):
                rows.append(_compare(win.start_s, real.slug, o, got, response_ns, part, prob.rule))
            _add_pnl(part, res, real)
        return part, rows


def _compare(
    start_s: int,
    slug: str,
    real: RealOrder,
    paper: OrderOutcome,
    response_ns: int,
    part: WindowScore,
    rule: ScoreRule,
) -> OrderRow:
    """One order into `part`, and its row."""
    plan = real.plan
    paper_frac = min(1.0, paper.filled / plan.size) if plan.size > 0 else 0.0
    real_ttf = real.first_fill_ns - plan.submit_ns if real.first_fill_ns is not None else None
    paper_ttf = (
        paper.first_fill_ns + response_ns - plan.submit_ns
        if paper.first_fill_ns is not None
        else None
    )
    fill, time = order_loss(real.fraction, paper_frac, real_ttf, paper_ttf, rule)
    part.add(fill, time, real.filled, paper.filled)
    if real_ttf is not None and paper_ttf is not None:
        part.abs_dt_s.append(abs(paper_ttf - real_ttf) / 1e9)
    return OrderRow(
        window_start_s=start_s,
        slug=slug,
        order_id=plan.order_id,
        outcome=("Up", "Down")[plan.token],
        price=plan.price_milli / 1000.0,
        size=plan.size,
        real_fraction=real.fraction,
        paper_fraction=paper_frac,
        real_ttf_s=real_ttf / 1e9 if real_ttf is not None else None,
        paper_ttf_s=paper_ttf / 1e9 if paper_ttf is not None else None,
        ahead=paper.ahead_at_open,
        marketable=paper.marketable,
        real_liquidity=real.liquidity,
        paper_liquidity=paper.liquidity,
        rejected=paper.rejected,
    )


def _add_pnl(part: WindowScore, res: OpenLoopResult, real: RealWindow) -> None:
    """Each side's P&L of one session: the winning shares' payout less the cost. The
    recording's resolution, else the log's; none known: the window has no P&L."""
    winner = res.winner or real.winner
    if winner is None:
        part.real_pnl = part.paper_pnl = None
        return
    token = 0 if winner == "Up" else 1
    payout = sum(o.filled for o in real.orders if o.plan.token == token)
    if part.real_pnl is not None:
        part.real_pnl += payout - sum(o.cost_usdc for o in real.orders)
    if part.paper_pnl is not None:
        paper = res.pnl_usdc
        if paper is None:  # the recording lacks the winner the log has
            won = [
                g.filled
                for o, g in zip(real.orders, res.outcomes, strict=True)
                if o.plan.token == token
            ]
            paper = sum(won) - res.cost_usdc
        part.paper_pnl += paper
