"""pk8opt next to hftbacktest: one quoting policy on the sample sessions in both engines.

The policy (`join` in pk8opt): one BUY of 10 Up shares at the Up best bid, replaced when
the bid moves (PM_REQUOTE_MIN_TICKS=1), at most once per second, after pk8opt's default
5-second warm-up; decisions are taken at market updates only. Latencies made equivalent:
an order rests 50 ms after it is sent and a cancel takes effect 50 ms after it is sent
(pk8opt: post 50 ms, cancel request 50 ms + clear 0 ms, responses at once, takes not
depleting the book; hftbacktest: constant order latency, entry 50 ms, response 0), both
on the recorded local receive time (pk8opt's `local` feed clock).

hftbacktest 2.4 runs the policy in numba over a `HashMapMarketDepthBacktest` with the
risk-averse queue model and partial fills; its event arrays are converted once from
pk8opt's normalized sessions (below, not timed). The two engines run interleaved three
times; printed: both times (CPU time of this process, which on a machine shared with
other work is the wall time the run would take alone), their ratio, and the fill agreement (orders sent alike,
at the same time and price, that filled the same quantity, over all orders either sent).

hftbacktest is a bench-only dependency: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import io
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import FIRST_FIVE_WINDOWS_END_S

REPO = Path(__file__).resolve().parents[1]
SIZE = 10.0
POST_MS = 50.0
WARMUP_S = 5.0
REQUOTE_S = 1.0
ROUNDS = 3

OVERRIDES = {
    "token": "up",
    "size": SIZE,
    "requote_min_ticks": 1,
    "min_requote_seconds": REQUOTE_S,
    "warmup_seconds": WARMUP_S,
    "post_latency_ms": POST_MS,
    "cancel_req_latency_ms": POST_MS,
    "cancel_clear_latency_ms": 0.0,
    # what hftbacktest is given: both clocks at the local receive time, responses at once,
    # and our takes leave the depth as it was
    "feed_clock": "local",
    "response_latency_ms": 0.0,
    "take_depletes": False,
}


def to_hbt_events(session: Any, token: int = 0) -> np.ndarray:
    """The rows of one token as hftbacktest events, both clocks at the local receive time."""
    import hftbacktest as h

    from pk8opt.recordings.schema import BID, Kind

    ev = session.events
    kind, tok = np.asarray(ev["kind"]), np.asarray(ev["token"])
    side, price = np.asarray(ev["side"]), np.asarray(ev["price"])
    keep = (tok == token) & np.isin(kind, (Kind.BOOK_RESET, Kind.LEVEL, Kind.TRADE))
    kind, side, price = kind[keep], side[keep], price[keep]
    out = np.zeros(int(keep.sum()), dtype=h.binding.event_dtype)
    flags = np.zeros(len(out), dtype=np.uint64)
    flags[kind == Kind.BOOK_RESET] = h.DEPTH_CLEAR_EVENT
    flags[kind == Kind.LEVEL] = h.DEPTH_EVENT
    flags[kind == Kind.TRADE] = h.TRADE_EVENT
    sided = kind != Kind.BOOK_RESET
    flags[sided & (side == BID)] |= np.uint64(h.BUY_EVENT)
    flags[sided & (side != BID)] |= np.uint64(h.SELL_EVENT)
    out["ev"] = flags | np.uint64(h.EXCH_EVENT) | np.uint64(h.LOCAL_EVENT)
    out["exch_ts"] = np.asarray(ev["local_ns"])[keep]
    out["local_ts"] = out["exch_ts"]
    out["px"] = price / 1000.0
    out["qty"] = np.asarray(ev["size"])[keep]
    # pk8opt's trade loop runs at the end of every frame, whatever token it was about:
    # frames without an Up row become local-only events that carry no data
    frame = np.asarray(ev["frame"])
    last = np.flatnonzero(np.append(frame[1:] != frame[:-1], True))
    has_up = np.zeros(len(frame), bool)
    has_up[np.flatnonzero(keep)] = True
    up_frames = set(frame[has_up].tolist())
    idle = last[[f not in up_frames for f in frame[last].tolist()]]
    ticks = np.zeros(len(idle), dtype=h.binding.event_dtype)
    ticks["ev"] = h.LOCAL_EVENT
    ticks["exch_ts"] = ticks["local_ts"] = np.asarray(ev["local_ns"])[idle]
    rows = np.concatenate([np.flatnonzero(keep), idle])
    merged = np.concatenate([out, ticks])[np.argsort(rows, kind="stable")]
    return merged


def _policy():  # type: ignore[no-untyped-def]
    from hftbacktest import GTC, LIMIT
    from numba import njit

    @njit(cache=True)
    def join(hbt, size, warmup_ns, requote_ns, out):  # type: ignore[no-untyped-def]
        """out rows: order id, submit time, price tick, filled qty (x1e6), status."""
        n = 0
        start = -1
        working = -1
        working_px = -1
        last_action = -(1 << 62)
        tracked = np.empty(256, np.int64)
        n_tracked = 0
        next_id = 1
        tick = hbt.depth(0).tick_size
        while hbt.wait_next_feed(False, 1 << 60) == 2:
            t = hbt.current_timestamp
            orders = hbt.orders(0)
            k = 0
            for j in range(n_tracked):
                oid = tracked[j]
                o = orders.get(oid)
                row = oid - 1
                out[row, 3] = int(round((o.qty - o.leaves_qty) * 1e6))
                out[row, 4] = o.status
                if o.status == 0 or o.status == 1 or o.status == 5:  # sent, NEW, PARTIALLY_FILLED
                    tracked[k] = oid
                    k += 1
                elif oid == working:
                    working = -1
            n_tracked = k
            if start < 0:
                start = t
            if t < start + warmup_ns:
                continue
            bid = hbt.depth(0).best_bid_tick
            if bid <= 0 or bid > 1_000_000:
                if working >= 0:
                    hbt.cancel(0, working, False)
                    working = -1
                continue
            if working >= 0 and working_px == bid:
                continue
            if t < last_action + requote_ns:
                continue
            if working >= 0:
                hbt.cancel(0, working, False)
            hbt.submit_buy_order(0, next_id, bid * tick, size, GTC, LIMIT, False)
            out[n, 0] = next_id
            out[n, 1] = t
            out[n, 2] = bid
            out[n, 3] = 0
            n += 1
            tracked[n_tracked] = next_id
            n_tracked += 1
            working = next_id
            working_px = bid
            last_action = t
            next_id += 1
        orders = hbt.orders(0)
        for j in range(n_tracked):
            o = orders.get(tracked[j])
            out[tracked[j] - 1, 3] = int(round((o.qty - o.leaves_qty) * 1e6))
        return n

    return join


def run_hbt(events: list[np.ndarray], join: Any) -> list[np.ndarray]:
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest

    results = []
    for data in events:
        asset = (
            BacktestAsset()
            .data(data)
            .linear_asset(1.0)
            .constant_order_latency(int(POST_MS * 1e6), 0)
            .risk_adverse_queue_model()
            .partial_fill_exchange()
            .trading_value_fee_model(0.0, 0.0)
            .tick_size(0.001)
            .lot_size(0.01)
            .last_trades_capacity(0)
        )
        hbt = HashMapMarketDepthBacktest([asset])
        out = np.zeros((len(data) + 1, 5), np.int64)
        n = join(hbt, SIZE, int(WARMUP_S * 1e9), int(REQUOTE_S * 1e9), out)
        hbt.close()
        results.append(out[:n].copy())
    return results


def run_pk8opt(sessions: list[Any], log: bool = False) -> tuple[float, list[dict]]:
    from pk8opt.backtest.replay import run_session
    from pk8opt.engine.eventlog import EventLog
    from pk8opt.strategies import get_strategy
    from pk8opt.trading.run_config import RunConfig

    config = RunConfig.resolve("join", OVERRIDES)
    cls = get_strategy("join")
    orders: list[dict] = []
    t0 = time.process_time()
    for s in sessions:
        buf = io.StringIO() if log else None
        run_session(s, cls(**config.strategy_params), config, log=EventLog(buf) if buf else None)
        if buf is not None:
            orders.append(_orders_from_log(buf.getvalue()))
    return time.process_time() - t0, orders


def _orders_from_log(text: str) -> dict:
    """(submit time, price milli) -> filled shares, for the orders the engine accepted."""
    submit: dict[int, tuple[int, int]] = {}
    filled: dict[int, float] = defaultdict(float)
    rejected = set()
    for line in text.splitlines():
        e = json.loads(line)
        if e["event"] == "paper_order_submit":
            submit[e["order_id"]] = (e["ts_ns"], round(e["price"] * 1000))
        elif e["event"] == "paper_order_rejected":
            rejected.add(e["order_id"])
        elif e["event"] == "paper_fill":
            filled[e["order_id"]] += e["qty"]
    return {k: round(filled[i], 6) for i, k in submit.items() if i not in rejected}


def agreement(pk: list[dict], hb: list[np.ndarray]) -> tuple[int, int, int, int]:
    """(filled alike, sent by both, sent by either, filled by either)."""
    alike = both = either = fills = 0
    for a, rows in zip(pk, hb, strict=True):
        b = {(int(r[1]), int(r[2])): round(r[3] / 1e6, 6) for r in rows}
        keys = set(a) | set(b)
        either += len(keys)
        for k in keys:
            fa, fb = a.get(k), b.get(k)
            fills += bool(fa) or bool(fb)
            if fa is not None and fb is not None:
                both += 1
                alike += abs(fa - fb) < 1e-6
    return alike, both, either, fills


def main() -> None:
    try:
        import hftbacktest  # noqa: F401
        import numba  # noqa: F401
    except ImportError:
        print(
            "   hftbacktest is not installed; skipped. Install the bench extra: "
            "pip install -e '.[bench]'  (or: pip install 'hftbacktest>=2.4')"
        )
        return
    from pk8opt.backtest.index import index_sessions

    sessions = [
        s
        for s in index_sessions([REPO / "recordings" / "sample"])
        if s.manifest.resolution.outcome in ("Up", "Down")
        and s.manifest.window_start_s < FIRST_FIVE_WINDOWS_END_S
    ]
    n_events = sum(s.n_events for s in sessions)
    t0 = time.perf_counter()
    events = [to_hbt_events(s) for s in sessions]
    convert_s = time.perf_counter() - t0
    print(
        f"   {len(sessions)} sample sessions, {n_events:,} events; hftbacktest input "
        f"{sum(len(e) for e in events):,} Up-token events (converted in {convert_s:.2f} s, "
        "not timed)"
    )
    join = _policy()
    t0 = time.perf_counter()
    run_hbt(events[:1], join)  # compiles (or loads numba's cache)
    print(f"   numba compile/load: {time.perf_counter() - t0:.1f} s (not timed)")
    # the same sessions held in memory with their replay caches built once (no mapping)
    from pk8opt.recordings.session import LoadedSession

    held = [
        LoadedSession(s.path, s.manifest, dict(s.events), dict(s.underlying), s.problems)
        for s in sessions
    ]
    run_pk8opt(held)
    pk_times, held_times, hb_times = [], [], []
    for r in range(ROUNDS):
        pk_s, _ = run_pk8opt(sessions)
        t0 = time.process_time()
        run_hbt(events, join)
        hb_s = time.process_time() - t0
        held_s, _ = run_pk8opt(held)
        pk_times.append(pk_s)
        hb_times.append(hb_s)
        held_times.append(held_s)
        print(
            f"   round {r + 1}: pk8opt {pk_s:.3f} s (sessions held in memory: {held_s:.3f} s), "
            f"hftbacktest {hb_s:.3f} s, ratio {pk_s / hb_s:.1f}x"
        )
    pk_best, hb_best, held_best = min(pk_times), min(hb_times), min(held_times)
    print(
        f"   best of {ROUNDS}: pk8opt {pk_best:.3f} s ({n_events / pk_best / 1e6:.2f} M events/s; "
        f"held in memory {held_best:.3f} s), hftbacktest {hb_best:.3f} s; "
        f"ratio {pk_best / hb_best:.1f}x ({held_best / hb_best:.1f}x held) (target <= 1.0)"
    )
    _, pk_orders = run_pk8opt(sessions, log=True)
    hb_orders = run_hbt(events, join)
    alike, both, either, fills = agreement(pk_orders, hb_orders)
    print(
        f"   fill agreement: {alike:,} of {either:,} orders filled alike "
        f"({both:,} sent alike by both engines; {fills:,} filled in at least one); "
        f"pk8opt {sum(len(o) for o in pk_orders):,} orders, hftbacktest "
        f"{sum(len(o) for o in hb_orders):,}"
    )


if __name__ == "__main__":
    main()
