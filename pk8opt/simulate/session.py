"""One simulated session: the underlying path, the market, and every frame a recorder
would have written for that window, in the raw format, finished like a recorded one."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import numpy as np

from pk8opt.polymarket.slugs import slug_for, timeframe_seconds
from pk8opt.recordings.manifest import FeeSchedule, Manifest, Resolution, write_manifest
from pk8opt.recordings.raw import FrameWriter, note_text
from pk8opt.recordings.session import finish_session
from pk8opt.simulate import wire
from pk8opt.simulate.drive import fair_values, run_market
from pk8opt.simulate.gamma import gamma_market
from pk8opt.simulate.market import MarketIds, MarketSim
from pk8opt.simulate.model import SimModel, model_for
from pk8opt.simulate.path import DT_S, STEPS_PER_S, rng_for, session_path, symbol_code

MARKET_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
LIVE_WS = "wss://ws-live-data.polymarket.com"
GAMMA_URL = "https://gamma-api.polymarket.com/markets?slug="
MS = 1_000_000  # ns per ms


def _ids(rng: np.random.Generator) -> MarketIds:
    def token() -> str:
        return str(int.from_bytes(rng.bytes(32), "big") >> int(rng.integers(0, 3)))

    return MarketIds(
        market="0x" + rng.bytes(32).hex(),
        up=token(),
        down=token(),
        gamma_id=str(int(rng.integers(1_000_000, 9_999_999))),
    )


def resolve_outcome(chainlink_start: float, chainlink_end: float) -> int:
    """The winning token index: 0 (Up) if the end price is >= the start price (ties Up)."""
    return 0 if chainlink_end >= chainlink_start else 1


def _latency_ns(rng: np.random.Generator, model: SimModel) -> int:
    ms = model.latency_ms + rng.standard_normal() * model.latency_jitter_ms
    return int(max(ms, 3.0) * MS) + int(rng.integers(0, MS))


def simulate_session(
    out_dir: Path | str,
    symbol: str,
    window_start_s: int,
    seed: int,
    timeframe: str = "15m",
    **overrides: Any,
) -> Path:
    """Write one simulated session (`<out_dir>/<slug>/`) and return its folder.

    The same arguments always give byte-identical files. `overrides` are `SimModel`
    field names (e.g. `trade_rate=1.0`); see docs/simulator.md.
    """
    sym, model = model_for(symbol, **overrides)
    step = timeframe_seconds(timeframe)
    start, end = int(window_start_s), int(window_start_s) + step
    slug = slug_for(sym.symbol, timeframe, start)
    rng = rng_for(seed, symbol_code(sym.symbol), 9, start, step)
    path = session_path(sym, model, seed, start, step, tail_s=130)
    ids = _ids(rng)

    t_begin = start - float(rng.uniform(*model.preroll_s))
    t_res = end + float(rng.uniform(*model.resolve_after_end_s))
    t_stop = min(end + float(rng.uniform(*model.trading_after_end_s)), t_res - 0.5)
    t_closed = t_res + float(rng.uniform(0.5, 4.0))
    t_last = t_closed + float(rng.uniform(0.5, 1.5))
    cl_start, cl_end = path.chainlink_at(start), path.chainlink_at(end)
    winner = resolve_outcome(round(cl_start, 8), round(cl_end, 8))

    t_mc = t_begin + 0.08 + float(rng.uniform(0, 0.1))  # market socket connected
    dump_ms = int(t_mc * 1000) + 30  # the initial dump's venue time
    g0 = math.ceil((dump_ms / 1000 + 0.05) * STEPS_PER_S) / STEPS_PER_S
    times = g0 + np.arange(int((t_stop - g0) * STEPS_PER_S)) * DT_S
    fair = fair_values(path, sym, times, start, end)
    sim = MarketSim(ids, model, rng)
    sim.seed_book(float(fair[0]))
    frames: list[tuple[int, int, str, str, str | None]] = []  # (recv ns, order, ch, raw, src)

    def add(t_ns: int, ch: str, raw: str, src: str | None = None) -> None:
        frames.append((t_ns, len(frames), ch, raw, src))

    def ns(t_s: float) -> int:  # exact to the ns (t_s * 1e9 alone rounds to 256 ns)
        whole = math.floor(t_s)
        return whole * 1_000_000_000 + int(round((t_s - whole) * 1e9))

    open_bbo = sim.last_bbo or (490, 510)
    gamma_open = gamma_market(
        sym, model, ids, slug, start, end, ("0.5", "0.5"), False, open_bbo, 500
    )
    add(ns(t_begin), "gamma", wire.dumps([gamma_open]), GAMMA_URL + slug)
    add(ns(t_mc), "note", note_text("connected", socket="market", url=MARKET_WS))
    add(
        ns(t_mc) + 200_000,
        "note",
        note_text("subscribed", socket="market", assets_ids=[ids.up, ids.down]),
    )
    dump = wire.dumps(sim.books(dump_ms, initial=True))
    sim_out_start = (dump_ms, dump)

    # market frames: the initial dump, then the market's own, each after a latency
    dump_rng = rng_for(seed, symbol_code(sym.symbol), 10, start, step) if model.dump_rate else None
    run_market(sim, model, rng, fair, times, start, end, dump_rng)
    resolved_ms = int(t_res * 1000)
    market_out = [
        sim_out_start,
        *sim.out,
        (
            resolved_ms,
            wire.dumps(
                wire.resolved_msg(ids.market, ids.gamma_id, [ids.up, ids.down], winner, resolved_ms)
            ),
        ),
    ]
    last_recv = 0
    for ts_ms, raw in market_out:
        last_recv = max(last_recv + 1000, ts_ms * MS + _latency_ns(rng, model))
        add(last_recv, "market", raw)
    k = 1
    while t_mc + model.pong_every_s * k < t_last:
        add(ns(t_mc + model.pong_every_s * k) + 2 * _latency_ns(rng, model), "market", "PONG")
        k += 1

    # live-data socket
    t_lc = t_mc + float(rng.uniform(0.05, 0.3))
    conn_id = base64.b64encode(rng.bytes(13)).decode()
    subs = [
        {
            "topic": "crypto_prices",
            "type": "update",
            "filters": f'{{"symbol":"{sym.binance_symbol}"}}',
        },
        {
            "topic": "crypto_prices_chainlink",
            "type": "*",
            "filters": f'{{"symbol":"{sym.chainlink_symbol}"}}',
        },
    ]
    add(ns(t_lc), "note", note_text("connected", socket="live", url=LIVE_WS))
    add(ns(t_lc) + 150_000, "note", note_text("subscribed", socket="live", subscriptions=subs))
    secs = path.seconds
    first_s = int(secs[0])
    t_bf = t_lc + float(rng.uniform(0.05, 0.2))
    now_s = math.floor(t_bf - 0.1) + 1  # the backfill holds the seconds before this
    back = range(max(now_s - model.backfill_s, first_s), now_s)
    bin_pts = [{"timestamp": s * 1000, "value": float(path.binance[s - first_s])} for s in back]
    add(
        ns(t_bf),
        "live",
        wire.live_backfill("crypto_prices", sym.binance_symbol, bin_pts, int(t_bf * 1000)),
    )
    cl_pts = []
    for s in back:
        v = round(float(path.chainlink[s - first_s]), 8)
        cl_pts.append(
            {"full_accuracy_value": wire.chainlink_full(v), "timestamp": s * 1000, "value": v}
        )
    t_bf2 = t_bf + 0.001
    add(
        ns(t_bf2),
        "live",
        wire.live_backfill(
            "crypto_prices_chainlink", sym.chainlink_symbol, cl_pts, int(t_bf2 * 1000)
        ),
    )
    lat_b = rng.uniform(0.1, 0.25, size=len(secs))
    lat_c = rng.uniform(0.9, 1.5, size=len(secs))
    lat_n = rng.uniform(0.02, 0.06, size=len(secs))
    last_live = ns(t_bf2)
    live: list[tuple[float, str]] = []
    for j, s in enumerate(secs.tolist()):
        if s < now_s:
            continue
        tb = s + float(lat_b[j])
        vb = float(path.binance[j])
        live.append(
            (
                tb,
                wire.live_update(
                    conn_id,
                    "crypto_prices",
                    sym.binance_symbol,
                    s * 1000,
                    vb,
                    wire.binance_full(vb, sym.binance_decimals),
                    int(tb * 1000),
                ),
            )
        )
        tc = s + float(lat_c[j])
        vc = round(float(path.chainlink[j]), 8)
        live.append(
            (
                tc,
                wire.live_update(
                    conn_id,
                    "crypto_prices_chainlink",
                    sym.chainlink_symbol,
                    s * 1000,
                    vc,
                    wire.chainlink_full(vc),
                    int(tc * 1000),
                ),
            )
        )
    live.sort(key=lambda x: x[0])
    for j, (t_s, raw) in enumerate(live):
        recv = ns(t_s + float(lat_n[j % len(lat_n)]))
        if recv > ns(t_last):
            break
        last_live = max(last_live + 1000, recv)
        add(last_live, "live", raw)

    prices = ("1", "0") if winner == 0 else ("0", "1")
    closed_bbo = sim.last_bbo or open_bbo
    gamma_closed = gamma_market(
        sym, model, ids, slug, start, end, prices, True, closed_bbo, sim.last_trade
    )
    add(ns(t_closed), "gamma", wire.dumps([gamma_closed]), GAMMA_URL + slug)

    frames.sort(key=lambda f: (f[0], f[1]))
    session_dir = Path(out_dir) / slug
    session_dir.mkdir(parents=True, exist_ok=True)
    for name in ("frames.jsonl", "frames.jsonl.gz", "manifest.json"):
        (session_dir / name).unlink(missing_ok=True)
    manifest = Manifest(
        slug=slug,
        symbol=sym.symbol,
        timeframe=timeframe,
        condition_id=ids.market,
        token_up=ids.up,
        token_down=ids.down,
        window_start_s=start,
        window_end_s=end,
        tick_size=0.01,
        min_order_size=5.0,
        fees_enabled=True,
        fee_schedule=FeeSchedule(
            rate=model.fee_rate, exponent=1.0, taker_only=True, rebate_rate=0.2
        ),
        source="simulated",
    )
    write_manifest(session_dir, manifest)
    writer = FrameWriter(session_dir)
    resolved_ns = 0
    for t_ns, _, ch, raw, src in frames:
        writer.write(t_ns, ch, raw, src)
        if ch == "market" and raw.startswith('{"event_type":"market_resolved"'):
            resolved_ns = t_ns
    writer.close()
    finish_session(
        session_dir,
        manifest,
        resolution=Resolution(
            outcome="Up" if winner == 0 else "Down",
            source="market_resolved",
            known_at_ns=resolved_ns,
        ),
    )
    return session_dir
