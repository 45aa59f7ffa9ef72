"""The recorder: its settings (`RecordConfig`), its JSON log, and `Recorder`, which runs
one `SymbolRecorder` per symbol until stopped and closes what a kill left open.

The recorder holds `<out>/.pk8opt-record.lock` for its life (a second one on the same
folder is refused), logs every failed attempt to reach the venue at once
(`connect_failed`, with the cause and the next try), and stops with one clear line when
the disk is full, keeping what was written."""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from pk8opt.errors import ConfigError, Pk8Error
from pk8opt.polymarket.endpoints import Endpoints, VenueClock
from pk8opt.polymarket.gamma import GammaClient
from pk8opt.polymarket.links import Failure, Link
from pk8opt.polymarket.sockets import (
    MAX_FRAME_BYTES,
    OPEN_TIMEOUT_S,
    STABLE_AFTER_S,
    ReconnectingSocket,
)
from pk8opt.record.lock import FolderLock
from pk8opt.record.symbol import SymbolRecorder
from pk8opt.recordings.manifest import Manifest, read_manifest
from pk8opt.recordings.raw import frames_lock
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
    max_frame_bytes: int = MAX_FRAME_BYTES  # a bigger frame is refused: a gap, a reconnect
    stable_after_s: float = STABLE_AFTER_S  # a connection held this long resets the backoff
    timeout_s: float = OPEN_TIMEOUT_S  # connect / answer timeout of Gamma and the sockets

    def validate(self) -> None:
        """Raise `ConfigError` naming the setting that cannot work."""
        positive = {
            "--ping": self.ping_s,
            "--stale": self.stale_s,
            "--timeout": self.timeout_s,
            "live_ping_s": self.live_ping_s,
            "stable_after_s": self.stable_after_s,
            "resolve_timeout_s": self.resolve_timeout_s,
        }
        if self.duration_s is not None:
            positive["--duration"] = self.duration_s
        for name, value in positive.items():
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name} {value}: must be a number of seconds above 0")
        for name, value in {"--lead": self.lead_s, "resolve_after_s": self.resolve_after_s}.items():
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} {value}: must be a number of seconds, 0 or more")
        if self.sessions is not None and self.sessions < 1:
            raise ConfigError(f"--sessions {self.sessions}: must be 1 or more")
        if self.max_frame_bytes < 1024:
            raise ConfigError(f"--max-frame {self.max_frame_bytes}: must be at least 1024 bytes")
        if not self.symbols:
            raise ConfigError("--symbols: give at least one symbol, e.g. BTC")
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out {self.out}: is a file; give a folder (it is created)")


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
        self.gamma = GammaClient(
            cfg.endpoints.gamma_url,
            timeout_s=cfg.timeout_s,
            retries=0,  # one attempt per call; the client's backoff spaces the calls
            on_failure=self.connect_failed,
        )
        unique = list(dict.fromkeys(cfg.symbols))  # `BTC,BTC` records BTC once
        self.symbols = [SymbolRecorder(self, s) for s in unique]
        self.stop_event = asyncio.Event()
        self.finished = 0  # complete sessions
        self.incomplete = 0  # cut short by a stop, kept and marked `incomplete`
        self.started = 0  # sessions opened (new or continued)
        self.pending: set[asyncio.Future[Manifest]] = set()
        self.disk_error: OSError | None = None  # the write that failed; recording stopped
        self.left_recording: list[Path] = []  # folders left `recording` by a write error
        self.started_wall = time.time()
        self.lock = FolderLock(cfg.out)

    # ---- what happens ----------------------------------------------------------
    def connect_failed(self, failure: Failure) -> None:
        """A failed attempt to reach Gamma or a socket: logged at once."""
        self.log("connect_failed", **failure.fields())

    def write_failed(self, exc: OSError) -> None:
        """A write to the recording failed (disk full ...): stop, keep what is there."""
        if self.disk_error is None:
            self.disk_error = exc
            self.log("write_failed", error=f"{exc.strerror or exc}", file=str(exc.filename or ""))
        self.stop_event.set()

    def session_finished(self) -> None:
        self.finished += 1
        if self.cfg.sessions is not None and self.finished >= self.cfg.sessions:
            self.stop_event.set()

    def links(self) -> list[Link]:
        """Gamma's link, then each socket's, for the status display and the closing line."""
        return [self.gamma.link] + [s.link for sr in self.symbols for s in (sr.market, sr.live)]

    @property
    def reached_venue(self) -> bool:
        """Gamma answered and a socket connected at least once."""
        socks = [s for sr in self.symbols for s in (sr.market, sr.live)]
        return self.gamma.link.ever_ok and any(s.link.ever_ok for s in socks)

    def closing_line(self) -> str:
        """What the run leaves behind, and why, when it is nothing."""
        out = self.cfg.out
        if self.disk_error is not None:
            exc = self.disk_error
            where = f" writing {exc.filename}" if exc.filename else ""
            kept = ", ".join(str(p.name) for p in self.left_recording) or "none open"
            return (
                f"stopped: {exc.strerror or exc}{where}. What was written is kept "
                f"({self.finished} complete, {self.incomplete} incomplete; left in "
                f"'recording' state: {kept}). Free some space and run pk8opt record again: "
                "it closes those folders and goes on with the current window."
            )
        kept = f", {self.incomplete} incomplete (cut short, kept)" if self.incomplete else ""
        line = f"{self.finished} complete session(s){kept} in {out}"
        if self.reached_venue and (self.finished or self.incomplete or self.started):
            return line
        return f"{line}: {self.why_nothing()}"

    def why_nothing(self) -> str:
        ran_s = time.time() - self.started_wall
        reasons = []
        names = {"gamma": "Gamma", "market": "the market socket", "live": "the live-data socket"}
        seen: set[str] = set()
        for link in self.links():
            if link.ever_ok or link.endpoint in seen or link.last_error is None:
                continue
            seen.add(link.endpoint)
            since = self.started_wall  # never reached: unreachable for the whole run
            reasons.append(
                f"{names[link.endpoint]} unreachable for {time.time() - since:.0f} s: "
                f"{link.last_error}"
            )
        if reasons:
            return "; ".join(reasons)
        if not self.gamma.link.ever_ok:
            return f"Gamma did not answer within {ran_s:.0f} s"
        return "Gamma had no market for the current window yet"

    def recover(self) -> list[Path]:
        """Close folders a kill left in `recording` state as `incomplete`; a folder
        another recorder is writing (its frames file locked) is left alone."""
        found: list[Path] = []
        if not self.cfg.out.exists():
            return found
        for path in sorted(self.cfg.out.rglob("manifest.json")):
            folder = path.parent
            if ".cache" in path.parts:
                continue
            try:
                with frames_lock(folder) as free:
                    if read_manifest(folder).status != "recording":
                        continue
                    if not free:
                        self.log("recover_skipped", folder=str(folder), reason="in use")
                        continue
                    recover_session(folder)
            except Pk8Error as exc:
                self.log("recover_error", folder=str(folder), error=str(exc))
                continue
            except OSError as exc:
                self.log("recover_error", folder=str(folder), error=f"{exc.strerror or exc}")
                continue
            self.log("recovered", folder=str(folder), status="incomplete")
            found.append(folder)
        return found

    async def run(self) -> int:
        """Record until stopped, `duration_s` or `sessions`; return finished sessions."""
        self.cfg.validate()
        try:
            self.cfg.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--out {self.cfg.out}: cannot create it ({exc.strerror})") from None
        self.lock.acquire()
        try:
            return await self._run()
        finally:
            self.lock.release()

    async def _run(self) -> int:
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
        await asyncio.gather(*self.pending, return_exceptions=True)
        for sr in self.symbols:
            if self.disk_error is None:
                await sr.keep_late()
        await self.gamma.aclose()
        self.log(
            "stop",
            finished=self.finished,
            incomplete=self.incomplete,
            late_frames=sum(sr.late_frames for sr in self.symbols),
            early_frames=sum(sr.orphan_frames for sr in self.symbols),
            # received while no session was open, and none opened after them
            unwritten_frames=sum(len(sr.orphans) + sr.orphans_lost for sr in self.symbols),
            reached_venue=self.reached_venue,
        )
