"""The sweep's progress bar: trials done, pruned and failed, best value, time left."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn


@dataclass
class Tally:
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    interrupted: int = 0
    best: float | None = None
    best_number: int | None = None
    started_at: float = field(default_factory=time.time)

    @property
    def done(self) -> int:
        return self.complete + self.pruned + self.failed


def tally(trials: list[Any], maximize: bool) -> Tally:
    t = Tally()
    for tr in trials:
        state = tr.state.name
        if state == "COMPLETE":
            t.complete += 1
            v = tr.values[0] if tr.values else None
            if v is not None and (t.best is None or (v > t.best if maximize else v < t.best)):
                t.best, t.best_number = v, tr.number
        elif state == "PRUNED":
            t.pruned += 1
        elif state == "FAIL":
            if tr.user_attrs.get("interrupted"):
                t.interrupted += 1
            else:
                t.failed += 1
    return t


def _fmt_s(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class SweepProgress:
    """A rich bar fed from the study storage by the main process."""

    def __init__(
        self,
        console: Console,
        target: int | None,
        deadline: float | None,
        metric: str,
        start_done: int,
    ) -> None:
        self.target = target
        self.deadline = deadline
        self.metric = metric
        self.start_done = start_done
        self.t0 = time.time()
        self.progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            transient=False,
            refresh_per_second=4,
        )
        self.task = self.progress.add_task("sweep", total=target, completed=start_done, detail="")

    def __enter__(self) -> SweepProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, t: Tally) -> None:
        now = time.time()
        new = t.done - self.start_done
        left: float | None = None
        if self.target is not None and new > 0:
            left = (now - self.t0) / new * max(0, self.target - t.done)
        if self.deadline is not None:
            to_deadline = max(0.0, self.deadline - now)
            left = to_deadline if left is None else min(left, to_deadline)
        best = f"{t.best:.4g} (#{t.best_number})" if t.best is not None else "-"
        detail = (
            f"[green]{t.complete} ok[/] [yellow]{t.pruned} pruned[/] [red]{t.failed} failed[/]"
            f" best {best} left {_fmt_s(left) if left is not None else '?'}"
        )
        self.progress.update(self.task, completed=t.done, detail=detail)
