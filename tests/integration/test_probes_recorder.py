"""The recorder against a venue that breaks: a market socket that accepts and closes is
named in the last line and fails the run; a broken connection is a gap that starts at the
last frame the socket delivered. Real sockets on loopback, real files."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from support.record_cli import start_serve
from support.recorder import recorded, run_with_fault
from support.sessions import START

from pk8opt.fakepm.broken import Slammer
from pk8opt.fakepm.build import fixture_session
from pk8opt.fakepm.server import FakePolymarket
from pk8opt.record import Recorder

PK8 = [sys.executable, "-m", "pk8opt.cli"]


async def _drop(server: FakePolymarket, rec: Recorder) -> None:
    assert server.drop("market") == 1  # the connection is cut under the recorder


async def _dead_heartbeat(server: FakePolymarket, rec: Recorder) -> None:
    server.mute_pong = True  # no PONG: the recorder finds the connection dead `stale_s` later
    while rec.symbols[0].market.connects < 2:
        await asyncio.sleep(0.01)
    server.mute_pong = False


FAULTS: dict[str, tuple[Callable[[FakePolymarket, Recorder], Awaitable[None]], dict]] = {
    "dropped": (_drop, {}),
    "dead heartbeat": (_dead_heartbeat, {"ping_s": 0.1, "stale_s": 0.5}),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_gap_starts_at_the_last_frame_the_socket_delivered(
    tmp_path: Path, fixtures_dir: Path, fault: str
) -> None:
    breaks, settings = FAULTS[fault]
    rec, folder, m = run_with_fault(tmp_path, fixtures_dir, breaks, **settings)
    assert m.status == "complete" and rec.symbols[0].market.connects == 2
    (gap,) = m.gaps
    frames = recorded(folder)
    (cut,) = [
        i for i, (_, ch, raw) in enumerate(frames) if ch == "note" and '"disconnected"' in raw
    ]
    last_before = max(t for t, ch, _ in frames[:cut] if ch == "market")
    assert gap.socket == "market"
    assert gap.start_ns == last_before  # not when the break was noticed
    assert frames[cut][0] > gap.start_ns  # noticed later: that time is inside the gap
    end = gap.start_ns + gap.duration_ns
    first_after = min(t for t, ch, _ in frames[cut:] if ch == "market")
    assert end == first_after  # ... up to the fresh snapshot of the new connection
    assert not [t for t, ch, _ in frames if ch == "market" and gap.start_ns < t < end]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_market_socket_that_accepts_and_closes_is_reported_and_fails_the_run(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    src = tmp_path / "src"
    fixture_session(src, fixtures_dir, "BTC", START, "5m", first_offset_s=0.5)
    serve, env = start_serve(src)
    ready, stop, box = threading.Event(), threading.Event(), {}

    def slam() -> None:  # the market socket: accepts, reads the subscription, closes
        async def main() -> None:
            async with Slammer() as server:
                box["server"] = server
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.05)

        asyncio.run(main())

    thread = threading.Thread(target=slam, daemon=True)
    thread.start()
    assert ready.wait(30)
    env["PK8_CLOB_WS_URL"] = box["server"].url("ws", "/ws/market")
    out = tmp_path / "out"
    rec = subprocess.Popen(
        [*PK8, "record", "--symbols", "BTC", "--timeframe", "5m", "--out", str(out), "--quiet"],
        env={**os.environ, **env},
        cwd=tmp_path,
        stdout=subprocess.PIPE,  # --quiet: the closing line alone
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while box["server"].accepted < 3:  # it subscribed, was dropped, came back: twice
            assert rec.poll() is None, rec.communicate()[1][-3000:]
            time.sleep(0.05)
        rec.send_signal(signal.SIGINT)
        said, err = rec.communicate(timeout=120)
    finally:
        stop.set()
        serve.terminate()
        serve.wait(10)
        if rec.poll() is None:
            rec.kill()
    assert rec.returncode == 1, err[-3000:]
    last = said.strip().splitlines()[-1]  # the closing line ends stdout
    assert "market socket" in last and "never sent a frame (closed by server)" in last, last
    (manifest,) = out.rglob("manifest.json")
    m = json.loads(manifest.read_text())
    assert "market" not in m["counts"] and [g["socket"] for g in m["gaps"]] == ["market"]
