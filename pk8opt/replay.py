"""The backtest driver: run a strategy over loaded sessions on the paper engine.

Two ways to drive the same engine and trader, with identical results (tested):
- `mode="events"` feeds every row to `PaperEngine.on_row` and calls the trader at every
  frame end, exactly as the live runner does;
- `mode="fast"` (the default) visits only the frames where something can happen: the
  top of book or a tick changed, an engine timer or maker-flow arrival is due, the
  trader asked to be woken, or a level/trade touches a price where an order rests. The
  per-session arrays it reads are built once (`engine.session_cache`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.levels import REC_TRADE
from pk8opt.engine.market import MarketSpec
from pk8opt.engine.paper import PaperEngine
from pk8opt.engine.session_cache import ArrayView, level_key, session_cache
from pk8opt.errors import ConfigError
from pk8opt.metrics import BacktestResult, SessionResult, aggregate, max_drawdown
from pk8opt.params import ParamSet
from pk8opt.strategies import get_strategy
from pk8opt.strategies.base import Strategy
from pk8opt.trader import NEVER, TRADER_PARAMS, Trader

Mode = Literal["fast", "events"]
_WINNER = {"Up": 0, "Down": 1}


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs besides the data: strategy name and three value sets."""

    strategy: str = "noop"
    strategy_params: dict[str, Any] = field(default_factory=dict)
    engine_params: dict[str, Any] = field(default_factory=dict)
    trader_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cls = get_strategy(self.strategy)
        where = f"strategy {self.strategy}"
        object.__setattr__(self, "strategy_params", cls.params.resolve(self.strategy_params, where))
        object.__setattr__(
            self, "engine_params", ENGINE_PARAMS.resolve(self.engine_params, "engine")
        )
        object.__setattr__(
            self, "trader_params", TRADER_PARAMS.resolve(self.trader_params, "trader")
        )

    @staticmethod
    def param_sets(strategy: str) -> tuple[ParamSet, ParamSet, ParamSet]:
        cls = get_strategy(strategy)
        try:
            cls.params + ENGINE_PARAMS + TRADER_PARAMS
        except ValueError:
            raise ConfigError(
                f"strategy {strategy}: a parameter name or PM_* variable clashes with the "
                "engine's or the trade loop's; rename it"
            ) from None
        return cls.params, ENGINE_PARAMS, TRADER_PARAMS

    @classmethod
    def from_env(cls, env: Mapping[str, str], where: str = ".env") -> RunConfig:
        """`PM_STRATEGY` (default noop) and every `PM_*` of the three parameter sets."""
        name = env.get("PM_STRATEGY", "noop").strip() or "noop"
        sp, ep, tp = cls.param_sets(name)
        return cls(name, sp.from_env(env, where), ep.from_env(env, where), tp.from_env(env, where))

    @classmethod
    def resolve(cls, strategy: str, overrides: Mapping[str, Any]) -> RunConfig:
        """Defaults plus overrides keyed by any parameter name (or its PM_* variable)."""
        return cls(strategy).updated(overrides)

    def updated(self, overrides: Mapping[str, Any]) -> RunConfig:
        """A copy with some values changed (keys: param names or PM_* variables)."""
        sets = self.param_sets(self.strategy)
        values = [dict(self.strategy_params), dict(self.engine_params), dict(self.trader_params)]
        for key, raw in overrides.items():
            for ps, vals in zip(sets, values, strict=True):
                p = ps.by_name.get(key) or ps.by_env.get(key)
                if p is not None:
                    vals[p.name] = p.parse(raw, f"{key}")
                    break
            else:
                known = [p.name for ps in sets for p in ps]
                raise ConfigError(
                    f"unknown parameter {key!r} for strategy {self.strategy}; known: "
                    + ", ".join(known)
                )
        return RunConfig(self.strategy, *values)

    def to_env(self) -> dict[str, str]:
        sp, ep, tp = self.param_sets(self.strategy)
        return {
            "PM_STRATEGY": self.strategy,
            **sp.to_env(self.strategy_params),
            **ep.to_env(self.engine_params),
            **tp.to_env(self.trader_params),
        }


def run_backtest(
    sessions: Sequence[Any],
    config: RunConfig,
    *,
    on_session: Callable[[int, SessionResult], None] | None = None,
    event_log: Path | None = None,
    mode: Mode = "fast",
) -> BacktestResult:
    """Replay each session; sessions without a known winner are skipped and reported.

    `on_session(i, result)` runs after each scored session, `i` its index in
    `sessions`; exceptions it raises (e.g. optuna.TrialPruned) propagate.
    """
    cls = get_strategy(config.strategy)
    results: list[SessionResult] = []
    skipped: list[tuple[str, str]] = []
    fh = open(event_log, "w", encoding="utf-8") if event_log is not None else None  # noqa: SIM115
    try:
        log = EventLog(fh) if fh is not None else None
        for i, session in enumerate(sessions):
            outcome = session.manifest.resolution.outcome
            if outcome not in _WINNER:
                skipped.append((session.slug, f"resolution unknown ({outcome})"))
                continue
            if session.n_events == 0:
                skipped.append((session.slug, "no events"))
                continue
            result = run_session(session, cls(**config.strategy_params), config, log=log, mode=mode)
            results.append(result)
            if on_session is not None:
                on_session(i, result)
    finally:
        if fh is not None:
            fh.close()
    return BacktestResult(
        results,
        skipped,
        aggregate(results, tuple(cls.gates)),
        strategy=config.strategy,
        config_env=config.to_env(),
    )


def run_session(
    session: Any,
    strategy: Strategy,
    config: RunConfig,
    *,
    log: EventLog | None = None,
    mode: Mode = "fast",
    skip_unchanged: bool = True,
) -> SessionResult:
    spec = MarketSpec.from_manifest(session.manifest)
    if mode == "fast":
        cache = session_cache(session)
        view = ArrayView(cache)
        engine = PaperEngine(spec, config.engine_params, log=log, view=view)
        trader = Trader(engine, strategy, config.trader_params, skip_unchanged=skip_unchanged)
        _drive_fast(cache, view, engine, trader)
        last_ns = cache.last_ns
    else:
        engine = PaperEngine(spec, config.engine_params, log=log)
        trader = Trader(engine, strategy, config.trader_params, skip_unchanged=skip_unchanged)
        last_ns = _drive_events(session, engine, trader)
    return _finish(session, spec, engine, trader, max(last_ns, spec.window_end_ns))


def _drive_events(session: Any, engine: PaperEngine, trader: Trader) -> int:
    ev = session.events
    local = ev["local_ns"].tolist()
    frames = ev["frame"].tolist()
    cols = (
        ev["kind"].tolist(),
        ev["token"].tolist(),
        ev["side"].tolist(),
        ev["price"].tolist(),
        ev["size"].tolist(),
    )
    tracker = engine.tracker
    best = tracker.best

    def frame_end(t: int) -> None:
        engine.end_frame(t)
        top = (best(0, 0), best(0, 1), best(1, 0), best(1, 1))
        trader.on_frame(t, top, (tracker.tick[0], tracker.tick[1]))

    n = len(local)
    for i in range(n):
        if i and frames[i] != frames[i - 1]:
            frame_end(local[i - 1])
        engine.on_row(local[i], cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i])
    if n:
        frame_end(local[n - 1])
    return local[n - 1] if n else 0


def _drive_fast(cache: Any, view: ArrayView, engine: PaperEngine, trader: Trader) -> None:
    times = cache.frame_time
    tops = cache.top
    ticks = cache.ticks
    change = cache.change_frames
    levels = cache.levels
    trades = cache.trades
    resting = engine.resting
    nf = cache.n_frames
    ci = 0
    k = 0
    while k < nf:
        t = times[k]
        view.frame = k - 1
        engine.advance_to(t)
        if resting[0] or resting[1]:
            _apply_records(k, engine, levels, trades)
        view.frame = k
        engine.check_cross()
        trader.on_frame(t, tops[k], ticks[k])
        # the next frame where anything can happen
        while ci < len(change) and change[ci] <= k:
            ci += 1
        nk = change[ci] if ci < len(change) else nf
        due = min(engine.next_due_ns(), trader.next_wake_ns)
        if due < NEVER:
            j = bisect_left(times, due)
            nk = min(nk, j if j > k else k + 1)
        for tok in (0, 1):
            if not resting[tok]:
                continue
            tf = trades[tok][0]
            j = bisect_right(tf, k)
            if j < len(tf) and tf[j] < nk:
                nk = tf[j]
            for o in resting[tok]:
                lst = levels.get(level_key(tok, 0, o.price))
                if lst is not None:
                    j = bisect_right(lst[0], k)
                    if j < len(lst[0]) and lst[0][j] < nk:
                        nk = lst[0][j]
        k = nk


def _apply_records(k: int, engine: PaperEngine, levels: dict, trades: list) -> None:
    recs: list[tuple[int, int, int, int, float, float]] = []
    for tok in (0, 1):
        if not engine.resting[tok]:
            continue
        tf, tseq, tprice, tsize = trades[tok]
        j = bisect_left(tf, k)
        while j < len(tf) and tf[j] == k:
            recs.append((tseq[j], REC_TRADE, tok, tprice[j], 0.0, tsize[j]))
            j += 1
        for price in {o.price for o in engine.resting[tok]}:
            lst = levels.get(level_key(tok, 0, price))
            if lst is None:
                continue
            lf, lseq, lold, lnew = lst
            j = bisect_left(lf, k)
            while j < len(lf) and lf[j] == k:
                recs.append((lseq[j], 0, tok, price, lold[j], lnew[j]))
                j += 1
    if len(recs) > 1:
        recs.sort()
    for _, rec, tok, price, old, new in recs:
        if not engine.resting[tok]:
            continue
        if rec == REC_TRADE:
            engine.on_trade(tok, price, new)
        else:
            engine.on_level(tok, price, old, new)


def _finish(
    session: Any, spec: MarketSpec, engine: PaperEngine, trader: Trader, end_ns: int
) -> SessionResult:
    winner = _WINNER[session.manifest.resolution.outcome]
    acct = engine.account
    engine.advance_to(end_ns)
    qy, qn = acct.pos
    engine.close(end_ns, winner)
    trader.finish(end_ns)
    return SessionResult(
        slug=spec.slug,
        winner=session.manifest.resolution.outcome,
        pnl_usdc=acct.cash - acct.starting_cash,
        fees_usdc=acct.fees,
        volume_usdc=acct.volume,
        fills=acct.fills,
        orders=engine.orders_accepted,
        fill_rate=engine.orders_with_fill / engine.orders_accepted
        if engine.orders_accepted
        else 0.0,
        pairs=min(qy, qn),
        unpaired_shares=abs(qy - qn),
        max_drawdown_usdc=max_drawdown(trader.equity_v),
        events=session.n_events,
        strategy_calls=trader.strategy_calls,
        orders_filled=engine.orders_with_fill,
        rejections=dict(engine.rejections),
        gates={g: trader.gate_counts.get(g, 0) for g in type(trader.strategy).gates},
        equity_t=trader.equity_t,
        equity_v=trader.equity_v,
    )
