"""Which normalized rows hold a value no market can have, and taking them out.

A frame can parse and still carry a size of `-500`, `NaN` or `1e30`, or a price of
`1.5`. Such a row is a data-quality finding, not data: the normalizer counts it as
`malformed` with its `file:line` and leaves it out, so replay, the paper engine and the
live runner never see it. The other rows of the same frame are kept.

The bounds (prices in milli, see `schema.PRICE_SCALE`):

    LEVEL, TRADE   price in (0, 1) -> 1..999 milli; size finite, >= 0 and <= MAX_SIZE
    TICK_SIZE      tick in (0, 1)  -> 1..999 milli
    venue best     a venue best bid/ask sent with a row: -1 (not sent) or 0..1000
                   (the venue sends 0 for an empty bid side and 1 for an empty ask side)
    underlying     a price finite and > 0 (checked as each price is read)

`MAX_SIZE` is 1e10 shares: a thousand times the biggest level seen on the venue
(10,500,100 shares in the captures under shared/fixtures), so a real book never
reaches it and a value like 1e30 always does.

A number the wire parser cannot read at all (`"NaN"`, `"Infinity"`, `"abc"` as a price)
is `malformed` too, described by `bad_number` as its message's event type, the field and
the value as written: `price_change price 'NaN' is not a number`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from pk8opt.recordings.schema import NO_PRICE, PRICE_SCALE, Kind

MAX_SIZE = 1e10  # shares

_PRICED = (int(Kind.LEVEL), int(Kind.TRADE))
_TICK = int(Kind.TICK_SIZE)
_KIND_NAMES = {int(k): k.name.lower() for k in Kind}
# the numeric fields of the market socket's messages, written as strings on the wire
NUMBER_FIELDS = frozenset(
    {"price", "size", "best_bid", "best_ask", "tick_size", "old_tick_size", "new_tick_size"}
)
_decode_any = msgspec.json.Decoder().decode


def bad_event_rows(cols: dict[str, np.ndarray]) -> np.ndarray:
    """A boolean mask of the event rows (columns of `schema.EVENTS_SCHEMA`) that hold
    a value outside the bounds above."""
    kind, price, size = cols["kind"], cols["price"], cols["size"]
    priced = np.isin(kind, _PRICED)
    bad_price = (price < 1) | (price >= PRICE_SCALE)
    with np.errstate(invalid="ignore"):
        bad_size = ~np.isfinite(size) | (size < 0) | (size > MAX_SIZE)
    bad = priced & (bad_price | bad_size)
    bad |= (kind == _TICK) & bad_price
    for venue in (cols["venue_bid"], cols["venue_ask"]):
        bad |= (venue != NO_PRICE) & ((venue < 0) | (venue > PRICE_SCALE))
    return bad


def describe_event(cols: dict[str, np.ndarray], i: int) -> str:
    """What is wrong with event row `i`, for a problem example."""
    kind = int(cols["kind"][i])
    price, size = int(cols["price"][i]), float(cols["size"][i])
    name = _KIND_NAMES.get(kind, str(kind))
    vb, va = int(cols["venue_bid"][i]), int(cols["venue_ask"][i])
    if kind in _PRICED and not (np.isfinite(size) and 0 <= size <= MAX_SIZE):
        why = "negative" if size < 0 else "not finite" if not np.isfinite(size) else "absurd"
        return f"{name} size {size:g} ({why}; allowed 0..{MAX_SIZE:g}) at price {price / 1000:g}"
    if (kind in _PRICED or kind == _TICK) and not 1 <= price < PRICE_SCALE:
        return f"{name} price {price / 1000:g} outside (0, 1)"
    return f"{name} venue best bid/ask {vb / 1000:g}/{va / 1000:g} outside [0, 1]"


def keep_good_rows(
    events: dict[str, np.ndarray], report: Callable[[int, str], None]
) -> dict[str, np.ndarray]:
    """The event columns without their out-of-bounds rows; `report(lineno, detail)` is
    called once per row left out, in row order. Returns `events` itself when every row
    is good (the common case)."""
    bad = bad_event_rows(events)
    if not bad.any():
        return events
    frames = events["frame"]
    for i in np.flatnonzero(bad).tolist():
        report(int(frames[i]), describe_event(events, i))
    keep = ~bad
    return {k: v[keep] for k, v in events.items()}


def good_underlying(price: float) -> bool:
    """An underlying price is finite and positive (NaN fails every comparison)."""
    return 0.0 < price < math.inf


def _is_number(value: Any) -> bool:
    """A finite number, or a string of one (None: a field left out, not a bad number)."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    try:
        return math.isfinite(float(value))
    except (ValueError, OverflowError):
        return False


def bad_number(raw: str) -> str | None:
    """`<event type> <field> <value> is not a number` for the first numeric field of a
    market frame (`NUMBER_FIELDS`, in the frame's order) whose value is not a finite
    number, or None (not JSON, or every number readable)."""
    try:
        obj = _decode_any(raw)
    except msgspec.DecodeError:
        return None
    todo: list[tuple[Any, str]] = [(obj, "")]
    while todo:
        item, event = todo.pop()
        if isinstance(item, list):
            todo.extend((x, event) for x in reversed(item))
        elif isinstance(item, dict):
            event = str(item.get("event_type") or event or "book")
            for key, value in item.items():
                if key in NUMBER_FIELDS and not _is_number(value):
                    return f"{event} {key} {value!r} is not a number"
            todo.extend((v, event) for v in reversed(item.values()) if isinstance(v, list | dict))
    return None
