"""The fake venue's own settings: how slow it is, how it fills, what an account holds.

Each parameter is declared once, here: its name, type, default, meaning and range.
`pk8opt serve --venue-param NAME=VALUE` parses them (`parse_venue_params`), `serve --help`
lists them (`venue_params_help`), and the venue reads the frozen `VenueParams`.
Times marked "venue" run on the venue clock (`--speed` shortens them on the wall);
the heartbeat timeout is wall time, as a client's heartbeat timer is.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from pk8opt.errors import ConfigError


def _param(default: Any, help: str, lo: float | None = 0.0, hi: float | None = None) -> Any:
    return field(default=default, metadata={"help": help, "lo": lo, "hi": hi})


@dataclass(frozen=True)
class VenueParams:
    post_latency_ms: float = _param(
        100.0,
        "venue ms from an order's signing (its timestamp) to its matching; from its "
        "arrival when later (docs/serve.md)",
    )
    cancel_latency_ms: float = _param(
        100.0, "venue ms from a cancel's arrival to the order leaving (it can fill meanwhile)"
    )
    queue_frac: float = _param(
        1.0, "fraction of the displayed size at our price taken to be ahead of us (0..1)", 0, 1
    )
    trade_through: bool = _param(
        True, "a trade, or resting size, at a better price than ours fills us (1/0)", None
    )
    decrease_fills: bool = _param(
        True,
        "a fall of the displayed size at our price that no trade explains counts as traded "
        "volume (1), or as cancels that shorten the queue ahead pro rata (0)",
        None,
    )
    balance_usdc: float = _param(1000.0, "USDC each new account starts with")
    heartbeat_timeout_s: float = _param(
        10.0,
        "wall seconds without a heartbeat after which a client's orders are cancelled "
        "(armed by its first heartbeat; 0 = off)",
    )
    mine_ms: float = _param(2000.0, "venue ms from a trade's MATCHED to MINED (or RETRYING)")
    confirm_ms: float = _param(3000.0, "venue ms from MINED to CONFIRMED (or RETRYING to FAILED)")
    chain_id: int = _param(137, "chain id the signatures are checked for (137 Polygon)", 1)


NAMES = tuple(f.name for f in dataclasses.fields(VenueParams))
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def venue_params_help() -> str:
    """One line per parameter: `name (default D): meaning`."""
    lines = []
    for f in dataclasses.fields(VenueParams):
        default = f.default
        shown = int(default) if isinstance(default, bool) else f"{default:g}"
        lines.append(f"{f.name} (default {shown}): {f.metadata['help']}")
    return "\n".join(lines)


def _value(f: dataclasses.Field[Any], text: str) -> Any:
    """`text` as the type of `f`'s default, in its range; ValueError says why not."""
    default = f.default
    low = text.strip().lower()
    if isinstance(default, bool):
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("expected 1 or 0 (true/false)")
    try:
        value: float = int(low) if isinstance(default, int) else float(low)
    except ValueError:
        kind = "a whole number" if isinstance(default, int) else "a number"
        raise ValueError(f"not {kind}") from None
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    lo, hi = f.metadata["lo"], f.metadata["hi"]
    if lo is not None and value < lo:
        raise ValueError(f"must be >= {lo:g}")
    if hi is not None and value > hi:
        raise ValueError(f"must be <= {hi:g}")
    return value


def parse_venue_params(items: list[str] | tuple[str, ...] = ()) -> VenueParams:
    """`["queue_frac=0.5", "post_latency_ms=0"]` -> VenueParams; one `ConfigError` line
    naming the bad item and the valid names otherwise."""
    fields = {f.name: f for f in dataclasses.fields(VenueParams)}
    valid = ", ".join(NAMES)
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            raise ConfigError(
                f"--venue-param {item!r}: expected NAME=VALUE with NAME one of: {valid}"
            )
        try:
            out[name] = _value(fields[name], text)
        except ValueError as exc:
            raise ConfigError(
                f"--venue-param {name}={text!r}: {exc} (valid names: {valid})"
            ) from None
    return VenueParams(**out)
