"""A progress bar for long loops over sessions, on stderr and only on a terminal.

`steps(label, total)` yields an `advance()` to call once per item. Under a pipe, in a
test or with fewer than two items it draws nothing (stdout stays clean for `--json`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def steps(label: str, total: int, console: Any = None) -> Iterator[Callable[[], None]]:
    from rich.console import Console

    console = console or Console(stderr=True)
    if total < 2 or not console.is_terminal:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)
