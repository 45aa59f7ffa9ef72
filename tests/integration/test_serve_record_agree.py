"""`pk8opt serve` and `pk8opt record` agree: what the fake venue sends a subscriber is the
book as it stands, so a recording made against it passes `pk8opt recordings check`; and
the recorder's own stop is no gap, for `check` as for `recordings ls`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.record_cli import PK8, start_record, start_serve
from support.recorder import START
from websockets.asyncio.client import connect

from pk8opt.fakepm.build import fixture_session
from pk8opt.fakepm.server import FakePolymarket
from pk8opt.fakepm.timeline import load_venue
from pk8opt.polymarket.endpoints import VenueClock
from pk8opt.polymarket.wire import ASK, BID, BookSnapshot, parse_market_frame, price_milli
from pk8opt.recordings.book import MarketBook
from pk8opt.recordings.load import load_session
from pk8opt.recordings.manifest import read_manifest
from pk8opt.recordings.raw import frames_path, read_frames
from pk8opt.recordings.schema import Kind
from pk8opt.simulate import simulate_session

SLUG = f"btc-updown-5m-{START}"


def captured(src: Path, fixtures: Path) -> Path:
    """The real burst capture three times over the window: books of the Up token only
    (the Down token's book is the Up book mirrored), level updates of both."""
    return fixture_session(src, fixtures, "BTC", START, "5m", first_offset_s=0.5, repeat=3)


def simulated(src: Path, fixtures: Path) -> Path:
    """A simulated window: the initial books of both tokens, a fresh book after trades."""
    return simulate_session(src, "BTC", START, seed=11, timeframe="5m")


SOURCES: dict[str, Callable[[Path, Path], Path]] = {"captured": captured, "simulated": simulated}


def _received(raw: str, tokens: list[str]) -> MarketBook:
    """What a client makes of the books of one message, on the rules `check` replays with."""
    book = MarketBook()
    for ev in parse_market_frame(raw):
        assert isinstance(ev, BookSnapshot), ev
        tok = tokens.index(ev.asset_id)
        book.apply(int(Kind.BOOK_RESET), tok, -1, -1, 0.0, 1)
        for side, levels in ((BID, ev.bids), (ASK, ev.asks)):
            for price, size in levels:
                book.apply(int(Kind.LEVEL), tok, side, price, size, 1)
    return book


@pytest.mark.parametrize("source", SOURCES)
def test_a_late_subscriber_gets_each_book_as_it_stands(
    tmp_path: Path, fixtures_dir: Path, source: str
) -> None:
    folder = SOURCES[source](tmp_path / "src", fixtures_dir)
    m = read_manifest(folder)
    tokens = [m.token_up, m.token_down]
    venue = load_venue([tmp_path / "src"])
    # a moment between two snapshots: after the first books and many level updates
    first_book = next(f.t for f in venue.market_frames if '"bids"' in f.raw)
    times = [f.t for f in venue.market_frames if f.t > first_book]
    at = times[len(times) // 7] + 1

    async def first_message(server: FakePolymarket, assets: list[str]) -> str:
        async with connect(server.env()["PK8_CLOB_WS_URL"]) as ws:
            await ws.send(json.dumps({"assets_ids": assets, "type": "market"}))
            return str(await asyncio.wait_for(ws.recv(), 5))

    async def main() -> tuple[FakePolymarket, str, str]:
        server = FakePolymarket(venue, VenueClock(at, time.time_ns(), 1.0), keep_sent=True)
        await server.start()
        try:
            both = await first_message(server, tokens)
            down = await first_message(server, [m.token_down])
            return server, both, down
        finally:
            await server.stop()

    server, both, down = asyncio.run(main())
    sent = json.loads(both)
    books = sent if isinstance(sent, list) else [sent]
    for b in books:
        assert (b["event_type"], b["market"]) == ("book", m.condition_id)
    events = load_session(folder).events

    def reference(t: int) -> MarketBook:
        """The book every frame received up to `t` makes (the one `check` replays)."""
        upto = int((events["local_ns"] <= t).sum())
        assert 0 < upto < len(events["local_ns"])
        book = MarketBook()
        book.apply_rows(events, 0, upto)
        return book

    first_sent: dict[int, int] = {}  # client -> venue time of the first message it was sent
    for client, _, t, _ in server.sent:
        first_sent.setdefault(client, t)
    both_at, down_at = first_sent.values()
    ref = reference(both_at)
    assert ref.mirror[1] == (source == "captured")  # no Down book of its own in the capture
    # a client of both tokens: each book as it stands (the capture's Down book comes as the
    # Up book, mirrored, which it follows as the recorded client did)
    assert [b["asset_id"] for b in books] == tokens[: 1 if ref.mirror[1] else 2]
    got = _received(both, tokens)
    for tok in (0, 1):
        assert (got[tok].bids, got[tok].asks) == (ref[tok].bids, ref[tok].asks)
    # worst first: the best bid and the best ask come last
    for b in books:
        tok = tokens.index(b["asset_id"])
        assert price_milli(b["bids"][-1]["price"]) == ref[tok].best_bid
        assert price_milli(b["asks"][-1]["price"]) == ref[tok].best_ask
    # a client of the Down token alone: its book, mirrored or its own
    assert json.loads(down)["asset_id"] == m.token_down
    ref_down, got_down = reference(down_at), _received(down, tokens)
    assert (got_down[1].bids, got_down[1].asks) == (ref_down[1].bids, ref_down[1].asks)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PK8, *args], capture_output=True, text=True, timeout=120)


def _record_against_serve(src: Path, out: Path, speed: float, *args: str) -> str:
    """Serve `src` from its first frame on (the recorder subscribes late), record until
    the recorder exits; its stderr."""
    serve, env = start_serve(src, speed, 0.0)
    try:
        rec = start_record(out, env, *args)
        _, err = rec.communicate(timeout=90)
        assert rec.returncode == 0, err
        return err
    finally:
        serve.terminate()
        serve.wait(10)


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES)
def test_a_window_recorded_against_serve_passes_check(
    tmp_path: Path, fixtures_dir: Path, source: str
) -> None:
    SOURCES[source](tmp_path / "src", fixtures_dir)
    out = tmp_path / "out"
    _record_against_serve(tmp_path / "src", out, 50.0, "--sessions", "1")
    m = read_manifest(out / SLUG)
    assert m.status == "complete" and m.gaps == []
    # the recorder came in after the window's first books: it was sent the books as they stood
    src_first = read_manifest(tmp_path / "src" / SLUG).first_ns
    assert m.first_ns is not None and src_first is not None and m.first_ns > src_first
    check = _cli("recordings", "check", str(out / SLUG))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "1 of 1 session(s) ok" in check.stdout


@pytest.mark.slow
def test_a_clean_stop_is_no_gap(tmp_path: Path, fixtures_dir: Path) -> None:
    captured(tmp_path / "src", fixtures_dir)
    out = tmp_path / "out"
    _record_against_serve(tmp_path / "src", out, 20.0, "--duration", "4")
    m = read_manifest(out / SLUG)
    assert m.status == "incomplete"  # stopped inside the window
    frames, _ = read_frames(frames_path(out / SLUG))
    notes = [json.loads(f.raw) for f in frames if f.ch == "note"]
    assert {"kind": "disconnected", "socket": "market", "reason": "stopped"} in notes
    assert sum(f.ch == "market" for f in frames) > 5

    ls = _cli("recordings", "ls", "--json", str(out))
    assert [r["gaps"] for r in json.loads(ls.stdout)] == [0]
    check = _cli("recordings", "check", "--json", str(out))
    (result,) = json.loads(check.stdout)
    # the window has no resolution yet; nothing else is wrong, and no gap
    assert [f["kind"] for f in result["findings"]] == ["resolution"], result["findings"]
