"""The recorder's live status, refreshed twice a second: one line per venue endpoint
(connected / retrying since ... / the last error and the next try), then one row per
open session."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from pk8opt.polymarket.links import Link
from pk8opt.record.config import RecordConfig
from pk8opt.record.symbol import SymbolRecorder

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

ENDPOINT_NAMES = {"gamma": "Gamma", "market": "market socket", "live": "live-data socket"}


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def link_line(links: list[Link], now: float) -> tuple[str, str]:
    """The state of one endpoint (the links of every symbol's socket of that kind):
    `(state, detail)`, e.g. `("retrying since 12:00:01 (25 s)", "last error: ...")`."""
    failing = [lk for lk in links if not lk.connected and lk.last_error is not None]
    up = [lk for lk in links if lk.connected]
    if not failing:
        if up and len(up) == len(links):
            return "connected", ""
        if up:
            return f"connected ({len(up)} of {len(links)})", ""
        return "not tried yet", "waiting for a market to subscribe" if links else ""
    worst = min(failing, key=lambda lk: lk.failing_since or now)
    since = worst.failing_since or now
    state = f"retrying since {_clock(since)} ({now - since:.0f} s)"
    if worst.failing_since is None:
        state = "reconnecting"
    detail = f"last error: {worst.last_error}"
    if worst.next_try_at is not None:
        detail += f"; next try in {max(0.0, worst.next_try_at - now):.0f} s"
    return state, detail


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} TB"


class StatusHost(Protocol):
    """What the status display reads of the recorder."""

    @property
    def cfg(self) -> RecordConfig: ...

    @property
    def finished(self) -> int: ...

    @property
    def symbols(self) -> Sequence[SymbolRecorder]: ...

    def links(self) -> list[Link]: ...


class StatusView:
    def __init__(self, recorder: StatusHost) -> None:
        self.rec = recorder
        self._last: dict[str, tuple[float, int]] = {}

    def links_table(self) -> Table:
        from rich.table import Table
        from rich.text import Text

        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column("endpoint", no_wrap=True, style="bold")
        table.add_column("state", no_wrap=True)
        table.add_column("detail")
        now = time.time()
        by_kind: dict[str, list[Link]] = {"gamma": [], "market": [], "live": []}
        for link in self.rec.links():
            by_kind[link.endpoint].append(link)
        for kind, links in by_kind.items():
            state, detail = link_line(links, now)
            style = "green" if state.startswith("connected") else "red"
            if state == "not tried yet":
                style = "dim"
            table.add_row(ENDPOINT_NAMES[kind], Text(state, style=style), Text(detail))
        return table

    def render(self) -> RenderableType:
        from rich.console import Group

        return Group(self.links_table(), self.table())

    def table(self) -> Table:
        from rich.table import Table

        now_wall = time.monotonic()
        now_s = self.rec.cfg.clock.now_s()
        table = Table(
            title=f"pk8opt record -> {self.rec.cfg.out}  (finished {self.rec.finished})",
            title_justify="left",
        )
        table.add_column("market", no_wrap=True, min_width=26)
        for col in ("frames/s", "last", "gaps", "bytes", "ends in", "sock"):
            table.add_column(col, justify="right", no_wrap=True)
        for sr in self.rec.symbols:
            sockets = f"{'M' if sr.market.connected else '-'}{'L' if sr.live.connected else '-'}"
            if not sr.open:
                table.add_row(f"{sr.symbol} (no market yet)", "", "", "", "", "", sockets)
            for s in sr.open.values():
                n = s.writer.frames_written
                t0, n0 = self._last.get(s.info.slug, (now_wall, n))
                rate = (n - n0) / (now_wall - t0) if now_wall > t0 else 0.0
                self._last[s.info.slug] = (now_wall, n)
                age = f"{now_wall - s.last_frame_wall:.1f}s" if s.last_frame_wall else "-"
                left = s.info.window_end_s - now_s
                roll = f"{left:.0f}s" if left > 0 else "resolving"
                table.add_row(
                    s.info.slug,
                    f"{rate:.1f}",
                    age,
                    str(s.gaps),
                    _bytes(s.writer.bytes_written),
                    roll,
                    sockets,
                )
        return table

    async def run(self, stop: asyncio.Event) -> None:
        from rich.console import Console
        from rich.live import Live

        with Live(
            self.render(), console=Console(emoji=False), refresh_per_second=2, transient=False
        ) as live:
            while not stop.is_set():
                live.update(self.render())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
