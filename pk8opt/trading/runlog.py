"""A run's event log (`RunLog`): every engine event and the runner's own, one JSON line each.

The live runner writes it; `compare` reads it back beside a replay of the same windows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

EVENTS_LOG_NAME = "live_console_events.jsonl"

_decode = msgspec.json.Decoder().decode
_encode_line = msgspec.json.Encoder().encode


class RunLog:
    """`logs/live_console_events.jsonl`: one JSON object per engine event, as replay
    writes them, plus the runner's own (connections, discovery, settlement).
    Listeners (the headless printer, the dashboard) see each event as it is written."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh = open(path, "ab", buffering=0)  # noqa: SIM115
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.counts: dict[str, int] = {}

    def write(self, event: dict[str, Any] | str) -> None:
        """An event as a dict, or a JSON line as the engine's `EventLog` writes it."""
        if isinstance(event, str):
            if not event.strip():
                return
            event = _decode(event)
            assert isinstance(event, dict)
        self._fh.write(_encode_line(event) + b"\n")
        name = str(event.get("event", "?"))
        self.counts[name] = self.counts.get(name, 0) + 1
        for listener in self.listeners:
            listener(event)

    def close(self) -> None:
        self._fh.close()
