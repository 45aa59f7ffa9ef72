"""What the trade loop knows of its own orders and account: the venue's responses.

The paper engine fills, opens and cancels orders at once on its own clock; a real
client learns each of these one response latency later (`PM_PAPER_RESPONSE_LATENCY_MS`).
`Responses` holds those messages in flight and, once they are due, applies them to the
*known* state the trade loop and the strategy read: positions and cost per token, and
for each order its known fills and whether it is known to be done (filled, cancelled or
expired). Until then the trade loop sees its own state as it last knew it.

With a latency of 0 every message applies as it is sent, so the known state is the
engine's own state at every moment.
"""

from __future__ import annotations

from collections import deque

from pk8opt.engine.orders import Order

FILL, DONE, OPEN = 0, 1, 2


class Responses:
    __slots__ = ("latency_ns", "pos", "cost", "seq", "_queue", "_acks")

    def __init__(self, latency_ns: int) -> None:
        self.latency_ns = latency_ns
        self.pos = [0.0, 0.0]  # known shares of Up, Down
        self.cost = [0.0, 0.0]  # known cost basis (USDC, fees excluded)
        self.seq = 0  # bumps whenever the known state changes
        self._queue: deque[tuple[int, int, Order, float, float]] = deque()
        # acknowledgements change nothing the trade loop reads: no wake-up for them
        self._acks: deque[tuple[int, Order]] = deque()

    def send(self, t_ns: int, kind: int, order: Order, qty: float = 0.0, px: float = 0.0) -> None:
        """A response leaves the venue at `t_ns`; it is known `latency_ns` later.

        Compiled twin: pk8opt.backtest.compiled.responses.resp_send.
        """
        if self.latency_ns == 0:
            self._apply(kind, order, qty, px)
        elif kind == OPEN:
            self._acks.append((t_ns + self.latency_ns, order))
        else:
            self._queue.append((t_ns + self.latency_ns, kind, order, qty, px))

    def next_due_ns(self) -> int:
        return self._queue[0][0] if self._queue else 1 << 62

    def receive(self, t_ns: int) -> None:
        """Apply every response due at or before `t_ns` (they arrive in send order).

        Compiled twin: pk8opt.backtest.compiled.responses.resp_receive.
        """
        q = self._queue
        while q and q[0][0] <= t_ns:
            _, kind, order, qty, px = q.popleft()
            self._apply(kind, order, qty, px)
        acks = self._acks
        while acks and acks[0][0] <= t_ns:
            acks.popleft()[1].seen_open = True

    def settle(self) -> None:
        """The window closed: positions are gone, nothing more arrives."""
        self._queue.clear()
        self._acks.clear()
        self.pos = [0.0, 0.0]
        self.cost = [0.0, 0.0]
        self.seq += 1

    def _apply(self, kind: int, order: Order, qty: float, px: float) -> None:
        """Compiled twin: pk8opt.backtest.compiled.responses.resp_apply."""
        if kind == FILL:
            self.pos[order.token] += qty
            self.cost[order.token] += qty * px
            order.seen_filled += qty
        elif kind == DONE:
            order.seen_done = True
            if order.cancel_requested:
                # the trade loop let go of it when it asked to cancel: nothing it reads
                # changes (the strategy is not asked again for this)
                return
        else:  # an acknowledgement: no rule of the trade loop reads it
            order.seen_open = True
            return
        self.seq += 1
