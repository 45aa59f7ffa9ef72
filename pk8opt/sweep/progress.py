"""The sweep's progress: on a terminal a bar (trials done, pruned and failed, best
value, time left); into a pipe or a file one line per finished trial (its number,
state, value and the best so far), as a log reads."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn


@dataclass(frozen=True)
class Finished:
    """A finished trial, as its line says it."""

    number: int
    state: str  # complete, pruned, failed, interrupted
    value: float | None
    at: datetime | None  # when it finished
    error: str | None = None


@dataclass
class Tally:
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    interrupted: int = 0
    best: float | None = None
    best_number: int | None = None
    started_at: float = field(default_factory=time.time)
    finished: list[Finished] = field(default_factory=list, repr=False, compare=False)
    maximize: bool = field(default=True, repr=False, compare=False)

    @property
    def done(self) -> int:
        return self.complete + self.pruned + self.failed


def tally(trials: list[Any], maximize: bool) -> Tally:
    t = Tally(maximize=maximize)
    for tr in trials:
        state = tr.state.name
        v = tr.values[0] if state == "COMPLETE" and tr.values else None
        if state == "COMPLETE":
            t.complete += 1
            if v is not None and (t.best is None or (v > t.best if maximize else v < t.best)):
                t.best, t.best_number = v, tr.number
        elif state == "PRUNED":
            t.pruned += 1
        elif state == "FAIL":
            if tr.user_attrs.get("interrupted"):
                t.interrupted += 1
                state = "INTERRUPTED"
            else:
                t.failed += 1
                state = "FAILED"
        else:
            continue
        error = tr.user_attrs.get("error") if state == "FAILED" else None
        t.finished.append(Finished(tr.number, state.lower(), v, tr.datetime_complete, error))
    return t


def _fmt_s(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class SweepProgress:
    """A rich bar fed from the study storage by the main process; into a pipe or a
    file (no terminal), a line per trial as it finishes instead."""

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
        self.since = datetime.now()  # the trials that finish from now on get a line
        self.console = console
        self.maximize: bool | None = None
        self.said: set[int] = set()  # the trials whose line is printed
        self.lines = not console.is_terminal
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
        if not self.lines:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.lines:
            self.progress.stop()

    def update(self, t: Tally) -> None:
        if self.lines:
            self.say_finished(t)
            return
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

    def say_finished(self, t: Tally) -> None:
        """A line for each trial finished since the last call, in the order they
        finished, with the study's best and the count done at that moment."""
        if len(t.finished) == len(self.said):
            return
        best: Finished | None = None
        done = 0
        for f in sorted(t.finished, key=lambda f: (f.at or datetime.max, f.number)):
            if f.value is not None and (best is None or _beats(f.value, best.value, t.maximize)):
                best = f
            done += f.state != "interrupted"
            if f.number in self.said:
                continue
            self.said.add(f.number)
            if f.at is not None and f.at < self.since:
                continue  # finished before this run: counted, not said again
            line = _trial_line(f, best, done, self.target)
            self.console.print(line, highlight=False, soft_wrap=True, markup=False)


def _beats(value: float, than: float | None, maximize: bool) -> bool:
    return than is None or (value > than if maximize else value < than)


def _trial_line(f: Finished, best: Finished | None, done: int, target: int | None) -> str:
    """`trial 7 complete: value 3.21; best 4.05 (trial 2); 8/50 done`."""
    line = f"trial {f.number} {f.state}"
    if f.value is not None:
        line += f": value {f.value:.6g}"
    elif f.error:
        line += f": {f.error.splitlines()[0][:120]}"
    if best is not None and best.value is not None:
        line += f"; best {best.value:.6g} (trial {best.number})"
    else:
        line += "; best -"
    return line + f"; {done}/{target if target is not None else '?'} done"
