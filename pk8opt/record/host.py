"""What the recorder gives its parts: `RecorderHost`, the recorder as one symbol's
recorder sees it (its settings, its Gamma client, its log, and what it counts).

`Recorder` implements it; `SymbolRecorder` knows the recorder only through it, so the
parts never import the module that assembles them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Protocol

from pk8opt.polymarket.gamma import GammaClient
from pk8opt.polymarket.links import Failure
from pk8opt.record.config import RecordConfig


class Log(Protocol):
    """The recorder's structured log: one event and its fields."""

    def __call__(self, event: str, **fields: Any) -> None: ...


class RecorderHost(Protocol):
    @property
    def cfg(self) -> RecordConfig: ...

    @property
    def gamma(self) -> GammaClient: ...

    @property
    def log(self) -> Log: ...

    @property
    def disk_error(self) -> OSError | None:
        """The write that failed; nothing more is written once it is set."""
        ...

    def connect_failed(self, failure: Failure) -> None:
        """A failed attempt to reach Gamma or a socket."""
        ...

    def write_failed(self, exc: OSError) -> None:
        """A write to the recording failed: stop, keep what is there."""
        ...

    def track(self, job: asyncio.Future[Any]) -> None:
        """A write job (finishing a session, adding late frames) shutdown waits for."""
        ...

    def session_started(self) -> None:
        """A session was opened (new, or continued after a restart)."""
        ...

    def session_finished(self) -> None:
        """A session was finished `complete`."""
        ...

    def session_incomplete(self) -> None:
        """A session was cut short, kept and marked `incomplete`."""
        ...

    def left_open(self, folder: Path) -> None:
        """A session folder a write error left in `recording` state."""
        ...
