"""Record the simulator's sample sessions back from serve: the same frames, the same outcome."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from support.recorder import config, record, recorded

from pk8opt.fakepm.server import FakePolymarket
from pk8opt.fakepm.timeline import load_venue
from pk8opt.polymarket.endpoints import VenueClock
from pk8opt.recordings.manifest import read_manifest

SLUG = "btc-updown-15m-1791986400"


@pytest.mark.slow
def test_sample_session_recorded_back_verbatim(tmp_path: Path, sample_dir: Path) -> None:
    if not (sample_dir / SLUG).exists():
        pytest.skip("recordings/sample not present")
    source = sample_dir / SLUG

    async def main() -> None:
        venue = load_venue([source])
        # Gamma keeps the market open: the resolution can only come from the socket's
        # market_resolved (else which of the two comes first is a race on a busy machine)
        venue.markets[SLUG].resolution_delay_s = 1e9
        speed = 150.0
        # 900 venue s (6 s) before the first frame: time for a loaded machine to start the
        # recorder and subscribe before the venue sends anything
        clock = VenueClock(venue.first_ns - int(900 * 1e9), time.time_ns(), speed)
        server = FakePolymarket(venue, clock)
        await server.start()
        try:
            # the live socket hears nothing until the first frame: no reconnect meanwhile
            cfg = config(server, tmp_path, ["BTC"], sessions=1, stale_s=30.0)
            cfg.timeframe = "15m"
            await record(cfg, 60.0)
        finally:
            await server.stop()

    asyncio.run(main())
    mine = read_manifest(tmp_path / SLUG)
    theirs = read_manifest(source)
    assert mine.status == "complete" and mine.gaps == []
    assert mine.resolution.outcome == theirs.resolution.outcome
    assert mine.resolution.source == "market_resolved"
    assert (mine.token_up, mine.token_down) == (theirs.token_up, theirs.token_down)
    src_market = [r for _, ch, r in recorded(source) if ch == "market" and r != "PONG"]
    assert [r for _, ch, r in recorded(tmp_path / SLUG) if ch == "market"] == src_market
