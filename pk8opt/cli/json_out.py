"""`--json`: one JSON document on stdout, everything else on stderr.

`echo_json` prints a document as every `--json` of the CLI does (indented; a figure that
could not be computed, NaN or infinite, is `null`, so the output is strict JSON).
`stdout_to_stderr` sends whatever a long command prints while it works (progress
bars, notes, the lines of the worker processes it starts) to stderr, at the level of
the file descriptors, so that stdout carries the document alone.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float (in dicts and lists) as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def json_text(doc: Any) -> str:
    return json.dumps(finite(doc), indent=2, allow_nan=False, default=str)


def echo_json(doc: Any) -> None:
    import typer

    typer.echo(json_text(doc))


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Within the block, file descriptor 1 is stderr (for this process and the
    processes it starts); the real stdout comes back after it."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
