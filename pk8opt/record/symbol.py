"""One symbol's recording: its two sockets, its open sessions (`OpenSession`), the
routing of each frame to them, rollover to the next window and the wait for a resolution.

No frame received is dropped: a frame that arrives while no session is open (the
live-data backfill at subscribe, before Gamma has answered) waits in `orphans` and goes
into the next session that opens; a frame of a window already finished (a
`price_change` after `market_resolved`) is added to that session's folder (`late`)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from pk8opt.errors import Pk8Error
from pk8opt.polymarket.gamma import GammaMismatch, MarketInfo
from pk8opt.polymarket.slugs import slug_for, timeframe_seconds, window_start
from pk8opt.polymarket.sockets import LiveSocket, MarketSocket, ReconnectingSocket
from pk8opt.record.folders import AlreadyComplete, add_late_frames, open_folder
from pk8opt.record.host import RecorderHost
from pk8opt.recordings.manifest import Manifest, Outcome, Resolution, Status, manifest_of
from pk8opt.recordings.raw import Frame, FrameWriter
from pk8opt.recordings.session import finish_session

_decode = msgspec.json.Decoder().decode
MAX_ORPHANS = 50_000  # frames kept while no session is open (the oldest go first)


@dataclass
class OpenSession:
    dir: Path
    manifest: Manifest
    writer: FrameWriter
    info: MarketInfo
    quoted: tuple[str, ...]
    resolution: Resolution | None = None
    next_poll_ns: int = 0
    poll_delay_s: float = 5.0
    last_frame_wall: float = 0.0
    gaps: int = 0
    garbage: int = 0

    def write(self, t_ns: int, ch: str, raw: str) -> None:
        self.writer.write(t_ns, ch, raw)
        self.last_frame_wall = time.monotonic()


def _is_garbage(raw: str) -> bool:
    if raw[:1] not in ("{", "["):
        return True
    try:
        _decode(raw)
    except msgspec.DecodeError:
        return True
    return False


class SymbolRecorder:
    """One symbol: its two sockets, its open sessions, its rollovers."""

    def __init__(self, rec: RecorderHost, symbol: str) -> None:
        self.rec = rec
        self.symbol = symbol
        cfg = rec.cfg
        self.step_s = timeframe_seconds(cfg.timeframe)
        limits: dict[str, Any] = {
            "max_frame_bytes": cfg.max_frame_bytes,
            "stable_after_s": cfg.stable_after_s,
            "open_timeout_s": cfg.timeout_s,
            "on_failure": rec.connect_failed,
        }
        self.market = MarketSocket(
            cfg.endpoints.clob_ws_url,
            self,
            cfg.clock,
            ping_interval_s=cfg.ping_s,
            stale_after_s=cfg.stale_s,
            **limits,
        )
        self.live = LiveSocket(
            cfg.endpoints.live_ws_url,
            self,
            cfg.clock,
            symbols=[symbol],
            ping_interval_s=cfg.live_ping_s,
            stale_after_s=cfg.stale_s,
            **limits,
        )
        self.open: dict[int, OpenSession] = {}  # by window start
        self.done: set[int] = set()
        self.retry_at: dict[int, float] = {}  # window start -> monotonic time to ask again
        self.gap_start: dict[str, int] = {}  # socket -> where its open gap starts
        self.last_frame_ns: dict[str, int] = {}  # socket -> the last frame it delivered
        self.retired: dict[str, Path] = {}  # quoted token of a finished window -> its folder
        self.late: dict[Path, list[Frame]] = {}  # frames of finished windows, to be added
        self.late_jobs: dict[Path, asyncio.Future[Any]] = {}  # finishing, or adding late
        self.orphans: deque[Frame] = deque(maxlen=MAX_ORPHANS)
        self.frames = 0
        self.socket_frames: dict[str, int] = {}  # frames received, by socket
        self.drop_reason: dict[str, str] = {}  # why each socket last lost its connection
        self.garbage = 0
        self.late_frames = 0  # kept in their finished session
        self.orphan_frames = 0  # kept in the next session
        self.orphans_lost = 0  # more than MAX_ORPHANS while no session was open
        # ask Gamma again after 2 s, or sooner when the venue clock runs fast
        self.retry_s = max(0.05, min(2.0, cfg.clock.wall_seconds(10.0)))

    # ---- socket events -----------------------------------------------------
    def _note_all(self, t_ns: int, kind: str, **fields: Any) -> None:
        for s in self.open.values():
            s.writer.note(t_ns, kind, **fields)

    def on_connected(self, sock: ReconnectingSocket, t_ns: int) -> None:
        self.rec.log("connected", symbol=self.symbol, socket=sock.kind, url=sock.url)
        self._note_all(t_ns, "connected", socket=sock.kind, url=sock.url)
        if sock.kind == "market":
            self._note_all(t_ns, "subscribed", socket="market", assets=list(self.market.assets))

    def on_disconnected(self, sock: ReconnectingSocket, t_ns: int, reason: str) -> None:
        self.rec.log("disconnected", symbol=self.symbol, socket=sock.kind, reason=reason)
        self._note_all(t_ns, "disconnected", socket=sock.kind, reason=reason)
        if not sock.stopped:  # our own stop is not a gap
            # nothing came after the socket's last frame: the gap starts there, not when
            # the break was noticed (a dead heartbeat is noticed `stale_s` later)
            self.gap_start.setdefault(sock.kind, self.last_frame_ns.get(sock.kind, t_ns))
            self.drop_reason[sock.kind] = reason

    def on_frame(self, sock: ReconnectingSocket, t_ns: int, raw: str) -> None:
        kind = sock.kind
        self.frames += 1
        self.socket_frames[kind] = self.socket_frames.get(kind, 0) + 1
        self.last_frame_ns[kind] = t_ns
        start = self.gap_start.pop(kind, None)
        if start is not None:
            duration = t_ns - start
            for s in self.open.values():
                s.gaps += 1
                s.writer.note(t_ns, "gap", socket=kind, start_ns=start, duration_ns=duration)
            self.rec.log("gap", symbol=self.symbol, socket=kind, duration_ns=duration)
        if _is_garbage(raw) and raw != "NO NEW ASSETS":
            self.garbage += 1
        targets: list[OpenSession] = list(self.open.values())
        if kind == "market":
            named = [s for s in targets if any(q in raw for q in s.quoted)]
            if named:
                targets = named
            else:
                late = {d for q, d in self.retired.items() if q in raw}
                if late:  # a frame of a finished window: into that window's folder
                    for folder in late:
                        self.late.setdefault(folder, []).append(Frame(t=t_ns, ch=kind, raw=raw))
                    self.late_frames += 1
                    return
        if not targets:  # no session open yet (or between two): keep it for the next
            if len(self.orphans) == self.orphans.maxlen:
                self.orphans_lost += 1
            self.orphans.append(Frame(t=t_ns, ch=kind, raw=raw))
            return
        try:
            for s in targets:
                s.write(t_ns, kind, raw)
        except OSError as exc:
            self.rec.write_failed(exc)
            return
        if kind == "market" and '"market_resolved"' in raw:
            self._resolved(t_ns, raw)

    def _resolved(self, t_ns: int, raw: str) -> None:
        try:
            obj = _decode(raw)
        except msgspec.DecodeError:
            return
        for item in obj if isinstance(obj, list) else [obj]:
            if not isinstance(item, dict) or item.get("event_type") != "market_resolved":
                continue
            win = str(item.get("winning_asset_id", ""))
            outcome: Outcome
            for s in self.open.values():
                if win == s.info.token_up:
                    outcome = "Up"
                elif win == s.info.token_down:
                    outcome = "Down"
                elif item.get("market") == s.info.condition_id and item.get("winning_outcome") in (
                    "Up",
                    "Down",
                ):
                    outcome = item["winning_outcome"]
                else:
                    continue
                s.resolution = Resolution(outcome, "market_resolved", t_ns)

    # ---- the schedule ------------------------------------------------------
    async def tick(self) -> None:
        clock = self.rec.cfg.clock
        now_s = clock.now_s()
        cur = window_start(now_s, self.rec.cfg.timeframe)
        await self._ensure(cur)
        if now_s >= cur + self.step_s - self.rec.cfg.lead_s:
            await self._ensure(cur + self.step_s)
        for start, s in list(self.open.items()):
            if s.resolution is not None:
                await self.finish(start, "complete")
            elif now_s >= s.info.window_end_s:
                await self._poll_resolution(start, s)
            if start in self.open:
                try:
                    s.writer.flush_if_due()
                except OSError as exc:
                    self.rec.write_failed(exc)
        await self.keep_late()

    async def keep_late(self) -> None:
        """Add the late frames of each finished window to its folder, once the folder
        is finished (one job at a time per folder)."""
        for folder, done_job in list(self.late_jobs.items()):
            if done_job.done() and folder not in self.late:
                del self.late_jobs[folder]
        if self.rec.disk_error is not None:
            return  # nothing can be written; the frames are counted in `late_frames`
        for folder in list(self.late):
            running = self.late_jobs.get(folder)
            if running is not None and not running.done():
                continue
            frames = self.late.pop(folder)
            job = asyncio.ensure_future(asyncio.to_thread(add_late_frames, folder, frames))
            self.late_jobs[folder] = job
            self.rec.track(job)
            try:
                await asyncio.shield(job)
            except OSError as exc:
                self.rec.write_failed(exc)
                return
            except Pk8Error as exc:
                self.rec.log("error", symbol=self.symbol, folder=str(folder), error=str(exc))
                continue
            self.rec.log("late_frames", symbol=self.symbol, folder=str(folder), frames=len(frames))

    async def _ensure(self, start: int) -> None:
        if start in self.open or start in self.done:
            return
        if time.monotonic() < self.retry_at.get(start, 0.0) or not self.rec.gamma.ready():
            return
        slug = slug_for(self.symbol, self.rec.cfg.timeframe, start)
        try:
            reply = await self.rec.gamma.market_by_slug(slug, self.step_s)
        except GammaMismatch as exc:
            self.rec.log("gamma_mismatch", symbol=self.symbol, slug=slug, error=str(exc))
            return
        except Pk8Error:  # each attempt is logged as it fails (connect_failed)
            return
        t_ns = self.rec.cfg.clock.now_ns()
        if reply.market is None:
            self.rec.log("no_market", symbol=self.symbol, slug=slug)
            self.retry_at[start] = time.monotonic() + self.retry_s
            return
        info = reply.market
        if t_ns / 1e9 >= info.window_end_s or start in self.open:
            self.done.add(start)
            return
        folder = self.rec.cfg.out / slug
        try:
            opened = open_folder(folder, manifest_of(info, self.symbol, self.rec.cfg.timeframe))
        except AlreadyComplete:
            self.rec.log("already_recorded", symbol=self.symbol, slug=slug, folder=str(folder))
            self.done.add(start)
            return
        except OSError as exc:
            self.rec.write_failed(exc)
            return
        except Pk8Error as exc:
            self.rec.log("error", symbol=self.symbol, slug=slug, error=str(exc))
            self.done.add(start)
            return
        writer = opened.writer
        quoted = tuple(f'"{tok}"' for tok in info.tokens)
        s = OpenSession(folder, opened.manifest, writer, info, quoted)
        self.open[start] = s
        try:
            self._start_writing(s, t_ns, opened.resumed_after_ns)
            writer.write(t_ns, "gamma", reply.body, src=reply.url)
        except OSError as exc:
            self.rec.write_failed(exc)
            return
        self.rec.session_started()
        event = "session_resumed" if opened.resumed_after_ns is not None else "session_start"
        self.rec.log(event, symbol=self.symbol, slug=slug, folder=str(folder))
        was_connected = self.market.connected
        await self.market.add_assets(list(info.tokens))
        if was_connected:
            writer.note(t_ns, "subscribed", socket="market", assets=list(info.tokens))

    def _start_writing(self, s: OpenSession, t_ns: int, resumed_after_ns: int | None) -> None:
        """The first lines of a session: the gap of a restart, the frames that waited
        for a session, and which sockets are connected."""
        writer = s.writer
        if resumed_after_ns is not None:
            writer.note(t_ns, "resumed", after_ns=resumed_after_ns, reason="recorder restarted")
            for name in ("market", "live"):
                s.gaps += 1
                writer.note(
                    t_ns,
                    "gap",
                    socket=name,
                    start_ns=resumed_after_ns,
                    duration_ns=t_ns - resumed_after_ns,
                )
        if self.orphans:
            self.rec.log("kept_early_frames", symbol=self.symbol, frames=len(self.orphans))
            self.orphan_frames += len(self.orphans)
            while self.orphans:
                f = self.orphans.popleft()
                writer.write(f.t, f.ch, f.raw, src=f.src)
        if self.orphans_lost:
            writer.note(
                t_ns,
                "error",
                what="frames lost while no session was open",
                frames=self.orphans_lost,
            )
            self.orphans_lost = 0
        for sock in (self.live, self.market):  # the session starts knowing its sockets
            if sock.connected:
                writer.note(t_ns, "connected", socket=sock.kind, url=sock.url)

    async def _poll_resolution(self, start: int, s: OpenSession) -> None:
        cfg = self.rec.cfg
        now_ns = cfg.clock.now_ns()
        if now_ns / 1e9 > s.info.window_end_s + cfg.resolve_timeout_s:
            self.rec.log("resolution_timeout", symbol=self.symbol, slug=s.info.slug)
            await self.finish(start, "complete", note="resolution not known in time")
            return
        if not s.next_poll_ns:
            s.next_poll_ns = int((s.info.window_end_s + cfg.resolve_after_s) * 1e9)
        if now_ns < s.next_poll_ns:
            return
        if not self.rec.gamma.ready():
            return
        try:
            reply = await self.rec.gamma.market_by_slug(
                s.info.slug, self.step_s, condition_id=s.info.condition_id
            )
        except GammaMismatch as exc:  # not this market's answer: not recorded as one
            self.rec.log("gamma_mismatch", symbol=self.symbol, slug=s.info.slug, error=str(exc))
            if start in self.open:
                s.writer.note(cfg.clock.now_ns(), "error", what="gamma_mismatch", error=str(exc))
            reply = None
        except Pk8Error:  # each attempt is logged as it fails (connect_failed)
            reply = None
        now_ns = cfg.clock.now_ns()
        s.next_poll_ns = now_ns + int(s.poll_delay_s * 1e9)
        s.poll_delay_s = min(s.poll_delay_s * 2, 60.0)
        if reply is None or start not in self.open:
            return
        s.writer.write(now_ns, "gamma", reply.body, src=reply.url)
        outcome = reply.market.outcome() if reply.market else None
        if outcome is not None:
            s.resolution = Resolution(outcome, "gamma", now_ns)
            await self.finish(start, "complete")

    async def finish(self, start: int, status: Status, note: str | None = None) -> None:
        s = self.open.pop(start, None)
        if s is None:
            return
        self.done.add(start)
        for q in s.quoted:
            self.retired[q] = s.dir
        while len(self.retired) > 16:  # the tokens of the last eight windows
            del self.retired[next(iter(self.retired))]
        if self.rec.disk_error is not None:  # nothing more can be written: keep it as is
            s.writer.abandon()
            self.rec.left_open(s.dir)
            return
        t_ns = self.rec.cfg.clock.now_ns()
        try:
            for sock, start_ns in self.gap_start.items():  # still waiting for a reconnect
                s.writer.note(
                    t_ns, "gap", socket=sock, start_ns=start_ns, duration_ns=t_ns - start_ns
                )
            s.writer.note(t_ns, "unsubscribed", socket="market", assets=list(s.info.tokens))
            s.writer.close()
        except OSError as exc:
            s.writer.abandon()
            self.rec.left_open(s.dir)
            self.rec.write_failed(exc)
            return
        changes: dict[str, Any] = {}
        if s.resolution is not None:
            changes["resolution"] = s.resolution
        if note:
            changes["notes"] = [*s.manifest.notes, note]
        # no await before the job exists, and the job shielded: a stop at any point
        # still ends with a finished session (shutdown waits for `pending`)
        job = asyncio.ensure_future(
            asyncio.to_thread(finish_session, s.dir, s.manifest, status=status, **changes)
        )
        self.rec.track(job)
        self.late_jobs[s.dir] = job
        await self.market.remove_assets(list(s.info.tokens))
        try:
            final = await asyncio.shield(job)
        except OSError as exc:  # the disk filled while compressing: the folder stays
            self.rec.left_open(s.dir)  # `recording`, closed on the next start
            self.rec.write_failed(exc)
            return
        self.rec.log(
            "session_end",
            symbol=self.symbol,
            slug=s.info.slug,
            status=final.status,
            outcome=final.resolution.outcome,
            frames=final.frames,
            gaps=len(final.gaps),
        )
        if final.status == "complete":
            self.rec.session_finished()
        else:
            self.rec.session_incomplete()
