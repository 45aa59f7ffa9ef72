"""The recorder in-process against the fake Polymarket: serve, configure, run, read back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec

from pk8opt.fakepm.build import fixture_session
from pk8opt.fakepm.server import FakePolymarket
from pk8opt.fakepm.timeline import load_venue
from pk8opt.polymarket.endpoints import Endpoints, VenueClock
from pk8opt.record import JsonLog, RecordConfig, Recorder
from pk8opt.recordings.manifest import Manifest, read_manifest
from pk8opt.recordings.raw import frames_path, read_frames
from support.sessions import START

__all__ = [
    "SPEED",
    "START",
    "Events",
    "config",
    "notes",
    "record",
    "recorded",
    "run_with_fault",
    "serving",
]

SPEED = 100.0


@contextlib.asynccontextmanager
async def serving(paths: list[Path], lead_s: float = 100.0) -> AsyncIterator[FakePolymarket]:
    venue = load_venue(paths)
    clock = VenueClock(venue.first_ns - int(lead_s * 1e9), time.time_ns(), SPEED)
    server = FakePolymarket(venue, clock, keep_sent=True)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def config(server: FakePolymarket, out: Path, symbols: list[str], **kw: object) -> RecordConfig:
    env = server.env()
    kw.setdefault("ping_s", 0.2)
    kw.setdefault("stale_s", 2.0)
    return RecordConfig(
        symbols=symbols,
        timeframe="5m",
        out=out,
        endpoints=Endpoints.resolve(env=env),
        clock=server.clock,
        **kw,  # type: ignore[arg-type]
    )


def recorded(folder: Path) -> list[tuple[int, str, str]]:
    frames, bad = read_frames(frames_path(folder))
    assert not bad
    return [(f.t, f.ch, f.raw) for f in frames]


async def record(cfg: RecordConfig, timeout_s: float = 15.0) -> Recorder:
    rec = Recorder(cfg, JsonLog(None))
    await asyncio.wait_for(rec.run(), timeout_s)
    return rec


class Events(JsonLog):
    """A log that keeps its events, to look them up."""

    def __init__(self) -> None:
        super().__init__(None)
        self.items: list[dict[str, Any]] = []

    def __call__(self, event: str, **fields: Any) -> None:
        self.items.append({"event": event, **fields})

    def named(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.items
            if e["event"] == event and all(e.get(k) == v for k, v in match.items())
        ]


def notes(folder: Path, kind: str) -> list[dict]:
    out = []
    for _, ch, raw in recorded(folder):
        if ch == "note":
            note = msgspec.json.decode(raw)
            if note["kind"] == kind:
                out.append(note)
    return out


def run_with_fault(
    tmp_path: Path,
    fixtures_dir: Path,
    fault: Callable[[FakePolymarket, Recorder], Awaitable[None]],
    **kw: object,
) -> tuple[Recorder, Path, Manifest]:
    src = tmp_path / "src"
    fixture_session(src, fixtures_dir, "BTC", START, "5m", first_offset_s=0.5, repeat=3)

    async def main() -> Recorder:
        async with serving([src]) as server:
            rec = Recorder(
                config(server, tmp_path / "out", ["BTC"], sessions=1, **kw), JsonLog(None)
            )
            task = asyncio.create_task(rec.run())
            # wait for the session to be well under way, then break something
            while not rec.symbols[0].open or rec.symbols[0].frames < 40:
                await asyncio.sleep(0.01)
            await fault(server, rec)
            await asyncio.wait_for(task, 15)
            return rec

    rec = asyncio.run(main())
    folder = tmp_path / "out" / f"btc-updown-5m-{START}"
    return rec, folder, read_manifest(folder)
