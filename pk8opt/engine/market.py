"""What the paper engine needs to know about one market window."""

from __future__ import annotations

from dataclasses import dataclass

from pk8opt.recordings.manifest import FeeSchedule, Manifest
from pk8opt.recordings.schema import PRICE_SCALE

# a settled window's winner as the engine's token index (Up is token 0, Down token 1)
WINNER_INDEX = {"Up": 0, "Down": 1}


@dataclass(frozen=True)
class MarketSpec:
    slug: str
    symbol: str
    timeframe: str
    condition_id: str
    token_up: str
    token_down: str
    window_start_ns: int
    window_end_ns: int
    tick_milli: int = 10
    min_order_size: float = 5.0
    fee_schedule: FeeSchedule | None = None  # None: no taker fee

    @classmethod
    def from_manifest(cls, m: Manifest) -> MarketSpec:
        return cls(
            slug=m.slug,
            symbol=m.symbol,
            timeframe=m.timeframe,
            condition_id=m.condition_id,
            token_up=m.token_up,
            token_down=m.token_down,
            window_start_ns=m.window_start_s * 1_000_000_000,
            window_end_ns=m.window_end_s * 1_000_000_000,
            tick_milli=max(1, int(round(m.tick_size * PRICE_SCALE))),
            min_order_size=m.min_order_size,
            fee_schedule=m.fee_schedule if m.fees_enabled else None,
        )
