"""The venue the trade loop posts to and cancels on, for one market window.

`Trader` reads and calls exactly this; `PaperEngine` is one implementation, the real
venue (`pk8opt.venue.real`) the other. Prices are in milli (1/1000 USDC), sizes in
shares, times in nanoseconds on the driver's clock. Every order is a buy on one token
(0 Up, 1 Down).

What the trade loop knows of its orders and account is `responses` (a
`pk8opt.engine.responses.Responses`): known positions and costs per token, a sequence
number that moves when they change, and on each `Order` its `seen_*` fields. The paper
engine delays these by its response latency; the real venue applies the venue's own
messages (post responses, user-socket order and trade events) as they arrive.
"""

from __future__ import annotations

from typing import Any, Protocol

from pk8opt.engine.market import MarketSpec
from pk8opt.engine.orders import Order
from pk8opt.engine.responses import Responses


class Venue(Protocol):
    market: MarketSpec
    responses: Responses
    orders: dict[int, Order]  # every order of this window by local id, live or not
    account: Any  # `equity(mark_up, mark_down) -> float` at least

    def submit(self, t_ns: int, token: int, price: int, size: float, why: str = "") -> Order:
        """Post a buy order. The returned order is live (pending) or, when refused
        before it left (a limit, the balance, a closed market), `REJECTED` with a
        `reason`."""
        ...

    def cancel(self, t_ns: int, o: Order) -> None:
        """Ask to cancel `o`; it stays live until the venue confirms."""
        ...

    def close(self, t_ns: int, winner: int | None) -> None:
        """The window resolved (`winner` 0 Up, 1 Down) or ended without a winner (None):
        orders left are expired, held shares valued at 1 or 0."""
        ...
