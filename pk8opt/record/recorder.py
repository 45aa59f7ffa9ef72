"""The recorder: its JSON log and `Recorder`, which runs one `SymbolRecorder` per symbol
until stopped and closes what a kill left open (its settings: `record.config`).

The recorder holds `<out>/.pk8opt-record.lock` for its life (a second one on the same
folder is refused), logs every failed attempt to reach the venue at once
(`connect_failed`, with the cause and the next try), and stops with one clear line when
the disk is full, keeping what was written."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import msgspec

from pk8opt.errors import ConfigError, Pk8Error
from pk8opt.polymarket.gamma import GammaClient
from pk8opt.polymarket.links import Failure, Link
from pk8opt.polymarket.sockets import ReconnectingSocket
from pk8opt.record.config import RecordConfig
from pk8opt.record.lock import FolderLock
from pk8opt.record.status import StatusView
from pk8opt.record.symbol import SymbolRecorder
from pk8opt.recordings.manifest import read_manifest
from pk8opt.recordings.raw import frames_lock
from pk8opt.recordings.session import recover_session

_encode = msgspec.json.Encoder().encode


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
    """Runs one `SymbolRecorder` per symbol; to them it is a `RecorderHost`."""

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
        self.pending: set[asyncio.Future[Any]] = set()
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

    def session_started(self) -> None:
        self.started += 1

    def session_finished(self) -> None:
        self.finished += 1
        if self.cfg.sessions is not None and self.finished >= self.cfg.sessions:
            self.stop_event.set()

    def session_incomplete(self) -> None:
        self.incomplete += 1

    def left_open(self, folder: Path) -> None:
        self.left_recording.append(folder)

    def track(self, job: asyncio.Future[Any]) -> None:
        self.pending.add(job)
        job.add_done_callback(self.pending.discard)

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
        silent = self.silent_sockets()
        if not (self.reached_venue and (self.finished or self.incomplete or self.started)):
            line = f"{line}: {self.why_nothing()}"
        elif silent:
            line = f"{line}: {silent[0]}"
            silent = silent[1:]
        return "; ".join([line, *silent])

    def silent_sockets(self) -> list[str]:
        """A phrase per socket that connected but never sent a frame (a venue that
        accepts and closes at once, or subscribes and stays silent)."""
        names = {"market": "market socket", "live": "live-data socket"}
        out = []
        for sr in self.symbols:
            for sock in (sr.market, sr.live):
                if sock.link.ever_ok and not sr.socket_frames.get(sock.kind):
                    why = sr.drop_reason.get(sock.kind, "silent")
                    out.append(
                        f"the {sr.symbol} {names[sock.kind]} connected {sock.connects} "
                        f"time(s) and never sent a frame ({why})"
                    )
        return out

    @property
    def nothing_recorded(self) -> bool:
        """No market socket sent a frame (the books a session is for) although one connected."""
        markets = [sr for sr in self.symbols if sr.market.link.ever_ok]
        return bool(markets) and not any(sr.socket_frames.get("market") for sr in markets)

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
