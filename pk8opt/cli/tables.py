"""The width a command's tables are laid out for, and a table that drops its least
important columns rather than cut a name: every table reads whole at 80 columns."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

PIPE_WIDTH = 200  # into a pipe or a file (no COLUMNS): each row stays one line for grep
GAP = 2  # the space between two columns of a borderless table


def console(**kwargs: Any) -> Any:
    """A rich console: the terminal's width on a terminal, `COLUMNS` when set, and
    `PIPE_WIDTH` columns into a pipe or a file."""
    from rich.console import Console

    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(width=width, emoji=False, highlight=False, **kwargs)


def natural_widths(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's width with nothing cut: its longest cell or header."""
    return [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(head)]


def kept_columns(
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    drop_order: Sequence[str],
    room: int = 0,
) -> list[int]:
    """The indices of the columns that fit in `width` (leaving `room` for a last
    column that takes what is left), dropping those of `drop_order` first to last."""
    widths = natural_widths(head, rows)
    kept = list(range(len(head)))
    for name in drop_order:
        used = sum(widths[i] + GAP for i in kept) + room
        if used <= width:
            break
        kept.remove(head.index(name))
    return kept
