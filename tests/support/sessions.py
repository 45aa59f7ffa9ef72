"""Session folders written from the captured Polymarket frames (tests/fixtures/polymarket)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from pk8opt.fakepm.build import ids_for
from pk8opt.recordings.manifest import Manifest, Resolution, write_manifest
from pk8opt.recordings.raw import FrameWriter
from pk8opt.recordings.session import finish_session

# the market of the real burst capture
UP = "76670567130917723816490572615540605537878462672464291990940067659127658071111"
DOWN = "54179564009642723353355316176091991063553046330768303687769988635499280029688"
MARKET = "0x285746de0e4f751fd4dc8f9dc2cecd0101ba9ad0096a43145ed9643b09514f01"
START = 1790658000  # a multiple of 300 and 900
SLUG = f"btc-updown-15m-{START}"
BURST = "market_ws/ws_market_price_change_crossing_burst.frames.jsonl"
# the token ids in the captured market_resolved message
FIX_IDS = (
    "76043073756653678226373981964075571318267289248134717369284518995922789326425",
    "31690934263385727664202099278545688007799199447969475608906331829650099442770",
)


def manifest(**changes) -> Manifest:
    m = Manifest(
        slug=SLUG,
        symbol="BTC",
        timeframe="15m",
        condition_id=MARKET,
        token_up=UP,
        token_down=DOWN,
        window_start_s=START,
        window_end_s=START + 900,
    )
    return msgspec.structs.replace(m, **changes)


def write_session(root: Path, fixtures_dir: Path, extra=(), m: Manifest | None = None) -> Path:
    """A session of the real burst capture (lines 2..52), live prices, then `extra`
    frames (ch, raw); line 1 is a `connected` note."""
    m = m or manifest()
    d = root / m.slug
    d.mkdir(parents=True)
    write_manifest(d, m)
    w = FrameWriter(d)
    t = START * 10**9
    w.note(t, "connected", socket="market")
    for line in (fixtures_dir / BURST).read_text().splitlines():
        t += 10**8
        w.write(t, "market", line)
    for line in (
        (fixtures_dir / "rtds/rtds_frames_2026-09-05_polyoxide_spec.jsonl").read_text().splitlines()
    ):
        t += 10**6
        w.write(t, "live", line)
    for ch, raw in extra:
        t += 10**6
        w.write(t, ch, raw)
    w.close()
    return d


def resolved_raw(winner: str = UP) -> str:
    return json.dumps(
        {"event_type": "market_resolved", "market": MARKET, "winning_asset_id": winner,
         "winning_outcome": "Up", "assets_ids": [UP, DOWN], "timestamp": "1790659000000"}
    )  # fmt: skip


def custom_session(root: Path, fixtures: Path) -> tuple[Path, str, str]:
    """A session whose market frames are real fixture messages: book, best_bid_ask,
    market_resolved, price_change (custom ones only reach custom_feature_enabled clients)."""
    up, down, cond = ids_for("BTC", START)
    slug = f"btc-updown-5m-{START}"
    folder = root / slug
    folder.mkdir(parents=True)
    m = Manifest(slug, "BTC", "5m", cond, up, down, START, START + 300)
    write_manifest(folder, m)
    w = FrameWriter(folder)
    t = (START + 10) * 10**9
    book = json.loads((fixtures / "market_ws/ws_market_book_msg.json").read_text())
    book["asset_id"] = up
    w.write(t, "market", json.dumps(book))
    bba = json.loads((fixtures / "market_ws/ws_market_best_bid_ask_msg.json").read_text())
    bba["asset_id"] = up
    w.write(t + 10**9, "market", json.dumps(bba))
    resolved = (fixtures / "market_ws/ws_market_resolved_msg.json").read_text()
    resolved = resolved.replace(FIX_IDS[0], up).replace(FIX_IDS[1], down)
    w.write(t + 2 * 10**9, "market", json.dumps(json.loads(resolved)))
    pc = json.loads((fixtures / "market_ws/ws_market_price_change_msg.json").read_text())
    for change in pc.get("price_changes", []):
        change["asset_id"] = down
    w.write(t + 3 * 10**9, "market", json.dumps(pc))
    w.close()
    finish_session(folder, m, resolution=Resolution("Up", "market_resolved", (START + 360) * 10**9))
    return folder, up, down
