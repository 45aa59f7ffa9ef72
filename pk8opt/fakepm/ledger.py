"""The fake venue's books of account: orders, trades, balances, and how they look on the wire.

An account is a wallet address: its USDC, its shares of each token and the fees it paid.
Open buy orders reserve `left x price` of its USDC, open sells `left` of its shares; a new
order must fit in what is not reserved. A trade moves USDC and shares at once (MATCHED)
and is undone if it ends FAILED.

The JSON shapes are the venue's: REST orders and trades as `GET /data/order(s)` and
`GET /data/trades` answer, user-socket `order` and `trade` events as in
`shared/fixtures/polymarket/user_ws/`. In a trade where we were the maker, the top level
speaks of the taker (a replayed counterparty) and our order is in `maker_orders`; where
we were the taker, the top level is ours and the replayed resting order is the maker.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# the replay's side of our trades: one owner, one address, an order id per trade
COUNTERPARTY_OWNER = "00000000-0000-4000-8000-00000000fa4e"
COUNTERPARTY_ADDRESS = "0x000000000000000000000000000000000000fa4e"
EPS = 1e-9
OPEN = "LIVE"


def num(x: float) -> str:
    """3 -> "3", 2.5 -> "2.5", 0.47 -> "0.47": a decimal as the venue writes it."""
    text = f"{round(x, 6):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def taker_fee(size: float, price: float, rate: float, exponent: float) -> float:
    """`size * rate * (p * (1 - p)) ** exponent` USDC, to 5 decimals, at least 0.00001."""
    if rate <= 0 or size <= 0:
        return 0.0
    fee = round(size * rate * (price * (1 - price)) ** exponent, 5)
    return max(fee, 0.00001)


@dataclass
class VenueOrder:
    id: str
    owner: str  # the API key that posted it
    maker: str  # the funder address as signed
    account: str  # its account: the address, lower case
    market: str  # condition id
    asset_id: str
    token: int  # 0 Up, 1 Down
    outcome: str
    side: str  # "BUY" | "SELL"
    price: float
    size: float
    order_type: str
    expiration: int
    created_ns: int
    matched: float = 0.0
    status: str = OPEN  # LIVE, MATCHED, CANCELED, INVALID
    trades: list[str] = field(default_factory=list)

    @property
    def left(self) -> float:
        return max(0.0, self.size - self.matched)

    @property
    def is_open(self) -> bool:
        return self.status == OPEN


@dataclass
class VenueTrade:
    id: str
    order: VenueOrder
    price: float
    size: float
    fee_usdc: float
    fee_rate_bps: int
    maker: bool
    match_ns: int
    counter_order_id: str
    status: str = "MATCHED"  # -> MINED -> CONFIRMED, or RETRYING -> FAILED
    updated_ns: int = 0
    fail: bool = False

    @property
    def tx_hash(self) -> str:
        return "0x" + hashlib.sha256(("tx:" + self.id).encode()).hexdigest()


@dataclass
class Account:
    address: str
    usdc: float
    tokens: dict[str, float] = field(default_factory=dict)
    fees_usdc: float = 0.0


@dataclass
class VenueStats:
    """Counters for tests and the exit summary."""

    posts_received: int = 0
    posts_accepted: int = 0
    posts_late: int = 0  # arrived after their signing time + post_latency_ms
    posts_rejected: int = 0
    cancels_received: int = 0
    orders_cancelled: int = 0
    orders_filled: int = 0
    fills: int = 0
    trades_failed: int = 0
    heartbeats: int = 0
    auth_failures: int = 0
    rejections: Counter[str] = field(default_factory=Counter)


class Ledger:
    def __init__(self, balance_usdc: float) -> None:
        self.balance_usdc = balance_usdc
        self.orders: dict[str, VenueOrder] = {}
        self.trades: dict[str, VenueTrade] = {}
        self.accounts: dict[str, Account] = {}
        self.stats = VenueStats()

    def account(self, address: str) -> Account:
        key = address.lower()
        if key not in self.accounts:
            self.accounts[key] = Account(address, self.balance_usdc)
        return self.accounts[key]

    def open_orders(self, account: str | None = None) -> list[VenueOrder]:
        return [
            o
            for o in self.orders.values()
            if o.is_open and (account is None or o.account == account)
        ]

    def reserved_usdc(self, account: str) -> float:
        return sum(o.left * o.price for o in self.open_orders(account) if o.side == "BUY")

    def reserved_shares(self, account: str, asset_id: str) -> float:
        return sum(
            o.left for o in self.open_orders(account) if o.side == "SELL" and o.asset_id == asset_id
        )

    def fill(
        self,
        o: VenueOrder,
        price: float,
        size: float,
        maker: bool,
        fee: tuple[float, float, bool],
        t_ns: int,
    ) -> VenueTrade:
        """Record a fill of `o` at `price`: the trade (MATCHED) and its money. `fee` is the
        market's (rate, exponent, taker_only)."""
        rate, exponent, taker_only = fee
        pays = rate > 0 and (not maker or not taker_only)
        fee_usdc = taker_fee(size, price, rate, exponent) if pays else 0.0
        trade_id = str(uuid.uuid4())
        trade = VenueTrade(
            id=trade_id,
            order=o,
            price=price,
            size=size,
            fee_usdc=fee_usdc,
            fee_rate_bps=round(rate * 10_000) if pays else 0,
            maker=maker,
            match_ns=t_ns,
            counter_order_id="0x" + hashlib.sha256(f"counter:{trade_id}".encode()).hexdigest(),
            updated_ns=t_ns,
        )
        self.trades[trade.id] = trade
        o.matched = min(o.size, o.matched + size)
        o.trades.append(trade.id)
        if o.left <= EPS:
            o.status = "MATCHED"
            self.stats.orders_filled += 1
        self._move(trade, +1)
        self.stats.fills += 1
        return trade

    def reverse(self, trade: VenueTrade) -> None:
        """A trade that FAILED: its USDC, shares and fee go back."""
        self._move(trade, -1)
        self.stats.trades_failed += 1

    def _move(self, trade: VenueTrade, sign: int) -> None:
        o = trade.order
        acct = self.account(o.maker)
        cash = trade.size * trade.price
        shares = trade.size if o.side == "BUY" else -trade.size
        acct.usdc += sign * ((-cash if o.side == "BUY" else cash) - trade.fee_usdc)
        acct.tokens[o.asset_id] = acct.tokens.get(o.asset_id, 0.0) + sign * shares
        acct.fees_usdc += sign * trade.fee_usdc

    def close(self, o: VenueOrder, status: str = "CANCELED") -> bool:
        if not o.is_open:
            return False
        o.status = status
        self.stats.orders_cancelled += 1
        return True

    # ---- the wire ------------------------------------------------------------------
    @staticmethod
    def order_json(o: VenueOrder) -> dict[str, Any]:
        return {
            "id": o.id,
            "status": o.status,
            "owner": o.owner,
            "maker_address": o.maker,
            "market": o.market,
            "asset_id": o.asset_id,
            "side": o.side,
            "original_size": num(o.size),
            "size_matched": num(o.matched),
            "price": num(o.price),
            "outcome": o.outcome,
            "expiration": str(o.expiration),
            "order_type": o.order_type,
            "associate_trades": list(o.trades),
            "created_at": o.created_ns // 10**9,
        }

    @staticmethod
    def order_event(o: VenueOrder, kind: str, now_ns: int) -> dict[str, Any]:
        """A user-socket `order` event: PLACEMENT, UPDATE or CANCELLATION."""
        out = Ledger.order_json(o)
        out.update(
            associate_trades=list(o.trades) if o.trades or kind != "PLACEMENT" else None,
            created_at=str(o.created_ns // 10**6),
            order_owner=o.owner,
            type=kind,
            timestamp=str(now_ns // 10**6),
            event_type="order",
        )
        return out

    @staticmethod
    def trade_json(t: VenueTrade) -> dict[str, Any]:
        o = t.order
        ours = {
            "asset_id": o.asset_id,
            "fee_rate_bps": str(t.fee_rate_bps),
            "maker_address": o.maker,
            "matched_amount": num(t.size),
            "order_id": o.id,
            "outcome": o.outcome,
            "owner": o.owner,
            "price": num(t.price),
        }
        theirs = dict(
            ours,
            fee_rate_bps="0",
            maker_address=COUNTERPARTY_ADDRESS,
            order_id=t.counter_order_id,
            owner=COUNTERPARTY_OWNER,
        )
        other_side = "SELL" if o.side == "BUY" else "BUY"
        return {
            "id": t.id,
            "taker_order_id": t.counter_order_id if t.maker else o.id,
            "market": o.market,
            "asset_id": o.asset_id,
            "side": other_side if t.maker else o.side,
            "size": num(t.size),
            "fee_rate_bps": "0" if t.maker else str(t.fee_rate_bps),
            "price": num(t.price),
            "status": t.status,
            "match_time": str(t.match_ns // 10**9),
            "last_update": str(t.updated_ns // 10**9),
            "outcome": o.outcome,
            "bucket_index": 0,
            "owner": COUNTERPARTY_OWNER if t.maker else o.owner,
            "trade_owner": COUNTERPARTY_OWNER if t.maker else o.owner,
            "maker_address": COUNTERPARTY_ADDRESS if t.maker else o.maker,
            "maker_orders": [ours if t.maker else theirs],
            "transaction_hash": t.tx_hash,
            "trader_side": "MAKER" if t.maker else "TAKER",
        }

    @staticmethod
    def trade_event(t: VenueTrade, now_ns: int) -> dict[str, Any]:
        out = Ledger.trade_json(t)
        out.update(type="TRADE", timestamp=str(now_ns // 10**6), event_type="trade")
        return out

    # ---- the exit summary -------------------------------------------------------------
    def summary_lines(self, rows: int = 20) -> list[str]:
        s = self.stats
        orders = list(self.orders.values())
        filled = sum(1 for o in orders if o.matched > EPS)
        cancelled = sum(1 for o in orders if o.status in ("CANCELED", "INVALID"))
        still = sum(1 for o in orders if o.is_open)
        shares = sum(t.size for t in self.trades.values() if t.status != "FAILED")
        fees = sum(t.fee_usdc for t in self.trades.values() if t.status != "FAILED")
        out = [
            f"# venue: {s.posts_received} order(s) received ({s.posts_rejected} rejected), "
            f"{filled} filled (in part or whole), {cancelled} cancelled, {still} still open; "
            f"{len(self.trades)} trade(s), {num(shares)} shares, fees {num(fees)} USDC"
        ]
        if orders:
            out.append(
                f"#   {'order':<14} {'side':<4} {'outcome':<7} {'price':>6} {'size':>9} "
                f"{'matched':>9}  status"
            )
        for o in orders[-rows:]:
            out.append(
                f"#   {o.id[:12] + '..':<14} {o.side:<4} {o.outcome:<7} {num(o.price):>6} "
                f"{num(o.size):>9} {num(o.matched):>9}  {o.status}"
            )
        if len(orders) > rows:
            out.append(f"#   ... and {len(orders) - rows} earlier order(s)")
        return out
