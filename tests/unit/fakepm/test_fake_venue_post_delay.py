"""The fake venue counts a post's latency from the order's own signing time (its v2
`timestamp`, wall ms) on the venue clock: at `--speed 20` a client that spends 10 wall
ms signing and sending has spent 200 venue ms, which a venue at full speed never sees."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from pk8opt.fakepm.clob import ClobServer
from pk8opt.fakepm.intake import Incoming
from pk8opt.fakepm.ledger import VenueStats
from pk8opt.fakepm.venue_params import VenueParams
from pk8opt.polymarket.endpoints import VenueClock

WALL0 = 1_700_000_000_000_000_000  # wall ns at the clock's anchor
VENUE0 = 1_767_200_000_000_000_000


class Clock(VenueClock):
    """The served clock (venue = anchor + 20 x wall since anchor), read at a set wall time;
    `sleep_until_ns` notes the venue time it was asked to wait for."""

    def __init__(self, wall_ns: int) -> None:
        super().__init__(VENUE0, WALL0, 20.0)
        object.__setattr__(self, "wall", wall_ns)
        object.__setattr__(self, "waited", [])

    def now_ns(self) -> int:
        return self.venue_ns_at(self.wall)  # type: ignore[attr-defined]

    async def sleep_until_ns(self, venue_ns: int) -> None:
        self.waited.append(venue_ns)  # type: ignore[attr-defined]


def _due(signed_wall_ms: int, arrived_wall_ns: int, latency_ms: float = 800.0):
    clock = Clock(arrived_wall_ns)
    server = SimpleNamespace(
        clock=clock, params=VenueParams(post_latency_ms=latency_ms), stats=VenueStats()
    )
    inc = Incoming("0x1", "1", "BUY", 0, 10.0, "GTC", 0, "0xm", True, signed_wall_ms)  # type: ignore[arg-type]
    asyncio.run(ClobServer._post_delay(server, inc))  # type: ignore[arg-type]
    return clock.waited[0], server.stats.posts_late


def test_the_latency_counts_from_signing_not_arrival() -> None:
    signed_ms = WALL0 // 10**6 + 1_000  # signed 1 wall s after the anchor: venue +20 s
    # arrived 10 wall ms later (200 venue ms): due 800 venue ms after the signing
    due, late = _due(signed_ms, signed_ms * 10**6 + 10 * 10**6)
    assert due == VENUE0 + 20 * 10**9 + 800 * 10**6 and late == 0


def test_an_order_arriving_after_its_due_time_meets_the_book_on_arrival() -> None:
    signed_ms = WALL0 // 10**6 + 1_000
    arrived = signed_ms * 10**6 + 50 * 10**6  # 50 wall ms = 1,000 venue ms: past 800
    due, late = _due(signed_ms, arrived)
    assert due < VENUE0 + 20 * 10**9 + 1_000 * 10**6 and late == 1


def test_no_timestamp_or_one_far_off_counts_from_arrival() -> None:
    arrived = WALL0 + 10**9
    for signed_ms in (0, arrived // 10**6 + 60_000, arrived // 10**6 - 60_000):
        due, late = _due(signed_ms, arrived)
        assert due == VENUE0 + 20 * 10**9 + 800 * 10**6 and late == 0, signed_ms
