"""The progress bar of long loops: drawn on a terminal, silent elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from pk8opt.progress import steps


def test_draws_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with steps("loading sessions", 3, console) as advance:
        for _ in range(3):
            advance()
    text = out.getvalue()
    assert "loading sessions" in text and "3/3" in text


def test_silent_under_a_pipe_and_for_one_item() -> None:
    out = io.StringIO()
    with steps("loading sessions", 3, Console(file=out, force_terminal=False)) as advance:
        advance()
    term = io.StringIO()
    with steps("loading sessions", 1, Console(file=term, force_terminal=True)) as advance:
        advance()
    assert out.getvalue() == "" and term.getvalue() == ""
