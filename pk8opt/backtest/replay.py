"""The backtest driver: run a strategy over loaded sessions on the paper engine.

Two ways to drive the same engine and trader, with identical results (tested):
- `mode="events"` feeds every row to `PaperEngine.on_row` and calls the trader at every
  frame end, exactly as the live runner does;
- `mode="fast"` (the default) visits only the frames where something can happen: the
  top of book or a tick changed, an engine timer or maker-flow arrival is due, the
  trader asked to be woken, or a level/trade touches a price where an order rests. The
  per-session arrays it reads are built once (`session_cache`, via `replay_handle`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pk8opt.backtest.replay_handle import ReplaySession, session_cache
from pk8opt.backtest.results import BacktestResult, SessionResult, aggregate, max_drawdown
from pk8opt.backtest.session_cache import ArrayView, SessionCache, level_key
from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.levels import REC_TRADE
from pk8opt.engine.market import WINNER_INDEX
from pk8opt.engine.markout import Mids, fills_with_markouts
from pk8opt.engine.paper import PaperEngine
from pk8opt.errors import ConfigError
from pk8opt.strategies import get_strategy
from pk8opt.strategies.base import Strategy
from pk8opt.trading.fill_metrics import FillMetrics
from pk8opt.trading.run_config import RunConfig
from pk8opt.trading.stepper import SessionStepper
from pk8opt.trading.trader import NEVER, Trader

Mode = Literal["auto", "compiled", "fast", "events"]


def _no_resolution(outcome: str) -> str:
    """Why a session without a winner is skipped, in words."""
    if outcome in ("unknown", "", None):
        return "resolution: not recorded"
    return f"resolution: {outcome!r} is neither Up nor Down"


def run_backtest(
    sessions: Sequence[ReplaySession],
    config: RunConfig,
    *,
    on_session: Callable[[int, SessionResult], None] | None = None,
    event_log: Path | None = None,
    metrics_log: Path | None = None,
    mode: Mode = "auto",
) -> BacktestResult:
    """Replay each session; sessions without a known winner are skipped and reported.

    `on_session(i, result)` runs after each scored session, `i` its index in
    `sessions`; exceptions it raises (e.g. optuna.TrialPruned) propagate.
    `event_log` gets the engine's events, `metrics_log` one line per fill
    (`trading.fill_metrics`), both JSON Lines as the live runner writes them.
    """
    cls = get_strategy(config.strategy)
    results: list[SessionResult] = []
    skipped: list[tuple[str, str]] = []
    fh = open(event_log, "w", encoding="utf-8") if event_log is not None else None  # noqa: SIM115
    metrics = None
    if metrics_log is not None:
        metrics_log.unlink(missing_ok=True)
        metrics = FillMetrics(metrics_log)
    try:
        log = EventLog(fh) if fh is not None else None
        for i, session in enumerate(sessions):
            outcome = session.manifest.resolution.outcome
            if outcome not in WINNER_INDEX:
                skipped.append((session.slug, _no_resolution(outcome)))
                continue
            if session.n_events == 0:
                skipped.append((session.slug, "no events"))
                continue
            result = run_session(
                session, cls(**config.strategy_params), config, log=log, mode=mode, metrics=metrics
            )
            results.append(result)
            if on_session is not None:
                on_session(i, result)
    finally:
        if fh is not None:
            fh.close()
        if metrics is not None:
            metrics.close()
    return BacktestResult(
        results,
        skipped,
        aggregate(results, tuple(cls.gates)),
        strategy=config.strategy,
        config_env=config.to_env(),
    )


def run_session(
    session: ReplaySession,
    strategy: Strategy,
    config: RunConfig,
    *,
    log: EventLog | None = None,
    mode: Mode = "auto",
    skip_unchanged: bool = True,
    metrics: Any = None,
) -> SessionResult:
    """One session. `mode`: "compiled" (`backtest.compiled`, for a strategy with a
    compiled quote), "fast" (the Python engine, visiting only frames where something
    can happen), "events" (every frame, as the live runner), "auto" (compiled when the
    strategy has a compiled quote and no per-fill metrics are written, else fast).
    All give identical results and event logs (tests/unit/backtest/test_compiled_replay.py)."""
    manifest = session.manifest
    if mode in ("auto", "compiled") and metrics is None:
        # numba: imported by the first run that needs it
        from pk8opt.backtest.compiled import quote_function, run_session_compiled

        quote = quote_function(type(strategy))
        if quote is not None:
            return run_session_compiled(
                session, strategy, config, quote, log=log, skip_unchanged=skip_unchanged
            )
        if mode == "compiled":
            raise ConfigError(
                f"strategy {config.strategy}: no compiled quote (see docs/strategies.md)"
            )
    if mode in ("auto", "compiled"):
        mode = "fast"
    if mode == "fast":
        cache = session_cache(session)
        view = ArrayView(cache)
        stepper = SessionStepper(
            manifest,
            config,
            log,
            strategy=strategy,
            view=view,
            skip_unchanged=skip_unchanged,
            metrics=metrics,
        )
        ep = config.engine_params
        times = cache.times(ep["feed_clock"], ep["feed_latency_ms"])
        last_ns = times[-1] if times else cache.last_ns
        delay = stepper.clock.delay_ns
        if delay == 0:
            _drive_fast(cache, view, stepper.engine, stepper.trader, times)
        else:
            close_ns = max(last_ns, stepper.spec.window_end_ns)
            _drive_fast_delayed(cache, view, stepper.engine, stepper.trader, times, delay, close_ns)
        stepper.top_t, stepper.tops = times, cache.top  # every frame's: the same mids
    else:
        stepper = SessionStepper(
            manifest, config, log, strategy=strategy, skip_unchanged=skip_unchanged, metrics=metrics
        )
        drive_events(session, stepper)
        last_ns = stepper.last_ns
    winner = manifest.resolution.outcome
    stepper.settle(winner, max(last_ns, stepper.spec.window_end_ns))
    return session_result(stepper, winner, session.n_events)


def drive_events(session: ReplaySession, stepper: SessionStepper) -> None:
    """Step a loaded session through `stepper` frame by frame, as the live runner does."""
    ev = session.events
    local = ev["local_ns"].tolist()
    frames = ev["frame"].tolist()
    cols = (
        ev["exch_ms"].tolist(),
        ev["kind"].tolist(),
        ev["token"].tolist(),
        ev["side"].tolist(),
        ev["price"].tolist(),
        ev["size"].tolist(),
    )
    step = stepper.step_rows
    n = len(local)
    lo = 0
    for i in range(1, n):
        if frames[i] != frames[i - 1]:
            step(local, *cols, lo, i)
            lo = i
    step(local, *cols, lo, n)


def _drive_fast(
    cache: SessionCache, view: ArrayView, engine: PaperEngine, trader: Trader, times: list[int]
) -> None:
    tops = cache.top
    ticks = cache.ticks
    change = cache.change_frames
    levels = cache.levels
    trades = cache.trades
    resting = engine.resting
    nf = cache.n_frames
    every_frame = not trader.skip  # a strategy that may read time must see every update
    n_change = len(change)
    ci = 0
    k = 0
    rec_next = nf  # the next frame with a record at a resting order's price
    seen_open = -1
    on_frame = trader.on_frame
    advance_to = engine.advance_to
    while k < nf:
        t = times[k]
        view.frame = k - 1
        advance_to(t)
        opened = engine.open_seq != seen_open
        if opened or k == rec_next:
            seen_open = engine.open_seq
            if resting[0] or resting[1]:
                _apply_records(k, engine, levels, trades)
        view.frame = k
        # a cross can only appear where the top changed or an order started resting
        while ci < n_change and change[ci] < k:
            ci += 1
        at_change = ci < n_change and change[ci] == k
        if at_change or opened or engine.depleted:
            engine.check_cross()
        on_frame(t, tops[k], ticks[k])
        # the next frame where anything can happen
        if at_change:
            ci += 1
        nk = k + 1 if every_frame else (change[ci] if ci < n_change else nf)
        due = engine.next_due_ns()
        wake = trader.next_wake_ns
        if wake < due:
            due = wake
        if due < NEVER:
            j = bisect_left(times, due)
            if j <= k:
                j = k + 1
            if j < nk:
                nk = j
        rec_next = nf
        for tok in (0, 1):
            if not resting[tok]:
                continue
            tf = trades[tok][0]
            j = bisect_right(tf, k)
            if j < len(tf) and tf[j] < rec_next:
                rec_next = tf[j]
            for o in resting[tok]:
                lst = levels.get(level_key(tok, 0, o.price))
                if lst is not None:
                    lf = lst[0]
                    j = bisect_right(lf, k)
                    if j < len(lf) and lf[j] < rec_next:
                        rec_next = lf[j]
        if engine.depleted:
            rec_next = _next_depleted_change(k, engine, cache.ask_levels, rec_next)
        k = rec_next if rec_next < nk else nk


def _drive_fast_delayed(
    cache: SessionCache,
    view: ArrayView,
    engine: PaperEngine,
    trader: Trader,
    times: list[int],
    delay: int,
    close_ns: int,
) -> None:
    """`_drive_fast` when the trader decides `delay` ns after each frame (venue clock).

    Three streams merged in time exactly as `SessionStepper` merges them: the engine's
    frames at `times[j]`, its timers and flow arrivals, and the decisions at
    `times[k] + delay` (a decision before a frame of the same time; none due after
    `close_ns`). Each stream visits only where something can happen.

    Long on purpose: one loop over the three streams whose state (e, k, k_floor, the
    sequence numbers seen) lives in locals; split into functions, every visit would pay
    calls and the state's packing, on the Python engine's hot path.
    """
    tops = cache.top
    ticks = cache.ticks
    change = cache.change_frames
    levels = cache.levels
    trades = cache.trades
    asks = cache.ask_levels
    resting = engine.resting
    nf = cache.n_frames
    every_frame = not trader.skip
    on_frame = trader.on_frame
    advance_to = engine.advance_to
    next_timer = engine.next_timer_ns
    known = engine.responses
    e = 0  # the engine's next frame to visit
    k = 0  # the next decision to take
    k_floor = 0  # decisions before this one are taken
    seen_open = -1
    seen_known = known.seq
    rec_next = nf  # the next frame with a record at a resting order's price
    while True:
        dk = times[k] + delay if k < nf else NEVER
        if dk > close_ns:
            dk = NEVER
        frame_first = e < nf and (e <= k or times[e] < dk)
        nxt = times[e] if frame_first else dk
        due = next_timer()
        if due < nxt:
            # ---- latency timers and flow arrivals, with the book of the frames before
            # them: those due before the next frame and the next decision, in turn
            last = bisect_left(times, due) - 1
            view.frame = last
            limit = times[last + 1] if last + 1 < nf and times[last + 1] < nxt else nxt
            while True:
                advance_to(due)
                if known.seq != seen_known:  # heard at once (no response latency): decide
                    seen_known = known.seq
                    k = min(k, max(bisect_left(times, due - delay), k_floor))
                w = known.next_due_ns()  # a response in flight: decide once it is heard
                if w < NEVER:
                    k = min(k, max(bisect_left(times, w - delay), k_floor))
                if engine.open_seq != seen_open:
                    e = min(e, last + 1)
                due = next_timer()
                if due >= limit or (k < nf and due >= times[k] + delay) or e <= last + 1:
                    break
            continue
        if frame_first:
            # ---- the engine's frame e: the venue's update changes the book
            t = times[e]
            view.frame = e - 1
            advance_to(t)
            opened = engine.open_seq != seen_open
            seen_open = engine.open_seq
            if (opened or e == rec_next) and (resting[0] or resting[1]):
                _apply_records(e, engine, levels, trades)
            view.frame = e
            ci = bisect_left(change, e)
            if opened or engine.depleted or (ci < len(change) and change[ci] == e):
                engine.check_cross()
            if known.seq != seen_known:
                seen_known = known.seq
                k = min(k, max(bisect_right(times, t - delay), k_floor))
            w = known.next_due_ns()
            if w < NEVER:
                k = min(k, max(bisect_left(times, w - delay), k_floor))
            e, rec_next = _next_engine_frame(e, engine, change, levels, trades, asks, tops, nf)
            continue
        if dk == NEVER:
            break
        # ---- the decision on frame k, at dk, with the book of the frames before dk
        last = bisect_left(times, dk) - 1
        view.frame = last
        advance_to(dk)
        on_frame(dk, tops[k], ticks[k])
        seen_known = known.seq
        k_floor = k + 1
        if every_frame:
            nk = k + 1
        else:
            ci = bisect_right(change, k)
            nk = change[ci] if ci < len(change) else nf
        w = min(trader.next_wake_ns, known.next_due_ns())
        if w < NEVER:
            nk = min(nk, max(bisect_left(times, w - delay), k_floor))
        k = nk
        # an order started resting: the engine's next frame may come sooner
        if engine.open_seq != seen_open:
            e = min(e, last + 1)


def _next_engine_frame(
    after: int,
    engine: PaperEngine,
    change: list[int],
    levels: dict,
    trades: list,
    ask_levels: dict,
    tops: list[tuple[int, int, int, int]],
    nf: int,
) -> tuple[int, int]:
    """The first frame after `after` where the book can reach an order (a top of book
    change: a cross; a level/trade record at a resting order's price; a change of an
    ask our takes used up), and the first of those with a record."""
    resting = engine.resting
    if not (resting[0] or resting[1]):
        return nf, nf  # nothing rests: no frame can touch an order (opening ones are tracked)
    nxt = nf
    for tok in (0, 1):
        if not resting[tok]:
            continue
        tf = trades[tok][0]
        j = bisect_right(tf, after)
        if j < len(tf) and tf[j] < nxt:
            nxt = tf[j]
        for o in resting[tok]:
            lst = levels.get(level_key(tok, 0, o.price))
            if lst is not None:
                lf = lst[0]
                j = bisect_right(lf, after)
                if j < len(lf) and lf[j] < nxt:
                    nxt = lf[j]
    if engine.depleted:
        nxt = _next_depleted_change(after, engine, ask_levels, nxt)
    # the first top of book change before that where an ask reaches a resting bid
    # (a phantom order leaves its state on any ask move: then every change counts)
    reach = [-1, -1]
    phantom = False
    for tok in (0, 1):
        for o in resting[tok]:
            phantom = phantom or o.phantom
            if o.price > reach[tok]:
                reach[tok] = o.price
    r_up, r_dn = reach
    n_change = len(change)
    ci = bisect_right(change, after)
    while ci < n_change:
        cf = change[ci]
        if cf >= nxt:
            break
        top = tops[cf]
        if phantom or 0 <= top[1] <= r_up or 0 <= top[3] <= r_dn:
            return cf, nxt
        ci += 1
    return nxt, nxt


def _next_depleted_change(after: int, engine: PaperEngine, ask_levels: dict, nxt: int) -> int:
    """The first frame after `after`, if before `nxt`, where the venue changes an ask our
    takes used up, under a resting order's token (its asks become real again: a cross)."""
    for tok, price in engine.depleted:
        if not engine.resting[tok]:
            continue
        lst = ask_levels.get(level_key(tok, 1, price))
        if lst is not None:
            lf = lst[0]
            j = bisect_right(lf, after)
            if j < len(lf) and lf[j] < nxt:
                nxt = lf[j]
    return nxt


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


def session_result(stepper: SessionStepper, winner: str, n_events: int) -> SessionResult:
    """The scores of a settled window."""
    engine, trader, acct = stepper.engine, stepper.trader, stepper.engine.account
    qy, qn = stepper.held
    return SessionResult(
        slug=stepper.spec.slug,
        winner=winner,
        pnl_usdc=acct.cash - acct.starting_cash,
        fees_usdc=acct.fees,
        volume_usdc=acct.volume,
        fills=acct.fills,
        orders=engine.orders_accepted,
        fill_rate=engine.orders_with_fill / engine.orders_accepted
        if engine.orders_accepted
        else 0.0,
        paired_shares=min(qy, qn),
        unpaired_shares=abs(qy - qn),
        max_drawdown_usdc=max_drawdown(trader.equity_v),
        events=n_events,
        strategy_calls=trader.strategy_calls,
        orders_filled=engine.orders_with_fill,
        maker_volume_usdc=acct.maker_volume,
        rebate_est_usdc=acct.rebates,
        rejections=dict(engine.rejections),
        gates={g: trader.gate_counts.get(g, 0) for g in type(trader.strategy).gates},
        equity_t=trader.equity_t,
        equity_v=trader.equity_v,
        fill_list=fills_with_markouts(engine.fill_log, Mids(stepper.top_t, stepper.tops)),
    )
