"""Where the venue is and what time it is there.

Endpoints come from options, else the environment (`PK8_GAMMA_URL`, `PK8_CLOB_WS_URL`,
`PK8_LIVE_WS_URL`, and for real orders `PK8_CLOB_URL` and `PK8_USER_WS_URL`), else
Polymarket's real addresses.

`VenueClock` is the venue's time as the recorder sees it. Against Polymarket it is the
wall clock. Against `pk8opt serve --speed X --now` the venue's clock runs X times faster
from an anchor; serve prints the anchor as `PK8_CLOCK_VENUE_NS`, `PK8_CLOCK_WALL_NS`
and `PK8_CLOCK_SPEED`, and everything that reads those gets the same clock:
`venue_ns = VENUE_NS + (wall_ns - WALL_NS) * SPEED`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from pk8opt.errors import ConfigError

GAMMA_URL = "https://gamma-api.polymarket.com"
CLOB_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
LIVE_WS_URL = "wss://ws-live-data.polymarket.com"
CLOB_URL = "https://clob.polymarket.com"  # CLOB REST: orders, cancels, balances
USER_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/user"  # our orders and trades


@dataclass(frozen=True)
class Endpoints:
    gamma_url: str = GAMMA_URL
    clob_ws_url: str = CLOB_WS_URL
    live_ws_url: str = LIVE_WS_URL
    clob_url: str = CLOB_URL
    user_ws_url: str = USER_WS_URL

    @classmethod
    def resolve(
        cls,
        gamma_url: str | None = None,
        clob_ws_url: str | None = None,
        live_ws_url: str | None = None,
        env: Mapping[str, str] | None = None,
        clob_url: str | None = None,
        user_ws_url: str | None = None,
    ) -> Endpoints:
        env = os.environ if env is None else env
        return cls(
            gamma_url=(gamma_url or env.get("PK8_GAMMA_URL") or GAMMA_URL).rstrip("/"),
            clob_ws_url=clob_ws_url or env.get("PK8_CLOB_WS_URL") or CLOB_WS_URL,
            live_ws_url=live_ws_url or env.get("PK8_LIVE_WS_URL") or LIVE_WS_URL,
            clob_url=(clob_url or env.get("PK8_CLOB_URL") or CLOB_URL).rstrip("/"),
            user_ws_url=user_ws_url or env.get("PK8_USER_WS_URL") or USER_WS_URL,
        )


@dataclass(frozen=True)
class VenueClock:
    """Venue time from wall time: `venue_ns = venue_anchor_ns + (wall - wall_anchor_ns) * speed`."""

    venue_anchor_ns: int = 0
    wall_anchor_ns: int = 0
    speed: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VenueClock:
        env = os.environ if env is None else env
        names = ("PK8_CLOCK_VENUE_NS", "PK8_CLOCK_WALL_NS", "PK8_CLOCK_SPEED")
        if not any(env.get(n) for n in names):
            return cls()
        try:
            venue = int(env.get("PK8_CLOCK_VENUE_NS") or 0)
            wall = int(env.get("PK8_CLOCK_WALL_NS") or 0)
            speed = float(env.get("PK8_CLOCK_SPEED") or 1.0)
        except ValueError as exc:
            raise ConfigError(f"PK8_CLOCK_*: not a number ({exc}); unset them or fix") from None
        if speed <= 0:
            raise ConfigError(f"PK8_CLOCK_SPEED={speed}: must be > 0")
        return cls(venue, wall, speed)

    def to_env(self) -> dict[str, str]:
        return {
            "PK8_CLOCK_VENUE_NS": str(self.venue_anchor_ns),
            "PK8_CLOCK_WALL_NS": str(self.wall_anchor_ns),
            "PK8_CLOCK_SPEED": f"{self.speed:g}",
        }

    @property
    def is_wall(self) -> bool:
        return self.speed == 1.0 and self.venue_anchor_ns == self.wall_anchor_ns

    def now_ns(self) -> int:
        return self.venue_ns_at(time.time_ns())

    def now_s(self) -> float:
        return self.now_ns() / 1e9

    def wall_ns_at(self, venue_ns: int) -> int:
        """The wall time at which the venue clock reads `venue_ns`."""
        if self.is_wall:
            return venue_ns
        return self.wall_anchor_ns + int((venue_ns - self.venue_anchor_ns) / self.speed)

    def venue_ns_at(self, wall_ns: int) -> int:
        """The venue clock's reading at wall time `wall_ns`."""
        if self.is_wall:
            return wall_ns
        return self.venue_anchor_ns + int((wall_ns - self.wall_anchor_ns) * self.speed)

    def wall_seconds(self, venue_seconds: float) -> float:
        """How long `venue_seconds` of venue time last on the wall."""
        return venue_seconds / self.speed

    async def sleep_until_ns(self, venue_ns: int) -> None:
        delay = (self.wall_ns_at(venue_ns) - time.time_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
