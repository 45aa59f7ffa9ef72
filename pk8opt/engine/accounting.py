"""Cash, reserved cash, positions and average cost of one paper account.

Money is conserved: at every moment
`cash + reserved + fees_paid + cost_basis(Up) + cost_basis(Down) == starting cash`
until settlement, where each winning share pays 1 into cash and positions close.
"""

from __future__ import annotations

from pk8opt.engine.orders import Order


class Account:
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
    )

    def __init__(self, starting_cash_usdc: float) -> None:
        self.starting_cash = starting_cash_usdc
        self.cash = starting_cash_usdc  # free cash
        self.reserved = 0.0  # held for live orders
        self.pos = [0.0, 0.0]  # shares of Up, Down
        self.cost = [0.0, 0.0]  # cost basis in USDC (fees excluded)
        self.fees = 0.0
        self.volume = 0.0
        self.maker_volume = 0.0  # notional of fills as maker
        self.rebates = 0.0  # estimated maker rebates, paid later: not in cash
        self.fills = 0
        self.settled_usdc = 0.0

    def avg_cost(self, token: int) -> float:
        q = self.pos[token]
        return self.cost[token] / q if q > 0.0 else 0.0

    def reserve(self, order: Order, amount: float) -> bool:
        if amount > self.cash:
            return False
        self.cash -= amount
        self.reserved += amount
        order.reserved_usdc = amount
        return True

    def fill(
        self,
        order: Order,
        qty: float,
        price_usdc: float,
        fee_usdc: float,
        rebate_usdc: float = 0.0,
        maker: bool = False,
    ) -> None:
        """Compiled twin: pk8opt.backtest.compiled.engine.fill."""
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
        self.rebates += rebate_usdc
        self.fills += 1

    def release(self, order: Order) -> None:
        """Return what is left of an order's reservation once it can no longer fill.

        Compiled twin: pk8opt.backtest.compiled.engine.release.
        """
        self.cash += order.reserved_usdc
        self.reserved -= order.reserved_usdc
        order.reserved_usdc = 0.0
        if abs(self.reserved) < 1e-9:
            self.reserved = 0.0

    def settle(self, winner: int) -> float:
        payout = self.pos[winner] * 1.0
        self.cash += payout
        self.settled_usdc = payout
        self.pos = [0.0, 0.0]
        self.cost = [0.0, 0.0]
        return payout

    def equity(self, mark_up: float | None, mark_dn: float | None) -> float:
        """Cash + reservations + positions marked at the given prices (cost if None).

        Compiled twin: pk8opt.backtest.compiled.trader.sample_equity.
        """
        value = self.cash + self.reserved
        for token, mark in ((0, mark_up), (1, mark_dn)):
            q = self.pos[token]
            if q:
                value += q * mark if mark is not None else self.cost[token]
        return value
