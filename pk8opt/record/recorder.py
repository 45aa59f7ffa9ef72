"""The recorder: its settings (`RecordConfig`), its JSON log, and `Recorder`, which runs
one `SymbolRecorder` per symbol until stopped and closes what a kill left open."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from pk8opt.errors import Pk8Error
from pk8opt.polymarket.endpoints import Endpoints, VenueClock
from pk8opt.polymarket.gamma import GammaClient
from pk8opt.polymarket.sockets import ReconnectingSocket
from pk8opt.record.symbol import SymbolRecorder
from pk8opt.recordings.manifest import Manifest, read_manifest
from pk8opt.recordings.session import recover_session

_encode = msgspec.json.Encoder().encode


@dataclass
class RecordConfig:
    symbols: list[str]
    timeframe: str = "15m"
    out: Path = Path("recordings")
    duration_s: float | None = None  # wall seconds
    sessions: int | None = None  # stop after this many finished sessions
    endpoints: Endpoints = field(default_factory=Endpoints)
    clock: VenueClock = field(default_factory=VenueClock)
    lead_s: float = 60.0  # venue seconds before a window ends to subscribe the next
    ping_s: float = 10.0
    live_ping_s: float = 5.0
    stale_s: float = 30.0  # wall seconds without PONG (market) / any frame (live)
    resolve_after_s: float = 10.0  # first Gamma poll, venue seconds after the window end
    resolve_timeout_s: float = 1800.0  # give up waiting for a resolution (venue seconds)
    status: bool = False  # show the live status table on stdout


class JsonLog:
    """Structured log: one JSON object per line."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.stream = stream

    def __call__(self, event: str, **fields: Any) -> None:
        if self.stream is None:
            return
        line = {"ts": round(time.time(), 3), "event": event, **fields}
        self.stream.write(_encode(line).decode() + "\n")
        self.stream.flush()


class Recorder:
    def __init__(self, cfg: RecordConfig, log: JsonLog | None = None) -> None:
        self.cfg = cfg
        self.log = log or JsonLog(sys.stderr)
        self.gamma = GammaClient(cfg.endpoints.gamma_url)
        self.symbols = [SymbolRecorder(self, s) for s in cfg.symbols]
        self.stop_event = asyncio.Event()
        self.finished = 0  # complete sessions
        self.incomplete = 0  # cut short by a stop, kept and marked `incomplete`
        self.pending: set[asyncio.Future[Manifest]] = set()

    def session_folder(self, slug: str) -> Path:
        folder = self.cfg.out / slug
        n = 1
        while folder.exists():
            n += 1
            folder = self.cfg.out / f"{slug}_r{n}"
        return folder

    def session_finished(self) -> None:
        self.finished += 1
        if self.cfg.sessions is not None and self.finished >= self.cfg.sessions:
            self.stop_event.set()

    def recover(self) -> list[Path]:
        """Close folders a kill left in `recording` state as `incomplete`."""
        found: list[Path] = []
        if not self.cfg.out.exists():
            return found
        for path in sorted(self.cfg.out.rglob("manifest.json")):
            try:
                if read_manifest(path.parent).status != "recording":
                    continue
                recover_session(path.parent)
            except Pk8Error as exc:
                self.log("recover_error", folder=str(path.parent), error=str(exc))
                continue
            self.log("recovered", folder=str(path.parent), status="incomplete")
            found.append(path.parent)
        return found

    async def run(self) -> int:
        """Record until stopped, `duration_s` or `sessions`; return finished sessions."""
        self.cfg.out.mkdir(parents=True, exist_ok=True)
        self.recover()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.stop_event.set)
        self.log("start", symbols=self.cfg.symbols, out=str(self.cfg.out))
        sockets = [s for sr in self.symbols for s in (sr.market, sr.live)]
        tasks = [asyncio.create_task(s.run()) for s in sockets]
        status_stop = asyncio.Event()
        if self.cfg.status:
            from pk8opt.record.status import StatusView

            tasks.append(asyncio.create_task(StatusView(self).run(status_stop)))
        loops = [asyncio.create_task(self._symbol_loop(sr)) for sr in self.symbols]
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), self.cfg.duration_s)
        finally:
            status_stop.set()
            for loop_task in loops:
                loop_task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.shutdown(sockets, tasks)
        return self.finished

    async def _symbol_loop(self, sr: SymbolRecorder) -> None:
        while True:
            try:
                await sr.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in one tick must not end the recording
                self.log("error", symbol=sr.symbol, error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.1)

    async def shutdown(self, sockets: Sequence[ReconnectingSocket], tasks: list[Any]) -> None:
        for sock in sockets:
            await sock.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*self.pending, return_exceptions=True)
        for sr in self.symbols:
            for start in list(sr.open):
                s = sr.open[start]
                await sr.finish(start, "complete" if s.resolution else "incomplete")
        await self.gamma.aclose()
        self.log("stop", finished=self.finished, incomplete=self.incomplete)
