"""Record from the fake Polymarket over real loopback sockets and compare frame by frame."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from support.recorder import START, config, record, recorded, serving
from support.sessions import custom_session

from pk8opt.fakepm.build import fixture_session
from pk8opt.fakepm.server import FakePolymarket
from pk8opt.record import Recorder
from pk8opt.recordings.manifest import read_manifest


def served(server: FakePolymarket) -> Counter[tuple[str, str]]:
    return Counter((sock, raw) for _, sock, _, raw in server.sent)


def recorded_union(folders: list[Path]) -> Counter[tuple[str, str]]:
    """Every market/live frame across sessions, a frame written to two sessions once."""
    seen = {(t, ch, raw) for f in folders for t, ch, raw in recorded(f) if ch in ("market", "live")}
    return Counter((ch, raw) for _, ch, raw in seen)


@pytest.mark.slow
def test_recording_equals_what_was_served(tmp_path: Path, fixtures_dir: Path) -> None:
    src = tmp_path / "src"
    for symbol in ("BTC", "ETH"):
        fixture_session(
            src, fixtures_dir, symbol, START, "5m", first_offset_s=0.5, repeat=3, live_tail_s=20
        )

    async def main() -> tuple[FakePolymarket, Recorder]:
        async with serving([src]) as server:
            rec = await record(config(server, tmp_path / "out", ["BTC", "ETH"], sessions=2))
            return server, rec

    server, rec = asyncio.run(main())
    assert rec.finished == 2
    folders = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in folders] == [f"btc-updown-5m-{START}", f"eth-updown-5m-{START}"]
    for folder in folders:
        m = read_manifest(folder)
        assert m.status == "complete"
        assert m.resolution.outcome == "Up" and m.resolution.source == "gamma"
        assert m.gaps == []
        # the whole served window is there: every market frame of the source session
        src_frames = recorded(src / folder.name)
        mine = recorded(folder)
        assert [r for _, ch, r in mine if ch == "market"] == [
            r for _, ch, r in src_frames if ch == "market"
        ]
        # nothing but notes and Gamma responses added
        assert {ch for _, ch, _ in mine} == {"market", "live", "note", "gamma"}
    assert recorded_union(folders) == served(server)


@pytest.mark.slow
def test_rollover_between_two_windows(tmp_path: Path, fixtures_dir: Path) -> None:
    src = tmp_path / "src"
    for start in (START, START + 300):
        fixture_session(
            src, fixtures_dir, "BTC", start, "5m", first_offset_s=0.5, repeat=3, live_tail_s=20
        )

    async def main() -> tuple[FakePolymarket, Recorder]:
        async with serving([src]) as server:
            rec = await record(config(server, tmp_path / "out", ["BTC"], sessions=2), 20.0)
            return server, rec

    server, rec = asyncio.run(main())
    first, second = sorted((tmp_path / "out").iterdir())
    m1, m2 = read_manifest(first), read_manifest(second)
    assert (m1.status, m2.status) == ("complete", "complete")
    assert m1.resolution.outcome == m2.resolution.outcome == "Up"
    # the next window was subscribed on the open socket before the first ended ...
    assert m2.first_ns is not None and m2.first_ns < m1.window_end_s * 10**9
    # ... and the first was kept open into the next window until it resolved
    assert m1.last_ns is not None and m1.last_ns > m1.window_end_s * 10**9
    assert m1.gaps == [] and m2.gaps == []
    market_connects = [
        raw for _, ch, raw in recorded(first) if ch == "note" and '"connected"' in raw
    ]
    assert sum('"market"' in r for r in market_connects) == 1  # one socket, no reconnect
    # each window got exactly its own market frames
    for folder in (first, second):
        src_market = [r for _, ch, r in recorded(src / folder.name) if ch == "market"]
        assert [r for _, ch, r in recorded(folder) if ch == "market"] == src_market
    assert recorded_union([first, second]) == served(server)


def test_market_resolved_on_the_socket_finishes_the_session(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    custom_session(tmp_path / "src", fixtures_dir)

    async def main() -> Recorder:
        async with serving([tmp_path / "src"], lead_s=20) as server:
            return await record(config(server, tmp_path / "out", ["BTC"], sessions=1))

    assert asyncio.run(main()).finished == 1
    m = read_manifest(tmp_path / "out" / f"btc-updown-5m-{START}")
    assert m.status == "complete"
    assert (m.resolution.outcome, m.resolution.source) == ("Up", "market_resolved")
    assert m.counts["market_resolved"] == 1 and m.counts["best_bid_ask"] == 1
