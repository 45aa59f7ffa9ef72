"""Open-loop replay: one recorded window through the paper engine with a given order
timeline instead of a strategy.

A closed-loop replay (`replay.run_session`) lets a strategy decide on the engine's
answers. Here the decisions are fixed: each order is posted at the time a run posted it
and cancelled at the time it asked (the times of a live log's `real_order_submit` and
`real_order_cancel_req`, on the run's clock, which is the clock of the recording's frames).
Only the engine's parameters decide what happens to them: when each rests, where it
queues, what fills it and when. That is what `pk8opt calibrate` fits.

Rules of the drive (the engine's own rules, docs/engine.md, are untouched):

- frames are fed as `SessionStepper` feeds them, on the clock `PM_PAPER_FEED_CLOCK` names
  (each frame's venue timestamp, or its receive time);
- an order action at time `t` comes after every earlier frame (the run decided on
  those) and before every later one; a frame of the same time comes first on the local
  clock (the decision is on that frame), last on the venue clock (the decision was
  taken a feed latency after an earlier frame), as `SessionStepper` orders them; the
  engine's timers due by `t` run first;
- orders are never refused for cash: the engine starts with `OPEN_LOOP_CASH` (the money
  of the run is not what is being modelled), so a refusal is the venue's rules (size,
  tick, price bounds, a marketable order under $1);
- the feed latency plays no part: it sets when a trade loop decides, and here the
  decisions are given;
- once every action is done and no order is live, the rest of the window changes nothing
  and is not fed; the window settles as a replay settles it (at the later of the last
  update and the window's end), so P&L counts the settlement.

Deterministic: the same session, orders and parameters give the same outcomes (maker
flow draws from its seeded generator).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pk8opt.backtest.session_cache import ReplaySession
from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.feed import NEVER, FeedClock, frame_times
from pk8opt.engine.levels import NONE
from pk8opt.engine.market import WINNER_INDEX, MarketSpec
from pk8opt.engine.orders import Order
from pk8opt.engine.paper import PaperEngine
from pk8opt.recordings.schema import ASK, BID

OPEN_LOOP_CASH = 1e9  # more than any run spends; small enough for exact cents
_SUBMIT, _CANCEL = 0, 1


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """One order of the given timeline: a buy of `size` shares of `token` (0 Up, 1 Down)
    at `price_milli`, posted at `submit_ns`, cancelled at `cancel_ns` (None: never).
    Actions of the same time run in the order of `submit_seq`/`cancel_seq` (a log's line
    numbers: the order the run took them in), then of the orders' places in the list."""

    order_id: str
    token: int
    price_milli: int
    size: float
    submit_ns: int
    cancel_ns: int | None = None
    submit_seq: int = 0
    cancel_seq: int = 0


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What the engine made of one planned order."""

    order_id: str
    filled: float  # shares
    first_fill_ns: int | None  # engine time of its first fill
    liquidity: str  # "maker", "taker", "maker+taker", or "" (no fill)
    cost_usdc: float  # price x qty + taker fees, over its fills
    fees_usdc: float
    ahead_at_open: float | None  # shares queued ahead of it when it rested (None: never did)
    marketable: bool  # it met asks at or below its price when it reached the book
    rejected: str = ""  # the engine's reason ("min_size", ...), "" when accepted


@dataclass(frozen=True)
class OpenLoopResult:
    """One window's open-loop replay: each planned order's outcome, in the given order."""

    slug: str
    winner: str | None  # Up, Down, or None (the recording has no resolution)
    outcomes: tuple[OrderOutcome, ...]
    cost_usdc: float  # what the fills cost (price x qty + fees)
    fees_usdc: float
    pnl_usdc: float | None  # settlement payout - cost; None without a winner
    late: int  # actions after the window settled, not replayed


class _Tap(EventLog):
    """The engine's event log, read as it is written: each order's fills and how it met
    the book when it opened; passed on to `out` when one is given."""

    def __init__(self, out: EventLog | None) -> None:
        super().__init__(out.fh if out is not None else io.StringIO())
        self.out = out
        self.engine: PaperEngine | None = None
        # engine order id -> [(t_ns, qty, price_usdc, fee, maker)]
        self.fills: dict[int, list[tuple[int, float, float, float, bool]]] = {}
        self.opened: dict[int, tuple[float, bool]] = {}  # engine id -> (ahead, marketable)

    def write(self, event: str, t_ns: int, slug: str, **fields: Any) -> None:
        if event == "paper_fill":
            fill = (t_ns, fields["qty"], fields["price"], fields["fee"])
            maker = fields["liquidity"] == "maker"
            self.fills.setdefault(fields["order_id"], []).append((*fill, maker))
        elif event == "paper_order_open" and self.engine is not None:
            o = self.engine.orders[fields["order_id"]]
            view = self.engine.view
            ask = view.best(o.token, ASK)
            # what the engine sets `o.ahead` to once it rests (a take leaves bids alone)
            self.opened[o.id] = (view.size(o.token, BID, o.price), ask != NONE and ask <= o.price)
        if self.out is not None:
            self.out.write(event, t_ns, slug, **fields)


def engine_params(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`ENGINE_PARAMS` defaults updated by `overrides` (names), with the open loop's cash."""
    params = ENGINE_PARAMS.resolve(overrides, "engine")
    params["starting_cash_usdc"] = OPEN_LOOP_CASH
    return params


def replay_orders(
    session: ReplaySession,
    orders: Sequence[PlannedOrder],
    params: Mapping[str, Any],
    *,
    log: EventLog | None = None,
) -> OpenLoopResult:
    """Replay `session` with `orders` posted and cancelled as given, under the engine
    parameters `params` (names of `ENGINE_PARAMS`; missing ones take their defaults).
    `log` gets the engine's events (`paper_*`), as a backtest's event log."""
    resolved = engine_params(params)
    spec = MarketSpec.from_manifest(session.manifest)
    tap = _Tap(log)
    engine = PaperEngine(spec, resolved, log=tap)
    tap.engine = engine
    placed: dict[int, Order] = {}
    actions = _actions(orders)
    clock = FeedClock.from_params(resolved)
    close_ns, done = _drive(session, engine, clock, (orders, actions), placed)
    late = len(actions) - done
    outcome = session.manifest.resolution.outcome
    winner = outcome if outcome in WINNER_INDEX else None
    engine.close(close_ns, WINNER_INDEX[winner] if winner is not None else None)
    outcomes = tuple(_outcome(p, placed.get(i), tap) for i, p in enumerate(orders))
    acct = engine.account
    cost = sum(o.cost_usdc for o in outcomes)
    return OpenLoopResult(
        slug=spec.slug,
        winner=winner,
        outcomes=outcomes,
        cost_usdc=cost,
        fees_usdc=acct.fees,
        pnl_usdc=acct.cash - acct.starting_cash if winner is not None else None,
        late=late,
    )


def _actions(orders: Sequence[PlannedOrder]) -> list[tuple[int, int, int, int, int]]:
    """(time, given sequence, own sequence, kind, order index), in that order; an order's
    submit before its cancel."""
    out = []
    for i, p in enumerate(orders):
        out.append((p.submit_ns, p.submit_seq, 2 * i, _SUBMIT, i))
        if p.cancel_ns is not None:
            t = max(p.cancel_ns, p.submit_ns)
            out.append((t, max(p.cancel_seq, p.submit_seq), 2 * i + 1, _CANCEL, i))
    out.sort()
    return out


def _frames(session: ReplaySession) -> tuple[list[int], list[int], list[int]]:
    """Each frame's first row, last row's receive time and latest venue stamp."""
    ev = session.events
    frame = np.asarray(ev["frame"])
    n = len(frame)
    if n == 0:
        return [0], [], []
    starts = np.concatenate(([0], np.flatnonzero(np.diff(frame)) + 1))
    local = np.asarray(ev["local_ns"])[np.concatenate((starts[1:], [n])) - 1]
    exch = np.maximum.reduceat(np.asarray(ev["exch_ms"]), starts)
    return [*starts.tolist(), n], local.tolist(), exch.tolist()


def _drive(
    session: ReplaySession,
    engine: PaperEngine,
    clock: FeedClock,
    plan: tuple[Sequence[PlannedOrder], list[tuple[int, int, int, int, int]]],
    placed: dict[int, Order],
) -> tuple[int, int]:
    """Feed the frames with the actions between them (`plan`: the orders and their
    actions); returns (settlement time, actions done)."""
    orders, actions = plan
    bounds, local, exch = _frames(session)
    times = frame_times(clock, local, exch)
    ev = session.events
    kinds, tokens, sides, prices, sizes = (
        ev[k].tolist() for k in ("kind", "token", "side", "price", "size")
    )
    on_rows, end_frame = engine.on_rows, engine.end_frame
    n_act = len(actions)
    a = 0
    venue = clock.venue  # as `SessionStepper`: a decision due at a frame's time goes first
    for k, t in enumerate(times):
        while a < n_act and (actions[a][0] < t or (venue and actions[a][0] == t)):
            _act(engine, orders, actions[a], placed)
            a += 1
        if a == n_act and _idle(engine):
            break  # nothing live, nothing to come: the rest of the window changes nothing
        on_rows(t, kinds, tokens, sides, prices, sizes, bounds[k], bounds[k + 1])
        end_frame(t)
    last = times[-1] if times else 0
    close_ns = max(last, engine.market.window_end_ns)
    while a < n_act and actions[a][0] <= close_ns:
        _act(engine, orders, actions[a], placed)
        a += 1
    return close_ns, a


def _act(
    engine: PaperEngine,
    orders: Sequence[PlannedOrder],
    action: tuple[int, int, int, int, int],
    placed: dict[int, Order],
) -> None:
    t, _, _, kind, i = action
    engine.advance_to(t)
    if kind == _SUBMIT:
        p = orders[i]
        placed[i] = engine.submit(t, p.token, p.price_milli, p.size, p.order_id)
    elif i in placed:
        engine.cancel(t, placed[i])


def _idle(engine: PaperEngine) -> bool:
    """No order can fill any more: none rests, no timer is pending."""
    return not engine.resting[0] and not engine.resting[1] and engine.next_timer_ns() >= NEVER


def _outcome(plan: PlannedOrder, order: Order | None, tap: _Tap) -> OrderOutcome:
    if order is None:  # its submit came after the window settled
        return OrderOutcome(plan.order_id, 0.0, None, "", 0.0, 0.0, None, False, "late")
    fills = tap.fills.get(order.id, [])
    makers = {maker for *_, maker in fills}
    liquidity = "+".join(n for n, m in (("maker", True), ("taker", False)) if m in makers)
    opened = tap.opened.get(order.id)
    return OrderOutcome(
        order_id=plan.order_id,
        filled=sum(f[1] for f in fills),
        first_fill_ns=fills[0][0] if fills else None,
        liquidity=liquidity,
        cost_usdc=sum(qty * px + fee for _, qty, px, fee, _ in fills),
        fees_usdc=sum(f[3] for f in fills),
        ahead_at_open=opened[0] if opened is not None else None,
        marketable=opened[1] if opened is not None else False,
        rejected=order.reason,
    )
