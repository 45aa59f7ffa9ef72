"""The fake venue's fill model: our orders against the book it replays.

One `MarketFills` per market brings the market's recorded books forward through its
frames as the venue clock goes (the project's `MarketBook` rules: a level reaching
through the other side takes what it crosses, a token without a book of its own follows
the other mirrored), and fills the orders resting in it:

- An order arriving across the book takes the displayed liquidity at once, best price
  first, at each level's price (a taker). What it takes is remembered (`taken`) until the
  replay sets that level anew, so the same displayed size is not taken twice.
- What rests gets a place in the queue: `queue_frac` of the displayed size at its price
  and side is ahead of it. Volume traded at its price (a `last_trade_price` there, or a
  fall of the displayed size that no trade explains, with `decrease_fills`) goes first
  to the size ahead, then to the order (a maker, at its own price). Without
  `decrease_fills`, a fall no trade explains is cancellation from all over the queue
  alike: the size ahead shrinks in proportion.
- A trade hits both tokens' books: the side it took of its own token, and the other
  side of the other token at the complementary price (a taker buying Up at p trades
  with Down bids at 1 - p), as the venue matches complementary orders.
- With `trade_through`, a trade at a better price than ours, or size of the other side
  resting at or through our price, fills us at once (a maker, at our price).

Prices are milli (1/1000 USDC), sizes shares, times venue nanoseconds. Nothing here
knows of accounts or orders' owners: the caller applies the fills it returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pk8opt.polymarket.wire import (
    ASK,
    BID,
    BookSnapshot,
    LevelUpdate,
    TickSizeChange,
    Trade,
    parse_market_frame,
)
from pk8opt.recordings.book import MarketBook
from pk8opt.recordings.schema import PRICE_SCALE, Kind

_RESET, _LEVEL = int(Kind.BOOK_RESET), int(Kind.LEVEL)
EPS = 1e-9


@dataclass
class Resting:
    """One of our orders as the book knows it: what is left and what is ahead."""

    order_id: str
    token: int  # 0 Up, 1 Down
    side: int  # BID (a buy) or ASK (a sell)
    price: int  # milli
    left: float
    ahead: float = 0.0
    seq: int = 0  # arrival order: priority among our orders at one price


@dataclass
class Fill:
    order_id: str
    price: int  # milli, the price it traded at
    size: float
    maker: bool
    t_ns: int


def _crosses(side: int, ours: int, other: int) -> bool:
    """Does an opposite level at `other` reach our price `ours`?"""
    return other <= ours if side == BID else other >= ours


def _better(side: int, ours: int, traded: int) -> bool:
    """Is a trade at `traded` better for the other side than our price?"""
    return traded < ours if side == BID else traded > ours


@dataclass
class MarketFills:
    condition_id: str
    tokens: tuple[str, str]  # (Up, Down)
    frames: Sequence[Any]  # this market's `MarketFrame`s, by time
    queue_frac: float = 1.0
    trade_through: bool = True
    decrease_fills: bool = True
    book: MarketBook = field(default_factory=MarketBook)
    ticks: list[int | None] = field(default_factory=lambda: [None, None])
    resting: list[Resting] = field(default_factory=list)
    taken: dict[tuple[int, int, int], float] = field(default_factory=dict)
    printed: dict[tuple[int, int, int], float] = field(default_factory=dict)
    next: int = 0  # the first frame not yet applied
    _seq: int = 0

    # ---- time ------------------------------------------------------------------
    def next_time(self) -> int | None:
        return self.frames[self.next].t if self.next < len(self.frames) else None

    def advance(self, now_ns: int) -> list[Fill]:
        """Apply every frame up to `now_ns`; the fills of our resting orders it makes."""
        fills: list[Fill] = []
        frames = self.frames
        while self.next < len(frames) and frames[self.next].t <= now_ns:
            f = frames[self.next]
            self.next += 1
            for ev in parse_market_frame(f.raw):
                if isinstance(ev, LevelUpdate):
                    self._on_level(ev, f.t, fills)
                elif isinstance(ev, Trade):
                    self._on_trade(ev, f.t, fills)
                elif isinstance(ev, BookSnapshot):
                    self._on_snapshot(ev, f.t, fills)
                elif isinstance(ev, TickSizeChange) and ev.asset_id in self.tokens:
                    self.ticks[self.tokens.index(ev.asset_id)] = ev.tick_milli
        return fills

    def tick_milli(self, token: int, default: int) -> int:
        tick = self.ticks[token] if self.ticks[token] is not None else self.ticks[1 - token]
        return tick or default

    # ---- the book as we see it ---------------------------------------------------
    def available(self, token: int, side: int, price: int) -> float:
        """Displayed size at a level, less what our takers took of it."""
        shown = self.book[token].size_at(side, price)
        return max(0.0, shown - self.taken.get((token, side, price), 0.0))

    def levels(self, token: int, side: int) -> list[tuple[int, float]]:
        """A side's levels with what is available at each, best first."""
        sizes = self.book[token].bids if side == BID else self.book[token].asks
        prices = sorted(sizes, reverse=side == BID)
        out = [(p, self.available(token, side, p)) for p in prices]
        return [(p, s) for p, s in out if s > EPS]

    def best(self, token: int, side: int) -> int | None:
        lv = self.levels(token, side)
        return lv[0][0] if lv else None

    # ---- orders ------------------------------------------------------------------
    def plan_take(self, token: int, side: int, price: int, size: float) -> list[tuple[int, float]]:
        """What an order arriving now would take: (price, size) per opposite level."""
        plan, left = [], size
        for p, avail in self.levels(token, 1 - side):
            if left <= EPS or not _crosses(side, price, p):
                break
            take = min(left, avail)
            plan.append((p, take))
            left -= take
        return plan

    def take(self, token: int, side: int, plan: list[tuple[int, float]]) -> None:
        for p, size in plan:
            key = (token, 1 - side, p)
            self.taken[key] = self.taken.get(key, 0.0) + size

    def rest(self, order_id: str, token: int, side: int, price: int, left: float) -> Resting:
        """Put an order in the book behind `queue_frac` of the size displayed there."""
        self._seq += 1
        ahead = self.queue_frac * self.available(token, side, price)
        r = Resting(order_id, token, side, price, left, ahead, self._seq)
        self.resting.append(r)
        return r

    def remove(self, order_id: str) -> None:
        self.resting = [r for r in self.resting if r.order_id != order_id]

    # ---- events ------------------------------------------------------------------
    def _token(self, asset_id: str) -> int | None:
        return self.tokens.index(asset_id) if asset_id in self.tokens else None

    def _on_snapshot(self, ev: BookSnapshot, t_ns: int, fills: list[Fill]) -> None:
        tok = self._token(ev.asset_id)
        if tok is None:
            return
        frame = self.next
        self.book.apply(_RESET, tok, -1, -1, 0.0, frame)
        for side, levels in ((BID, ev.bids), (ASK, ev.asks)):
            for price, size in levels:
                if 0 < price < PRICE_SCALE and math.isfinite(size) and size >= 0:
                    self.book.apply(_LEVEL, tok, side, price, size, frame)
        if ev.tick_milli:
            self.ticks[tok] = ev.tick_milli
        renewed = (tok, 1 - tok) if self.book.mirror[1 - tok] else (tok,)
        for t in renewed:  # a new book: what was taken or printed is in it
            for store in (self.taken, self.printed):
                for key in [k for k in store if k[0] == t]:
                    del store[key]
        for r in self.resting:
            r.ahead = min(r.ahead, self.available(r.token, r.side, r.price))
        self._crossing(t_ns, fills)

    def _on_level(self, ev: LevelUpdate, t_ns: int, fills: list[Fill]) -> None:
        tok = self._token(ev.asset_id)
        if tok is None or not (0 < ev.price < PRICE_SCALE) or not math.isfinite(ev.size):
            return
        ours = {(r.token, r.side, r.price) for r in self.resting}
        before = {key: self.book[key[0]].size_at(key[1], key[2]) for key in ours}
        mirrored = self.book.mirror[1 - tok]
        self.book.apply(_LEVEL, tok, ev.side, ev.price, max(ev.size, 0.0))
        self.taken.pop((tok, ev.side, ev.price), None)  # the replay's total is the venue's word
        if mirrored:
            self.taken.pop((1 - tok, 1 - ev.side, PRICE_SCALE - ev.price), None)
        for key, was in before.items():
            now = self.book[key[0]].size_at(key[1], key[2])
            drop = was - now
            explained = min(max(drop, 0.0), self.printed.get(key, 0.0))
            if explained:
                self.printed[key] -= explained
            drop -= explained
            if drop <= EPS:
                continue
            if self.decrease_fills:
                self._at_price(*key, drop, t_ns, fills)
            else:  # cancelled from all over the queue alike: ahead of us pro rata
                base = was - explained
                for r in self.resting:
                    if (r.token, r.side, r.price) == key:
                        r.ahead = min(r.ahead * max(now, 0.0) / base, now) if base > EPS else 0.0
        self._crossing(t_ns, fills)

    def _on_trade(self, ev: Trade, t_ns: int, fills: list[Fill]) -> None:
        tok = self._token(ev.asset_id)
        if tok is None or ev.size <= 0:
            return
        # the taker sold (or we cannot tell): bids at that price were hit; bought: asks.
        # The tokens are complements: a side of one at p is the other side of the other
        # at 1 - p (a taker buying Up at p matches a Down bid at 1 - p), so both are hit
        hit = [BID, ASK] if ev.side not in (BID, ASK) else [ASK if ev.side == BID else BID]
        for side in hit:
            for t, s, p in ((tok, side, ev.price), (1 - tok, 1 - side, PRICE_SCALE - ev.price)):
                key = (t, s, p)
                self.printed[key] = self.printed.get(key, 0.0) + ev.size
                self._at_price(t, s, p, ev.size, t_ns, fills)
                if self.trade_through:
                    self._through(t, s, p, ev.size, t_ns, fills)

    def _at_price(
        self, token: int, side: int, price: int, volume: float, t_ns: int, fills: list[Fill]
    ) -> None:
        """`volume` traded at a level we rest at: the queue ahead first, then us."""
        earlier = 0.0
        for r in sorted(self.resting, key=lambda r: r.seq):
            if (r.token, r.side, r.price) != (token, side, price) or r.left <= EPS:
                continue
            ahead = min(r.ahead, volume)
            r.ahead -= ahead
            size = min(r.left, max(0.0, volume - ahead - earlier))
            if size > EPS:
                earlier += size
                self._fill(r, size, t_ns, fills)

    def _through(
        self, token: int, side: int, traded: int, volume: float, t_ns: int, fills: list[Fill]
    ) -> None:
        """`volume` traded at a price worse than ours for the other side: ours first."""
        mine = [
            r
            for r in self.resting
            if r.token == token and r.side == side and _better(side, r.price, traded)
        ]
        mine.sort(key=lambda r: (-r.price if side == BID else r.price, r.seq))
        for r in mine:
            size = min(r.left, volume)
            if size <= EPS:
                break
            volume -= size
            self._fill(r, size, t_ns, fills)

    def _crossing(self, t_ns: int, fills: list[Fill]) -> None:
        """Opposite size resting at our price (or through it, with `trade_through`)
        trades with us: we were there first."""
        for r in sorted(self.resting, key=lambda r: r.seq):
            for p, avail in self.levels(r.token, 1 - r.side):
                if r.left <= EPS or not _crosses(r.side, r.price, p):
                    break
                if p != r.price and not self.trade_through:
                    continue
                size = min(r.left, avail)
                self.take(r.token, r.side, [(p, size)])
                self._fill(r, size, t_ns, fills)

    def _fill(self, r: Resting, size: float, t_ns: int, fills: list[Fill]) -> None:
        r.left -= size
        fills.append(Fill(r.order_id, r.price, size, True, t_ns))
        if r.left <= EPS:
            self.remove(r.order_id)
