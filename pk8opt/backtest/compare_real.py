"""`pk8opt compare` of a real (or dry) run: its venue's fills against a paper replay.

A window a real run traded has `real_*` events in the live log instead of the paper
engine's. Its recording is replayed on paper, and the two lists of fills are set side
by side. The paper side is one of two replays:

- closed loop (the default): the strategy runs again with the settings the run logged,
  the same replay as for a paper run: it decides on the paper engine's answers, so it
  may post orders the run never sent. It answers "what would the strategy have done on
  paper";
- open loop (`orders` given: the run's own orders, read from its log): each order is
  posted when the run sent it and cancelled when it asked (`openloop.replay_orders`),
  under the run's `PM_PAPER_*` settings. It answers "what would the paper engine have
  filled of the very orders the venue saw", the question `pk8opt calibrate` fits the
  engine's parameters on. A paper fill's time is then the engine's fill time plus the
  response latency: when the run would have heard of it, as a real fill's time is when
  the run heard of it (the same times `pk8opt calibrate` sets side by side).

Matching (`match_fills`): a real fill and a paper fill are the same fill when they buy
the same token at the same price (on the 1/1000 grid) and the paper fill's time is
within `window_ns` of the real fill's (both the log's `ts_ns`, the run's clock; the
bound is inclusive). Real fills are taken in time order; each takes the earliest paper
fill not yet taken that qualifies. Each fill is used at most once, so a real order
filled in three trades against one paper fill gives one match and two real-only fills.
Quantities may differ: a match reports real qty - paper qty.

A trade the venue marked FAILED (`real_trade_failed`) was taken back: its fill is left
out of the matching and of every figure, and listed apart.

Figures of each side: fills, shares of each token, cost (price x qty + fees; the paper
engine's maker rebate estimates are not money received and are left out), and, when
the window's winner is known, payout (1 a winning share) and P&L = payout - cost.
Without a resolution only cost and positions are compared.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pk8opt.backtest.compare import LiveWindow, replay_events
from pk8opt.backtest.openloop import OpenLoopResult, PlannedOrder, engine_params, replay_orders
from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.engine.eventlog import EventLog
from pk8opt.errors import ConfigError
from pk8opt.trading.run_config import RunConfig

if TYPE_CHECKING:
    from pk8opt.backtest.session_cache import ReplaySession

MATCH_WINDOW_S = 5.0
OUTCOMES = ("Up", "Down")
MATCH_RULE = (
    "same token and price, paper fill within the window of the real fill's time; "
    "real fills in time order, each taking the earliest unused paper fill"
)
# the paper side of the comparison (`RealReport.paper_side`), and what each answers
PAPER_SIDES = {
    "closed": "closed loop: the strategy decides again on the paper engine's answers "
    "(what would the strategy have done on paper)",
    "open": "open loop: the run's own orders, each posted when the run sent it and "
    "cancelled when it asked (what would the paper engine have filled of the orders "
    "the venue saw)",
}
OPEN_LOOP_FILL_TIME = (
    "a paper fill's time is the engine's fill time plus the response latency (when the "
    "run would have heard of it), as a real fill's is when the run heard of it"
)
# where the paper side's settings came from
SETTINGS = {
    "run": "the settings the run logged",
    "given": "the settings given (--env-file)",
    "defaults": "the engine's defaults (the log names no settings)",
}


@dataclass(frozen=True)
class Fill:
    """One fill of either side, from its log line."""

    ts_ns: int
    outcome: str  # Up or Down
    price_milli: int
    qty: float
    fee: float = 0.0
    side: str = "BUY"
    liquidity: str = ""  # maker, taker, or "" when the line does not say
    order_id: Any = None
    trade_id: str | None = None
    venue_order_id: str | None = None
    why: str = ""

    @property
    def price(self) -> float:
        return self.price_milli / 1000.0

    @property
    def cost(self) -> float:
        return self.qty * self.price + self.fee

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": utc_time(self.ts_ns),
            "ts_ns": self.ts_ns,
            "outcome": self.outcome,
            "side": self.side,
            "price": self.price,
            "qty": self.qty,
            "fee": self.fee,
            "liquidity": self.liquidity or None,
            "order_id": self.order_id,
        }
        if self.trade_id is not None or self.venue_order_id is not None:
            out["trade_id"] = self.trade_id
            out["venue_order_id"] = self.venue_order_id
        if self.why:
            out["why"] = self.why
        return out


def fill_from_event(ev: Mapping[str, Any]) -> Fill:
    """A `real_fill` or `paper_fill` line: `qty` or `size`, `liquidity` or `maker`."""
    qty = ev.get("qty", ev.get("size", 0.0))
    if "liquidity" in ev:
        liquidity = str(ev["liquidity"] or "")
    elif "maker" in ev:
        liquidity = "maker" if ev["maker"] else "taker"
    else:
        liquidity = ""
    return Fill(
        ts_ns=int(ev.get("ts_ns", 0)),
        outcome=str(ev.get("outcome", "")),
        price_milli=round(float(ev.get("price", 0.0)) * 1000),
        qty=float(qty or 0.0),
        fee=float(ev.get("fee") or 0.0),
        side=str(ev.get("side") or "BUY"),
        liquidity=liquidity,
        order_id=ev.get("order_id"),
        trade_id=_text(ev.get("trade_id")),
        venue_order_id=_text(ev.get("venue_order_id")),
        why=str(ev.get("why") or ""),
    )


def real_fills(events: Iterable[Mapping[str, Any]]) -> tuple[list[Fill], list[Fill]]:
    """The fills that count and those taken back by a `real_trade_failed`, in log order.

    A failure names its trade (`trade_id`) and, to tell the legs of one trade apart, the
    order (`venue_order_id`, else `order_id`); it takes back the fill logged before it
    with those ids (a failure of a trade never counted takes back nothing)."""
    counted: list[Fill] = []
    failed: list[Fill] = []
    for ev in events:
        name = ev.get("event")
        if name == "real_fill":
            counted.append(fill_from_event(ev))
        elif name == "real_trade_failed":
            i = _failed_index(counted, ev)
            if i is not None:
                failed.append(counted.pop(i))
    return counted, failed


def _failed_index(fills: list[Fill], ev: Mapping[str, Any]) -> int | None:
    trade = _text(ev.get("trade_id"))
    vid = _text(ev.get("venue_order_id"))
    oid = ev.get("order_id")
    for i, f in enumerate(fills):
        if trade is None or f.trade_id != trade:
            continue
        if vid is not None and f.venue_order_id is not None:
            if f.venue_order_id == vid:
                return i
        elif oid is None or f.order_id is None or f.order_id == oid:
            return i
    return None


@dataclass
class Matching:
    matched: list[tuple[Fill, Fill]] = field(default_factory=list)  # (real, paper)
    real_only: list[Fill] = field(default_factory=list)
    paper_only: list[Fill] = field(default_factory=list)


def match_fills(real: list[Fill], paper: list[Fill], window_ns: int) -> Matching:
    """Pair real and paper fills by the rule in the module's docstring."""
    out = Matching()
    paper_sorted = sorted(paper, key=lambda f: f.ts_ns)  # stable: log order within a time
    used = [False] * len(paper_sorted)
    for r in sorted(real, key=lambda f: f.ts_ns):
        hit = None
        for j, p in enumerate(paper_sorted):
            if p.ts_ns > r.ts_ns + window_ns:
                break
            if used[j] or p.ts_ns < r.ts_ns - window_ns:
                continue
            if (p.outcome, p.side, p.price_milli) == (r.outcome, r.side, r.price_milli):
                hit = j
                break
        if hit is None:
            out.real_only.append(r)
        else:
            used[hit] = True
            out.matched.append((r, paper_sorted[hit]))
    out.paper_only = [p for j, p in enumerate(paper_sorted) if not used[j]]
    return out


@dataclass(frozen=True)
class Figures:
    """One side of a window: what it bought, what it cost, what it paid at resolution."""

    fills: int
    up_qty: float
    down_qty: float
    cost: float  # price x qty + fees
    fees: float
    payout: float | None  # None: no resolution
    pnl: float | None

    @property
    def qty(self) -> float:
        return self.up_qty + self.down_qty

    def to_dict(self) -> dict[str, Any]:
        return {
            "fills": self.fills,
            "qty": _money(self.qty),
            "up_qty": _money(self.up_qty),
            "down_qty": _money(self.down_qty),
            "cost": _money(self.cost),
            "fees": _money(self.fees),
            "payout": _money(self.payout),
            "pnl": _money(self.pnl),
        }

    def minus(self, other: Figures) -> Figures:
        return Figures(
            self.fills - other.fills,
            self.up_qty - other.up_qty,
            self.down_qty - other.down_qty,
            self.cost - other.cost,
            self.fees - other.fees,
            _sub(self.payout, other.payout),
            _sub(self.pnl, other.pnl),
        )


def figures(fills: Iterable[Fill], winner: str | None) -> Figures:
    """A side's figures; `winner` Up or Down gives payout and P&L, else None."""
    fills = list(fills)
    up = sum(f.qty for f in fills if f.outcome == "Up")
    down = sum(f.qty for f in fills if f.outcome == "Down")
    cost = sum(f.cost for f in fills)
    fees = sum(f.fee for f in fills)
    payout = {"Up": up, "Down": down}.get(winner or "")
    pnl = None if payout is None else payout - cost
    return Figures(len(fills), up, down, cost, fees, payout, pnl)


def total_figures(parts: Iterable[Figures]) -> Figures:
    """The sum over windows; payout and P&L over the windows that have them."""
    parts = list(parts)
    paid = [f for f in parts if f.pnl is not None]
    return Figures(
        sum(f.fills for f in parts),
        sum(f.up_qty for f in parts),
        sum(f.down_qty for f in parts),
        sum(f.cost for f in parts),
        sum(f.fees for f in parts),
        sum(f.payout or 0.0 for f in paid) if paid else None,
        sum(f.pnl or 0.0 for f in paid) if paid else None,
    )


@dataclass
class RealWindow:
    """One window of a real run against its paper replay."""

    slug: str
    winner: str | None  # Up, Down, or None: no resolution
    mode: str  # "real", or "dry run" (orders signed, none sent)
    matching: Matching
    failed: list[Fill]
    real: Figures
    paper: Figures
    orders: dict[str, dict[str, int]]  # side -> submitted, rejected

    @property
    def diff(self) -> Figures:
        return self.real.minus(self.paper)

    def to_dict(self) -> dict[str, Any]:
        m = self.matching
        return {
            "slug": self.slug,
            "mode": self.mode,
            "resolved": self.winner is not None,
            "winner": self.winner,
            "matched": [
                {
                    "outcome": r.outcome,
                    "price": r.price,
                    "qty_diff": _money(r.qty - p.qty),
                    "dt_s": (p.ts_ns - r.ts_ns) / 1e9,
                    "real": r.to_dict(),
                    "paper": p.to_dict(),
                }
                for r, p in m.matched
            ],
            "real_only": [f.to_dict() for f in m.real_only],
            "paper_only": [f.to_dict() for f in m.paper_only],
            "failed": [f.to_dict() for f in self.failed],
            "orders": self.orders,
            "real": self.real.to_dict(),
            "paper": self.paper.to_dict(),
            "diff": self.diff.to_dict(),
        }


@dataclass
class RealReport:
    """Every window of a real run against its paper side (`paper_side`: "closed" or
    "open" loop, `PAPER_SIDES`), and where the paper side's settings came from
    (`settings`: keys of `SETTINGS`, in the order of the windows)."""

    match_window_s: float
    windows: list[RealWindow]
    paper_side: str = "closed"
    settings: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, Figures]:
        """Sums over the windows (payout and P&L over the resolved ones, alike on both
        sides: a window's winner is the same for both)."""
        real = total_figures(w.real for w in self.windows)
        paper = total_figures(w.paper for w in self.windows)
        return {"real": real, "paper": paper, "diff": real.minus(paper)}

    def paper_side_dict(self) -> dict[str, Any]:
        """Which replay the paper side is, what it answers, and its settings' source."""
        out: dict[str, Any] = {"loop": self.paper_side, "what": PAPER_SIDES[self.paper_side]}
        if self.paper_side == "open":
            out["fill_time"] = OPEN_LOOP_FILL_TIME
        out["settings"] = [SETTINGS[k] for k in self.settings]
        return out

    def to_dict(self) -> dict[str, Any]:
        totals = self.totals()
        return {
            "match": {"window_s": self.match_window_s, "rule": MATCH_RULE},
            "paper_side": self.paper_side_dict(),
            "windows": [w.to_dict() for w in self.windows],
            "total": {
                "windows": len(self.windows),
                "resolved_windows": sum(1 for w in self.windows if w.winner is not None),
                "matched": sum(len(w.matching.matched) for w in self.windows),
                "real_only": sum(len(w.matching.real_only) for w in self.windows),
                "paper_only": sum(len(w.matching.paper_only) for w in self.windows),
                "failed": sum(len(w.failed) for w in self.windows),
                **{k: v.to_dict() for k, v in totals.items()},
            },
        }


def compare_window(
    slug: str,
    real_events: list[dict[str, Any]],
    paper_events: list[dict[str, Any]],
    winner: str | None,
    window_ns: int,
) -> RealWindow:
    """One window's fills and figures, from its real log lines and its replay's."""
    paper = [fill_from_event(e) for e in paper_events if e.get("event") == "paper_fill"]
    return compare_fills(
        slug, real_events, paper, _order_counts(paper_events, "paper"), winner, window_ns
    )


def compare_fills(
    slug: str,
    real_events: list[dict[str, Any]],
    paper: list[Fill],
    paper_orders: dict[str, int],
    winner: str | None,
    window_ns: int,
) -> RealWindow:
    """One window's fills and figures, from its real log lines and the paper side's
    fills and order counts (`submitted`, `rejected`)."""
    counted, failed = real_fills(real_events)
    dry = any(e.get("event") == "real_order_dry_run" for e in real_events)
    return RealWindow(
        slug,
        winner,
        "dry run" if dry else "real",
        match_fills(counted, paper, window_ns),
        failed,
        figures(counted, winner),
        figures(paper, winner),
        {"real": _order_counts(real_events, "real"), "paper": dict(paper_orders)},
    )


def _order_counts(events: list[dict[str, Any]], side: str) -> dict[str, int]:
    return {
        "submitted": sum(1 for e in events if e.get("event") == f"{side}_order_submit"),
        "rejected": sum(1 for e in events if e.get("event") == f"{side}_order_rejected"),
    }


def window_winner(session: ReplaySession, win: LiveWindow) -> str | None:
    """The recording's resolution, else the one the run logged (`market_resolved`, or
    its venue's `real_settlement`)."""
    outcome = session.manifest.resolution.outcome
    if outcome in OUTCOMES:
        return str(outcome)
    if win.winner in OUTCOMES:
        return win.winner
    for e in win.real_events:
        if e.get("event") == "real_settlement" and e.get("winner") in OUTCOMES:
            return str(e["winner"])
    return None


def compare_real(
    sessions: Iterable[ReplaySession],
    windows: Mapping[str, LiveWindow],
    env_override: Any = None,
    match_window_s: float = MATCH_WINDOW_S,
    orders: Mapping[str, Sequence[PlannedOrder]] | None = None,
) -> RealReport:
    """Each recorded window of a real run, replayed on paper, fill by fill against what
    the venue filled. Without `orders`: closed loop, the strategy replayed with its
    run's settings (or `env_override`, a `RunConfig`). With `orders` (the run's own
    orders, by slug): open loop, those orders through the engine under the run's engine
    settings (or `env_override`'s; the engine's defaults when the log names none, as
    for another runner's log)."""
    window_ns = round(match_window_s * 1e9)
    out = []
    settings: dict[str, None] = {}
    for session in sessions:
        win = windows[session.slug]
        winner = window_winner(session, win)
        if orders is None:
            config, source = _run_config(session.slug, win, env_override)
            paper = replay_events(session, config, win.traded)
            out.append(compare_window(session.slug, win.real_events, paper, winner, window_ns))
        else:
            params, source = open_loop_params(win, env_override)
            planned = _this_run(win, orders.get(session.slug, ()))
            fills, result = open_loop_fills(session, planned, params)
            counts = {
                "submitted": len(result.outcomes),
                "rejected": sum(1 for o in result.outcomes if o.rejected),
            }
            out.append(
                compare_fills(session.slug, win.real_events, fills, counts, winner, window_ns)
            )
        settings.setdefault(source)
    return RealReport(match_window_s, out, "closed" if orders is None else "open", [*settings])


def _run_config(slug: str, win: LiveWindow, env_override: Any) -> tuple[Any, str]:
    """The closed loop's settings, and where they came from (a key of `SETTINGS`)."""
    if env_override is not None:
        return env_override, "given"
    if win.config_env is None:
        raise ConfigError(
            f"{slug}: the live run did not log its settings; give them with --env-file"
        )
    return RunConfig.from_env(win.config_env, where="the live run's settings"), "run"


def open_loop_params(win: LiveWindow, env_override: Any = None) -> tuple[dict[str, Any], str]:
    """The open loop's engine parameters, and where they came from (a key of
    `SETTINGS`): `env_override`'s (a `RunConfig`), else the `PM_PAPER_*` values the run
    logged (as `pk8opt calibrate` takes them), else the engine's defaults."""
    if env_override is not None:
        return dict(env_override.engine_params), "given"
    if win.config_env is None:
        return ENGINE_PARAMS.defaults(), "defaults"
    return ENGINE_PARAMS.from_env(win.config_env, "the live run's settings"), "run"


def _this_run(win: LiveWindow, orders: Sequence[PlannedOrder]) -> list[PlannedOrder]:
    """The orders of the run whose lines the window keeps: a window discovered again by
    a later run (a restart within it) keeps that run's fills only, so the orders an
    earlier run sent before it (decided before the later run's first) are left out."""
    first = min(
        (int(e["ts_ns"]) for e in win.real_events if e.get("event") == "real_order_submit"),
        default=None,
    )
    return [o for o in orders if first is None or o.submit_ns >= first]


class _Collect(EventLog):
    """An engine event log kept as the records themselves."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.events: list[dict[str, Any]] = []

    def write(self, event: str, t_ns: int, slug: str, **fields: Any) -> None:
        self.events.append({"event": event, "ts_ns": t_ns, "slug": slug, **fields})


def open_loop_fills(
    session: ReplaySession, orders: Sequence[PlannedOrder], params: Mapping[str, Any]
) -> tuple[list[Fill], OpenLoopResult]:
    """The paper fills of `orders` replayed open loop on `session` under the engine
    parameters `params` (`openloop.replay_orders`), and the replay's result (each
    order's outcome: which the engine refused).

    Each fill's `ts_ns` is the engine's fill time plus the response latency: a real
    fill's time is when the run heard of it, so a paper fill is timed when the run would
    have heard of it (as `pk8opt calibrate` compares times to first fill). Its
    `order_id` is the planned order's, so both sides name the same order."""
    log = _Collect()
    result = replay_orders(session, orders, params, log=log)
    heard_ns = round(float(engine_params(params)["response_latency_ms"]) * 1e6)
    planned: dict[Any, str] = {}  # engine order id -> the planned order's id
    fills = []
    for ev in log.events:
        if ev["event"] == "paper_order_submit":
            planned[ev["order_id"]] = str(ev["why"])
        elif ev["event"] == "paper_fill":
            f = fill_from_event(ev)
            order_id = planned.get(f.order_id, f.order_id)
            fills.append(replace(f, ts_ns=f.ts_ns + heard_ns, order_id=order_id))
    return fills, result


def utc_time(t_ns: int) -> str:
    """HH:MM:SS.mmm (UTC)."""
    dt = datetime.fromtimestamp(t_ns // 1_000_000_000, tz=UTC)
    return dt.strftime("%H:%M:%S") + f".{(t_ns % 1_000_000_000) // 1_000_000:03d}"


def _text(x: Any) -> str | None:
    return None if x is None or x == "" else str(x)


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _money(x: float | None) -> float | None:
    return None if x is None else round(x, 6) + 0.0  # + 0.0: no -0.0
