"""The recorder's live status: one row per open session, refreshed twice a second."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

    from pk8opt.record.recorder import Recorder


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} TB"


class StatusView:
    def __init__(self, recorder: Recorder) -> None:
        self.rec = recorder
        self._last: dict[str, tuple[float, int]] = {}

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
            self.table(), console=Console(emoji=False), refresh_per_second=2, transient=False
        ) as live:
            while not stop.is_set():
                live.update(self.table())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
