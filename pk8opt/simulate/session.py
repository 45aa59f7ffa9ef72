"""One simulated session: the underlying path, the market, and every frame a recorder
would have written for that window, in the raw format, finished like a recorded one."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
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
from pk8opt.simulate.model import SimModel, SymbolModel, model_for
from pk8opt.simulate.path import (
    DT_S,
    STEPS_PER_S,
    SessionPath,
    rng_for,
    session_path,
    symbol_code,
)

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


@dataclass(frozen=True)
class _Times:
    """The venue times (seconds) of one simulated session's events."""

    begin: float  # the recorder asks Gamma
    resolved: float  # `market_resolved`
    stop: float  # the last trading
    closed: float  # Gamma shows the market closed
    last: float  # the last frame
    market_connected: float  # the market socket connects


def _times(rng: np.random.Generator, model: SimModel, start: int, end: int) -> _Times:
    begin = start - float(rng.uniform(*model.preroll_s))
    resolved = end + float(rng.uniform(*model.resolve_after_end_s))
    stop = min(end + float(rng.uniform(*model.trading_after_end_s)), resolved - 0.5)
    closed = resolved + float(rng.uniform(0.5, 4.0))
    last = closed + float(rng.uniform(0.5, 1.5))
    market_connected = begin + 0.08 + float(rng.uniform(0, 0.1))
    return _Times(begin, resolved, stop, closed, last, market_connected)


def _ns(t_s: float) -> int:
    """Seconds to ns, exact to the ns (t_s * 1e9 alone rounds to 256 ns)."""
    whole = math.floor(t_s)
    return whole * 1_000_000_000 + int(round((t_s - whole) * 1e9))


_Row = tuple[int, int, str, str, str | None]  # (recv ns, order made, ch, raw, src)


class _Frames:
    """The frames of a session in the order they are made."""

    def __init__(self) -> None:
        self.rows: list[_Row] = []

    def add(self, t_ns: int, ch: str, raw: str, src: str | None = None) -> None:
        self.rows.append((t_ns, len(self.rows), ch, raw, src))

    def in_order(self) -> list[_Row]:
        """By receive time; frames received at the same ns in the order made."""
        return sorted(self.rows, key=lambda f: (f[0], f[1]))


@dataclass(frozen=True)
class _Window:
    """What every step of one session shares."""

    sym: SymbolModel
    model: SimModel
    seed: int
    timeframe: str
    start: int
    end: int
    slug: str
    ids: MarketIds
    path: SessionPath
    winner: int  # 0: Up, 1: Down


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
    field names (e.g. `trade_rate=1.0`); see docs/simulator.md. The steps draw from one
    random generator, in this order: the ids, the times, the market, the live data.
    """
    sym, model = model_for(symbol, **overrides)
    step = timeframe_seconds(timeframe)
    start, end = int(window_start_s), int(window_start_s) + step
    slug = slug_for(sym.symbol, timeframe, start)
    rng = rng_for(seed, symbol_code(sym.symbol), 9, start, step)
    path = session_path(sym, model, seed, start, step, tail_s=130)
    ids = _ids(rng)
    times = _times(rng, model, start, end)
    cl_start, cl_end = path.chainlink_at(start), path.chainlink_at(end)
    winner = resolve_outcome(round(cl_start, 8), round(cl_end, 8))
    win = _Window(sym, model, seed, timeframe, start, end, slug, ids, path, winner)

    frames = _Frames()
    sim, open_bbo = _market_frames(frames, win, times, rng)
    _live_frames(frames, win, times, rng)
    prices = ("1", "0") if winner == 0 else ("0", "1")
    gamma_closed = gamma_market(
        sym, model, ids, slug, start, end, prices, True, sim.last_bbo or open_bbo, sim.last_trade
    )
    frames.add(_ns(times.closed), "gamma", wire.dumps([gamma_closed]), GAMMA_URL + slug)
    return _write_session(Path(out_dir) / slug, win, frames)


def _market_frames(
    frames: _Frames, win: _Window, times: _Times, rng: np.random.Generator
) -> tuple[MarketSim, tuple[int, int]]:
    """Gamma's first answer, the market socket's notes and frames (the initial dump,
    then the market's own, each after a latency; `market_resolved`) and its PONGs.
    Returns the market and its opening best bid/offer."""
    sym, model, ids, start, end = win.sym, win.model, win.ids, win.start, win.end
    t_mc = times.market_connected
    dump_ms = int(t_mc * 1000) + 30  # the initial dump's venue time
    g0 = math.ceil((dump_ms / 1000 + 0.05) * STEPS_PER_S) / STEPS_PER_S
    grid = g0 + np.arange(int((times.stop - g0) * STEPS_PER_S)) * DT_S
    fair = fair_values(win.path, sym, grid, start, end)
    sim = MarketSim(ids, model, rng)
    sim.seed_book(float(fair[0]))

    open_bbo = sim.last_bbo or (490, 510)
    gamma_open = gamma_market(
        sym, model, ids, win.slug, start, end, ("0.5", "0.5"), False, open_bbo, 500
    )
    frames.add(_ns(times.begin), "gamma", wire.dumps([gamma_open]), GAMMA_URL + win.slug)
    frames.add(_ns(t_mc), "note", note_text("connected", socket="market", url=MARKET_WS))
    frames.add(
        _ns(t_mc) + 200_000,
        "note",
        note_text("subscribed", socket="market", assets_ids=[ids.up, ids.down]),
    )
    dump = wire.dumps(sim.books(dump_ms, initial=True))

    step = end - start
    dump_rng = (
        rng_for(win.seed, symbol_code(sym.symbol), 10, start, step) if model.dump_rate else None
    )
    run_market(sim, model, rng, fair, grid, start, end, dump_rng)
    resolved_ms = int(times.resolved * 1000)
    resolved = wire.resolved_msg(
        ids.market, ids.gamma_id, [ids.up, ids.down], win.winner, resolved_ms
    )
    market_out = [(dump_ms, dump), *sim.out, (resolved_ms, wire.dumps(resolved))]
    last_recv = 0
    for ts_ms, raw in market_out:
        last_recv = max(last_recv + 1000, ts_ms * MS + _latency_ns(rng, model))
        frames.add(last_recv, "market", raw)
    k = 1
    while t_mc + model.pong_every_s * k < times.last:
        pong_ns = _ns(t_mc + model.pong_every_s * k) + 2 * _latency_ns(rng, model)
        frames.add(pong_ns, "market", "PONG")
        k += 1
    return sim, open_bbo


def _live_frames(frames: _Frames, win: _Window, times: _Times, rng: np.random.Generator) -> None:
    """The live-data socket: its notes, the backfill at subscribe, then every second's
    Binance and Chainlink prices, each after its latency, until the last frame."""
    sym = win.sym
    t_lc = times.market_connected + float(rng.uniform(0.05, 0.3))
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
    frames.add(_ns(t_lc), "note", note_text("connected", socket="live", url=LIVE_WS))
    frames.add(
        _ns(t_lc) + 150_000, "note", note_text("subscribed", socket="live", subscriptions=subs)
    )
    t_bf = t_lc + float(rng.uniform(0.05, 0.2))
    now_s = math.floor(t_bf - 0.1) + 1  # the backfill holds the seconds before this
    t_bf2 = _live_backfill(frames, win, t_bf, now_s)
    n = len(win.path.seconds)
    lat_b = rng.uniform(0.1, 0.25, size=n)
    lat_c = rng.uniform(0.9, 1.5, size=n)
    lat_n = rng.uniform(0.02, 0.06, size=n)
    live = _live_updates(win, conn_id, now_s, lat_b, lat_c)
    last_live = _ns(t_bf2)
    for j, (t_s, raw) in enumerate(live):
        recv = _ns(t_s + float(lat_n[j % len(lat_n)]))
        if recv > _ns(times.last):
            break
        last_live = max(last_live + 1000, recv)
        frames.add(last_live, "live", raw)


def _live_backfill(frames: _Frames, win: _Window, t_bf: float, now_s: int) -> float:
    """The Binance then the Chainlink backfill of the seconds before `now_s`; returns
    the time of the second."""
    sym, path = win.sym, win.path
    first_s = int(path.seconds[0])
    back = range(max(now_s - win.model.backfill_s, first_s), now_s)
    bin_pts = [{"timestamp": s * 1000, "value": float(path.binance[s - first_s])} for s in back]
    frames.add(
        _ns(t_bf),
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
    frames.add(
        _ns(t_bf2),
        "live",
        wire.live_backfill(
            "crypto_prices_chainlink", sym.chainlink_symbol, cl_pts, int(t_bf2 * 1000)
        ),
    )
    return t_bf2


def _live_updates(
    win: _Window, conn_id: str, now_s: int, lat_b: np.ndarray, lat_c: np.ndarray
) -> list[tuple[float, str]]:
    """Every second from `now_s` on: its Binance and its Chainlink update, each with
    the time it is sent, in that order."""
    sym, path = win.sym, win.path
    live: list[tuple[float, str]] = []
    for j, s in enumerate(path.seconds.tolist()):
        if s < now_s:
            continue
        tb = s + float(lat_b[j])
        vb = float(path.binance[j])
        binance = wire.live_update(
            conn_id,
            "crypto_prices",
            sym.binance_symbol,
            s * 1000,
            vb,
            wire.binance_full(vb, sym.binance_decimals),
            int(tb * 1000),
        )
        live.append((tb, binance))
        tc = s + float(lat_c[j])
        vc = round(float(path.chainlink[j]), 8)
        chainlink = wire.live_update(
            conn_id,
            "crypto_prices_chainlink",
            sym.chainlink_symbol,
            s * 1000,
            vc,
            wire.chainlink_full(vc),
            int(tc * 1000),
        )
        live.append((tc, chainlink))
    live.sort(key=lambda x: x[0])
    return live


def _write_session(session_dir: Path, win: _Window, frames: _Frames) -> Path:
    """The session folder, made afresh: the manifest, the frames, then finished with
    the resolution (known at the `market_resolved` frame)."""
    session_dir.mkdir(parents=True, exist_ok=True)
    for name in ("frames.jsonl", "frames.jsonl.gz", "manifest.json"):
        (session_dir / name).unlink(missing_ok=True)
    manifest = Manifest(
        slug=win.slug,
        symbol=win.sym.symbol,
        timeframe=win.timeframe,
        condition_id=win.ids.market,
        token_up=win.ids.up,
        token_down=win.ids.down,
        window_start_s=win.start,
        window_end_s=win.end,
        tick_size=0.01,
        min_order_size=5.0,
        fees_enabled=True,
        fee_schedule=FeeSchedule(
            rate=win.model.fee_rate, exponent=1.0, taker_only=True, rebate_rate=0.2
        ),
        source="simulated",
    )
    write_manifest(session_dir, manifest)
    writer = FrameWriter(session_dir)
    resolved_ns = 0
    for t_ns, _, ch, raw, src in frames.in_order():
        writer.write(t_ns, ch, raw, src)
        if ch == "market" and raw.startswith('{"event_type":"market_resolved"'):
            resolved_ns = t_ns
    writer.close()
    finish_session(
        session_dir,
        manifest,
        resolution=Resolution(
            outcome="Up" if win.winner == 0 else "Down",
            source="market_resolved",
            known_at_ns=resolved_ns,
        ),
    )
    return session_dir
