"""Small sessions built from real captured frames, for tests and benchmarks of serve/record.

`fixture_session` takes the real market-socket burst and real live-data frames from
`shared/fixtures/polymarket/`, spreads them over a window and writes a finished session
with `FrameWriter` + `finish_session`. Frames are verbatim except, for a second window,
the market's ids, which are replaced consistently so two windows have distinct tokens.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pk8opt.polymarket.slugs import slug_for, timeframe_seconds
from pk8opt.recordings.manifest import Manifest, Outcome, Resolution, write_manifest
from pk8opt.recordings.raw import FrameWriter
from pk8opt.recordings.session import finish_session

BURST = "market_ws/ws_market_price_change_crossing_burst.frames.jsonl"
BURST_TOKENS = (
    "76670567130917723816490572615540605537878462672464291990940067659127658071111",
    "54179564009642723353355316176091991063553046330768303687769988635499280029688",
)
BURST_CONDITION = "0x285746de0e4f751fd4dc8f9dc2cecd0101ba9ad0096a43145ed9643b09514f01"
LIVE_FILE = "rtds/rtds_frames_2026-09-05_polyoxide_spec.jsonl"


def _digits(seed: str, n: int) -> str:
    out = ""
    while len(out) < n:
        seed = hashlib.sha256(seed.encode()).hexdigest()
        out += str(int(seed, 16))
    return "1" + out[: n - 1]


def ids_for(symbol: str, start_s: int) -> tuple[str, str, str]:
    """Stable fake (token_up, token_down, condition_id) for a symbol and window."""
    key = f"{symbol}-{start_s}"
    cond = "0x" + hashlib.sha256(key.encode()).hexdigest()
    return _digits(key + "up", 77), _digits(key + "down", 77), cond


def burst_frames(fixtures: Path) -> list[str]:
    return [ln for ln in (fixtures / BURST).read_text().splitlines() if ln.strip()]


def live_frames(fixtures: Path, symbol: str = "BTC") -> list[str]:
    """The real price updates (Binance and Chainlink) of the live fixture, for `symbol`."""
    out = []
    for line in (fixtures / LIVE_FILE).read_text().splitlines():
        if '"crypto_prices"' in line or '"crypto_prices_chainlink"' in line:
            if symbol != "BTC":
                line = line.replace("btcusdt", f"{symbol.lower()}usdt")
                line = line.replace("btc/usd", f"{symbol.lower()}/usd")
            out.append(line)
    return out


def fixture_session(
    root: Path,
    fixtures: Path,
    symbol: str,
    start_s: int,
    timeframe: str = "15m",
    market_every_s: float = 2.0,
    live_every_s: float = 1.0,
    first_offset_s: float = 5.0,
    span_s: float | None = None,
    outcome: Outcome = "Up",
    resolution_delay_s: float = 30.0,
    repeat: int = 1,
    live_tail_s: float = 60.0,
) -> Path:
    """Write one finished session: the burst `repeat` times at `market_every_s` and the live
    updates every `live_every_s` from `start_s + first_offset_s` until `live_tail_s` after
    the window end (prices go on while the market resolves)."""
    step = timeframe_seconds(timeframe)
    slug = slug_for(symbol, timeframe, start_s)
    up, down, cond = ids_for(symbol, start_s)
    folder = Path(root) / slug
    manifest = Manifest(
        slug=slug,
        symbol=symbol,
        timeframe=timeframe,
        condition_id=cond,
        token_up=up,
        token_down=down,
        window_start_s=start_s,
        window_end_s=start_s + step,
        source="imported",
    )
    folder.mkdir(parents=True, exist_ok=True)
    write_manifest(folder, manifest)
    market = []
    for raw in burst_frames(fixtures) * repeat:
        raw = raw.replace(BURST_TOKENS[0], up).replace(BURST_TOKENS[1], down)
        market.append(raw.replace(BURST_CONDITION, cond))
    live = live_frames(fixtures, symbol)
    t0 = int((start_s + first_offset_s) * 1e9)
    span_ns = int((span_s if span_s is not None else step - first_offset_s) * 1e9)
    timed: list[tuple[int, str, str]] = []
    for i, raw in enumerate(market):
        t = t0 + int(i * market_every_s * 1e9)
        if t - t0 <= span_ns:
            timed.append((t, "market", raw))
    live_span_ns = int((start_s + step + live_tail_s) * 1e9) - t0
    n_live = int(live_span_ns / (live_every_s * 1e9)) + 1
    for i in range(n_live):
        timed.append((t0 + 1 + int(i * live_every_s * 1e9), "live", live[i % len(live)]))
    timed.sort(key=lambda x: x[0])
    writer = FrameWriter(folder)
    for t, ch, raw in timed:
        writer.write(t, ch, raw)
    writer.close()
    known = int((start_s + step + resolution_delay_s) * 1e9)
    finish_session(folder, manifest, resolution=Resolution(outcome, "gamma", known))
    return folder
