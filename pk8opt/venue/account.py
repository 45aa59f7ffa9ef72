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

from pk8opt.engine.accounting import Account
from pk8opt.engine.orders import Order


class RealAccount(Account):
    """The paper account, with the venue's ways: a reservation is never refused (the
    venue refuses, not us), a fill can be taken back, a position set to the venue's."""

    __slots__ = ("marks",)

    def __init__(self, starting_cash_usdc: float) -> None:
        super().__init__(starting_cash_usdc)
        self.marks: list[float | None] = [None, None]  # last prices equity was asked at

    def reserve(self, order: Order, amount: float) -> bool:
        """Hold `amount` for a live order (the venue holds it too)."""
        self.cash -= amount
        self.reserved += amount
        order.reserved_usdc += amount
        return True

    def fill(  # type: ignore[override]
        self, order: Order, qty: float, price_usdc: float, fee_usdc: float, maker: bool
    ) -> None:
        """A fill the venue reported (no rebate estimate: the venue pays those)."""
        super().fill(order, qty, price_usdc, fee_usdc, 0.0, maker)

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

    def equity(self, mark_up: float | None, mark_dn: float | None) -> float:
        """The paper account's equity; the marks given are kept for `pnl`."""
        if mark_up is not None:
            self.marks[0] = mark_up
        if mark_dn is not None:
            self.marks[1] = mark_dn
        return super().equity(mark_up, mark_dn)

    def pnl(self) -> float:
        """Realized + marked P&L of the window (fees in), at the last marks known."""
        return super().equity(self.marks[0], self.marks[1]) - self.starting_cash
