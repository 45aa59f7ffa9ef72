"""The account of one real market window, as the venue's messages build it.

It has the paper account's shape (`pk8opt.engine.accounting.Account`: `starting_cash`,
`cash`, `reserved`, `pos`, `cost`, `fees`, `avg_cost(token)`, `equity(mark_up,
mark_dn)`) so the dashboard and the trade loop read either alike. The difference: a
real fill can be taken back (a trade the chain refused, `FAILED`), so `unfill` exists,
and money is the venue's: `starting_cash` is the USDC balance when the window opened,
and `cash` falls by what this window spends (the venue's balance is the broker's).

`equity` remembers the last marks it was given (the trade loop asks for equity at every
change of the book's mids), so the broker can value the window for the daily loss
limit without a market feed of its own.
"""

from __future__ import annotations

from pk8opt.engine.orders import Order


class RealAccount:
    __slots__ = (
        "starting_cash",
        "cash",
        "reserved",
        "pos",
        "cost",
        "fees",
        "volume",
        "maker_volume",
        "rebates",
        "fills",
        "settled_usdc",
        "marks",
    )

    def __init__(self, starting_cash_usdc: float) -> None:
        self.starting_cash = starting_cash_usdc
        self.cash = starting_cash_usdc
        self.reserved = 0.0  # price x remaining of this window's live orders
        self.pos = [0.0, 0.0]
        self.cost = [0.0, 0.0]  # fees excluded
        self.fees = 0.0
        self.volume = 0.0
        self.maker_volume = 0.0
        self.rebates = 0.0  # not estimated for real fills: the venue pays them
        self.fills = 0
        self.settled_usdc = 0.0
        self.marks: list[float | None] = [None, None]  # last prices equity was asked at

    def avg_cost(self, token: int) -> float:
        q = self.pos[token]
        return self.cost[token] / q if q > 0.0 else 0.0

    def reserve(self, order: Order, amount: float) -> None:
        """Hold `amount` for a live order (the venue holds it too)."""
        self.cash -= amount
        self.reserved += amount
        order.reserved_usdc += amount

    def release(self, order: Order) -> None:
        """What is left of an order's reservation goes back once it can no longer fill."""
        self.cash += order.reserved_usdc
        self.reserved -= order.reserved_usdc
        order.reserved_usdc = 0.0
        if abs(self.reserved) < 1e-9:
            self.reserved = 0.0

    def fill(
        self, order: Order, qty: float, price_usdc: float, fee_usdc: float, maker: bool
    ) -> None:
        charge = qty * price_usdc + fee_usdc
        take = min(charge, order.reserved_usdc)
        order.reserved_usdc -= take
        self.reserved -= take
        self.cash -= charge - take
        self.pos[order.token] += qty
        self.cost[order.token] += qty * price_usdc
        self.fees += fee_usdc
        self.volume += qty * price_usdc
        if maker:
            self.maker_volume += qty * price_usdc
        self.fills += 1

    def unfill(
        self, order: Order, qty: float, price_usdc: float, fee_usdc: float, maker: bool
    ) -> None:
        """Take back a fill the venue reported and then failed: the money comes back to
        cash (the order's reservation is not restored: the venue does not reopen it)."""
        self.cash += qty * price_usdc + fee_usdc
        self.pos[order.token] -= qty
        self.cost[order.token] -= qty * price_usdc
        self.fees -= fee_usdc
        self.volume -= qty * price_usdc
        if maker:
            self.maker_volume -= qty * price_usdc
        self.fills -= 1
        for tok in (0, 1):
            if abs(self.pos[tok]) < 1e-9:
                self.pos[tok] = 0.0
                self.cost[tok] = 0.0

    def adjust(self, token: int, qty: float, price_usdc: float) -> None:
        """The venue says we hold `qty` more (or fewer) shares than our fills say: take
        its word, valued at `price_usdc` a share."""
        self.pos[token] += qty
        self.cost[token] += qty * price_usdc
        self.cash -= qty * price_usdc

    def settle(self, winner: int) -> float:
        payout = self.pos[winner] * 1.0
        self.cash += payout
        self.settled_usdc = payout
        self.pos = [0.0, 0.0]
        self.cost = [0.0, 0.0]
        return payout

    def equity(self, mark_up: float | None, mark_dn: float | None) -> float:
        """Cash + reservations + positions marked at the given prices (at cost where a
        mark is None, as the paper account does). Marks given are kept for `pnl`."""
        if mark_up is not None:
            self.marks[0] = mark_up
        if mark_dn is not None:
            self.marks[1] = mark_dn
        value = self.cash + self.reserved
        for token, mark in ((0, mark_up), (1, mark_dn)):
            q = self.pos[token]
            if q:
                value += q * mark if mark is not None else self.cost[token]
        return value

    def pnl(self) -> float:
        """Realized + marked P&L of the window (fees in), at the last marks known."""
        value = self.cash + self.reserved - self.starting_cash
        for token in (0, 1):
            q = self.pos[token]
            if q:
                mark = self.marks[token]
                value += q * mark if mark is not None else self.cost[token]
        return value
