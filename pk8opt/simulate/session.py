"""One simulated session: the underlying path, the market, and every frame a recorder
would have written for that window, in the raw format, finished like a recorded one."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pk8opt.polymarket.slugs import slug_for, timeframe_seconds
from pk8opt.recordings.manifest import FeeSchedule, Manifest, Resolution, write_manifest
from pk8opt.recordings.raw import FrameWriter, note_text
from pk8opt.recordings.session import finish_session
from pk8opt.simulate import wire
from pk8opt.simulate.market import MarketIds, MarketSim
from pk8opt.simulate.model import SECONDS_PER_YEAR, SimModel, SymbolModel, model_for
from pk8opt.simulate.path import DT_S, STEPS_PER_S, SessionPath, rng_for, session_path, symbol_code

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


def _phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * np.array([math.erfc(-v / math.sqrt(2)) for v in x.tolist()])


def _fair(
    path: SessionPath, sym: SymbolModel, times: np.ndarray, start: int, end: int
) -> np.ndarray:
    """P(Chainlink at end >= Chainlink at start) as the makers see it at each time."""
    x = path.log_price[
        np.clip(((times - path.t0_s) * STEPS_PER_S).round().astype(int), 0, len(path.log_price) - 1)
    ]
    s0 = math.log(path.chainlink_at(start))
    var_s = (sym.annual_vol * path.regime) ** 2 / SECONDS_PER_YEAR
    tau = np.maximum(end - times, 0.5)
    sd = np.sqrt(var_s * tau)
    f = _phi((x - s0 - 0.5 * var_s * tau) / sd)
    f = np.where(times < start, 0.5, f)
    cl_end = math.log(path.chainlink_at(end))
    after = 0.5 * math.erfc(-(cl_end - s0) / math.sqrt(2 * var_s * 0.5))
    f = np.where(times >= end, after, f)
    return np.clip(f, 0.003, 0.997)


def _et_label(start: datetime, end: datetime) -> str:
    try:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("America/New_York")
        a, b = start.astimezone(tz), end.astimezone(tz)
    except Exception:  # no tz database: Eastern standard time
        a, b = start - timedelta(hours=5), end - timedelta(hours=5)

    def hm(d: datetime) -> str:
        return f"{d.hour % 12 or 12}:{d.minute:02d}{'AM' if d.hour < 12 else 'PM'}"

    return f"{a.strftime('%B')} {a.day}, {hm(a)}-{hm(b)} ET"


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gamma_market(
    sym: SymbolModel,
    model: SimModel,
    ids: MarketIds,
    slug: str,
    start: int,
    end: int,
    prices: tuple[str, str],
    closed: bool,
    bbo: tuple[int, int],
    last: int,
) -> dict[str, Any]:
    s_dt, e_dt = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    stream = f"https://data.chain.link/streams/{sym.symbol.lower()}-usd"
    obj: dict[str, Any] = {
        "id": ids.gamma_id,
        "question": f"{sym.name} Up or Down - {_et_label(s_dt, e_dt)}",
        "conditionId": ids.market,
        "slug": slug,
        "resolutionSource": stream,
        "endDate": _iso(end),
        "startDate": _iso(start - 86400 + 615)[:-1] + ".861305Z",
        "description": (
            f'This market will resolve to "Up" if the {sym.name} price at the end of the time '
            "range specified in the title is greater than or equal to the price at the beginning "
            'of that range. Otherwise, it will resolve to "Down".\nThe resolution source for '
            f"this market is information from Chainlink, specifically the {sym.symbol}/USD data "
            f"stream available at {stream}."
        ),
        "outcomes": '["Up", "Down"]',
        "outcomePrices": wire.dumps(list(prices)).replace('","', '", "'),
        "active": True,
        "closed": closed,
        "questionID": "0x" + ids.market[2:][::-1],
        "enableOrderBook": True,
        "orderPriceMinTickSize": 0.01,
        "orderMinSize": 5,
        "clobTokenIds": f'["{ids.up}", "{ids.down}"]',
        "acceptingOrders": not closed,
        "negRisk": False,
        "spread": round((bbo[1] - bbo[0]) / 1000, 3),
        "lastTradePrice": last / 1000,
        "bestBid": bbo[0] / 1000,
        "bestAsk": bbo[1] / 1000,
        "umaResolutionStatuses": "[]",
        "eventStartTime": _iso(start),
        "feesEnabled": True,
        "feeSchedule": {
            "exponent": 1,
            "rate": model.fee_rate,
            "takerOnly": True,
            "rebateRate": 0.2,
        },
    }
    if closed:
        obj["closedTime"] = datetime.fromtimestamp(end + 60, UTC).strftime("%Y-%m-%d %H:%M:%S+00")
        obj["automaticallyResolved"] = True
    return obj


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    from pk8opt.simulate.path import _ar1_logs

    return _ar1_logs(rng, n, phi, sd)


def _run_market(
    sim: MarketSim,
    model: SimModel,
    rng: np.random.Generator,
    fair: np.ndarray,
    times: np.ndarray,
    end: int,
) -> None:
    n = len(times)
    phi = math.exp(-math.log(2) / 5.0 * DT_S)
    center = np.clip(fair + _ar1(rng, n, phi, model.mm_noise), 0.002, 0.998)
    lag = 5 * STEPS_PER_S
    moved = np.abs(fair - np.concatenate((np.full(lag, fair[0]), fair[:-lag])))
    to_end = end - times
    end_term = np.where(
        to_end >= 0,
        model.busy_end_mult * np.exp(-np.abs(to_end) / model.busy_end_s),
        model.busy_end_mult * np.exp(to_end / model.after_end_decay_s),
    )
    busy = 1 + end_term + model.busy_move_mult * np.minimum(moved / 0.05, 3.0)
    busy *= np.where(to_end < 0, np.exp(to_end / model.after_end_decay_s), 1.0)
    quotes = rng.poisson(model.quote_rate * busy * DT_S)
    trades = rng.poisson(model.trade_rate * busy * DT_S)
    spread_redraw = rng.random(n) < model.spread_redraw_rate * DT_S
    offsets = rng.integers(0, 100, size=n)
    pending: float | None = None
    was_near_end = False
    clock = 0
    inertia = model.mm_inertia_ticks
    for i in range(n):
        t = float(times[i])
        clock = max(clock, int(t * 1000) + int(offsets[i]))
        tbb, tba = sim.targets(float(center[i]), sim.spread_ticks)
        if pending is None:
            lbb, lba = sim.quoted
            off = max(abs(lbb - tbb), abs(lba - tba)) / sim.tick
            if off >= inertia or spread_redraw[i]:
                pending = t + float(rng.exponential(model.mm_react_s))
        if pending is not None and t >= pending:
            near_end = 0 <= end - t <= 60
            redraw = bool(spread_redraw[i]) or near_end != was_near_end
            was_near_end = near_end
            clock = sim.requote(clock, float(center[i]), near_end, redraw) + 1
            pending = None
        for _ in range(int(quotes[i])):
            clock += int(rng.integers(1, 40))
            sim.noise_quote(clock)
        for _ in range(int(trades[i])):
            clock += int(rng.integers(1, 40))
            sim.trade(clock, float(fair[i]))


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
    winner = 0 if round(cl_end, 8) >= round(cl_start, 8) else 1

    g0 = math.ceil(t_begin * STEPS_PER_S + 1) / STEPS_PER_S
    times = g0 + np.arange(int((t_stop - g0) * STEPS_PER_S)) * DT_S
    fair = _fair(path, sym, times, start, end)
    sim = MarketSim(ids, model, rng)
    sim.seed_book(float(fair[0]))
    frames: list[tuple[int, int, str, str, str | None]] = []  # (recv ns, order, ch, raw, src)

    def add(t_ns: int, ch: str, raw: str, src: str | None = None) -> None:
        frames.append((t_ns, len(frames), ch, raw, src))

    ns = lambda t_s: int(round(t_s * 1e9))  # noqa: E731
    open_bbo = sim.last_bbo or (490, 510)
    gamma_open = gamma_market(
        sym, model, ids, slug, start, end, ("0.5", "0.5"), False, open_bbo, 500
    )
    add(ns(t_begin), "gamma", wire.dumps([gamma_open]), GAMMA_URL + slug)
    t_mc = t_begin + 0.08 + float(rng.uniform(0, 0.1))
    add(ns(t_mc), "note", note_text("connected", socket="market", url=MARKET_WS))
    add(
        ns(t_mc) + 200_000,
        "note",
        note_text("subscribed", socket="market", assets_ids=[ids.up, ids.down]),
    )
    dump_ms = int(t_mc * 1000) + 30
    dump = wire.dumps(sim.books(dump_ms, initial=True))
    sim_out_start = (dump_ms, dump)

    # market frames: the initial dump, then the market's own, each after a latency
    _run_market(sim, model, rng, fair, times, end)
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
    while t_mc + 10 * k < t_last:
        add(ns(t_mc + 10 * k) + 2 * _latency_ns(rng, model), "market", "PONG")
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
    now_s = int(t_lc)
    back = range(max(now_s - model.backfill_s, first_s), now_s)
    t_bf = t_lc + float(rng.uniform(0.05, 0.2))
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
