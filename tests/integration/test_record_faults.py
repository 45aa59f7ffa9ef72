"""Faults over real loopback sockets: a dropped connection, garbage, silent heartbeats."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.recorder import notes, recorded, run_with_fault

from pk8opt.fakepm.server import FakePolymarket
from pk8opt.record import Recorder


@pytest.mark.slow
def test_dropped_connection_is_one_gap_and_recording_goes_on(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    async def drop(server: FakePolymarket, rec: Recorder) -> None:
        assert server.drop("market") == 1

    rec, folder, m = run_with_fault(tmp_path, fixtures_dir, drop)
    assert m.status == "complete" and m.resolution.outcome == "Up"
    assert len(m.gaps) == 1
    gap = m.gaps[0]
    assert gap.socket == "market" and gap.duration_ns > 0
    assert rec.symbols[0].market.connects == 2
    frames = recorded(folder)
    gap_at = next(i for i, (_, ch, raw) in enumerate(frames) if ch == "note" and '"gap"' in raw)
    after = [raw for _, ch, raw in frames[gap_at + 1 :] if ch == "market"]
    # the fresh snapshot first, then the stream goes on
    assert '"bids"' in after[0] and len(after) > 10
    assert frames[gap_at][0] == gap.start_ns + gap.duration_ns
    assert len(notes(folder, "disconnected")) == 1
    assert len(notes(folder, "connected")) == 3  # market twice, live once


@pytest.mark.slow
def test_garbage_frames_are_recorded_counted_and_not_fatal(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    async def garbage(server: FakePolymarket, rec: Recorder) -> None:
        assert await server.garbage("market", 4) == 4
        assert await server.garbage("live", 2) == 2

    rec, folder, m = run_with_fault(tmp_path, fixtures_dir, garbage)
    assert m.status == "complete" and m.gaps == []
    assert rec.symbols[0].garbage == 6
    assert m.counts["text"] == 6  # verbatim in the session, counted as non-JSON text
    assert rec.symbols[0].market.connects == 1


@pytest.mark.slow
def test_missing_heartbeat_reconnects(tmp_path: Path, fixtures_dir: Path) -> None:
    async def mute(server: FakePolymarket, rec: Recorder) -> None:
        server.mute_pong = True
        while rec.symbols[0].market.connects < 2:
            await asyncio.sleep(0.01)
        server.mute_pong = False

    rec, folder, m = run_with_fault(tmp_path, fixtures_dir, mute, ping_s=0.1, stale_s=0.5)
    assert m.status == "complete"
    assert [g.socket for g in m.gaps] == ["market"]
    (disc,) = notes(folder, "disconnected")
    assert disc["reason"] == "missing heartbeat"
