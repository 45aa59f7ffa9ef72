"""The paper engine's JSON Lines event log (ORIGIN.md's event names).

One object per line: `event`, `ts` (ISO 8601 UTC of the event's own timestamp, never
the wall clock), `ts_ns`, `slug`, then the event's fields. Same inputs, same bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import IO, Any

EVENTS = (
    "paper_order_submit",
    "paper_order_open",
    "paper_order_rejected",
    "paper_fill",
    "paper_order_cancel_req",
    "paper_order_cancelled",
    "paper_order_expired",
    "paper_settlement",
    "trade_quote",
)


def iso_ns(t_ns: int) -> str:
    dt = datetime.fromtimestamp(t_ns // 1_000_000_000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{(t_ns % 1_000_000_000) // 1000:06d}Z"


class EventLog:
    def __init__(self, fh: IO[str]) -> None:
        self.fh = fh

    def write(self, event: str, t_ns: int, slug: str, **fields: Any) -> None:
        record = {"event": event, "ts": iso_ns(t_ns), "ts_ns": t_ns, "slug": slug, **fields}
        self.fh.write(json.dumps(record, separators=(",", ":")) + "\n")
