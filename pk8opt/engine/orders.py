"""Paper orders: buy orders on one token of a market, prices in milli (1/1000)."""

from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    PENDING = 0  # posted, not yet resting (post latency)
    OPEN = 1  # resting on the book
    FILLED = 2
    CANCELLED = 3
    REJECTED = 4


class Order:
    """One buy order. `ahead` is the size queued in front of it at its price."""

    __slots__ = (
        "id",
        "token",
        "price",
        "size",
        "filled",
        "status",
        "submit_ns",
        "open_ns",
        "ahead",
        "trade_debt",
        "reserved_usdc",
        "cancel_requested",
        "why",
        "reason",
        "phantom",
        "seen_filled",
        "seen_done",
        "seen_open",
    )

    def __init__(
        self, oid: int, token: int, price: int, size: float, submit_ns: int, why: str = ""
    ) -> None:
        self.id = oid
        self.token = token
        self.price = price
        self.size = size
        self.filled = 0.0
        self.status = Status.PENDING
        self.submit_ns = submit_ns
        self.open_ns = -1
        self.ahead = 0.0
        self.trade_debt = 0.0  # traded volume at the price not yet seen leaving the level
        self.reserved_usdc = 0.0
        self.cancel_requested = False
        self.why = why
        self.reason = ""
        self.phantom = False  # took liquidity on opening; the asks it ate still show
        # what the trade loop knows (engine.responses): fills and end it was told of
        self.seen_filled = 0.0
        self.seen_done = False
        self.seen_open = False

    @property
    def remaining(self) -> float:
        return self.size - self.filled

    @property
    def live(self) -> bool:
        """Still able to fill (pending or resting, cancel possibly in flight)."""
        return self.status <= Status.OPEN

    @property
    def seen_remaining(self) -> float:
        """What is left of the order as far as the trade loop knows."""
        return self.size - self.seen_filled

    @property
    def seen_live(self) -> bool:
        """Live as far as the trade loop knows (no response said it is done)."""
        return not self.seen_done and self.status != Status.REJECTED

    def __repr__(self) -> str:
        return (
            f"Order(id={self.id}, token={self.token}, price={self.price}, size={self.size}, "
            f"filled={self.filled}, status={self.status.name}, ahead={self.ahead:g})"
        )
