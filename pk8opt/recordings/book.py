"""The L2 order book: one `TokenBook` per outcome token, a `MarketBook` for both.

Prices are integers on the 1/1000 grid (see `recordings.schema`). A book is built
from snapshots (`reset` + `set_level`) and level updates (`set_level`, size 0
removes the level). The two tokens of a market are complements: an Up bid at p is a
Down ask at 1000 - p; `TokenBook.complement()` gives that view and `MarketBook`
offers the best prices across both books.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable

from pk8opt.recordings.schema import ASK, BID, NO_PRICE, PRICE_SCALE, Kind

_BOOK_RESET = int(Kind.BOOK_RESET)
_LEVEL = int(Kind.LEVEL)
_TICK = int(Kind.TICK_SIZE)
_RESOLVED = int(Kind.RESOLVED)
_GAP = int(Kind.GAP)


class _Side:
    """One side: sizes by price plus the prices kept sorted ascending."""

    __slots__ = ("sizes", "prices")

    def __init__(self) -> None:
        self.sizes: dict[int, float] = {}
        self.prices: list[int] = []

    def set(self, price: int, size: float) -> None:
        sizes = self.sizes
        if size > 0:
            if price not in sizes:
                insort(self.prices, price)
            sizes[price] = size
        elif price in sizes:
            del sizes[price]
            prices = self.prices
            del prices[bisect_left(prices, price)]

    def clear(self) -> None:
        self.sizes.clear()
        self.prices.clear()


class TokenBook:
    """L2 book of one token: bids and asks, each `price_milli -> size`."""

    __slots__ = ("_bids", "_asks", "tick_milli")

    def __init__(self, tick_milli: int = 10) -> None:
        self._bids = _Side()
        self._asks = _Side()
        self.tick_milli = tick_milli

    # -- updates ---------------------------------------------------------------------
    def reset(self) -> None:
        self._bids.clear()
        self._asks.clear()

    def set_level(self, side: int, price: int, size: float, uncross: bool = True) -> int:
        """Set the total size at a level (0 removes it).

        With `uncross` (the default), a new level that reaches through the other side
        removes the levels it crosses, and returns how many: the venue sends the resting
        remainder of a marketable order before the removals of the levels it took, and
        its own best bid/ask already show them gone.
        """
        if side == BID:
            self._bids.set(price, size)
            asks = self._asks.prices
            if uncross and size > 0 and asks and asks[0] <= price:
                n = bisect_right(asks, price)
                for p in asks[:n]:
                    del self._asks.sizes[p]
                del asks[:n]
                return n
        else:
            self._asks.set(price, size)
            bids = self._bids.prices
            if uncross and size > 0 and bids and bids[-1] >= price:
                n = bisect_left(bids, price)
                for p in bids[n:]:
                    del self._bids.sizes[p]
                removed = len(bids) - n
                del bids[n:]
                return removed
        return 0

    def load(self, bids: Iterable[tuple[int, float]], asks: Iterable[tuple[int, float]]) -> None:
        """Replace the book with a snapshot."""
        self.reset()
        for p, s in bids:
            self._bids.set(p, s)
        for p, s in asks:
            self._asks.set(p, s)

    # -- queries ---------------------------------------------------------------------
    @property
    def best_bid(self) -> int:
        """Highest bid (milli), or -1 when there is none."""
        prices = self._bids.prices
        return prices[-1] if prices else NO_PRICE

    @property
    def best_ask(self) -> int:
        """Lowest ask (milli), or -1 when there is none."""
        prices = self._asks.prices
        return prices[0] if prices else NO_PRICE

    @property
    def bids(self) -> dict[int, float]:
        return dict(self._bids.sizes)

    @property
    def asks(self) -> dict[int, float]:
        return dict(self._asks.sizes)

    def size_at(self, side: int, price: int) -> float:
        return (self._bids if side == BID else self._asks).sizes.get(price, 0.0)

    def depth(self, side: int, levels: int = 5) -> list[tuple[int, float]]:
        """The best `levels` levels of a side, best first."""
        s = self._bids if side == BID else self._asks
        prices = s.prices[-levels:][::-1] if side == BID else s.prices[:levels]
        return [(p, s.sizes[p]) for p in prices]

    def depth_within(self, side: int, ticks_milli: int) -> float:
        """Total size within `ticks_milli` of the best price of a side."""
        s = self._bids if side == BID else self._asks
        if not s.prices:
            return 0.0
        if side == BID:
            lo = bisect_left(s.prices, s.prices[-1] - ticks_milli)
            chosen = s.prices[lo:]
        else:
            hi = bisect_right(s.prices, s.prices[0] + ticks_milli)
            chosen = s.prices[:hi]
        return sum(s.sizes[p] for p in chosen)

    @property
    def crossed(self) -> bool:
        """True when the best bid reaches the best ask (a book that cannot stand)."""
        b, a = self.best_bid, self.best_ask
        return b != NO_PRICE and a != NO_PRICE and b >= a

    @property
    def mid(self) -> float | None:
        b, a = self.best_bid, self.best_ask
        if b == NO_PRICE or a == NO_PRICE:
            return None
        return (b + a) / 2 / PRICE_SCALE

    def complement(self) -> TokenBook:
        """The same orders seen from the other token: bid p <-> ask 1000 - p."""
        other = TokenBook(self.tick_milli)
        for p, s in self._bids.sizes.items():
            other._asks.set(PRICE_SCALE - p, s)
        for p, s in self._asks.sizes.items():
            other._bids.set(PRICE_SCALE - p, s)
        return other

    def __len__(self) -> int:
        return len(self._bids.sizes) + len(self._asks.sizes)

    def __repr__(self) -> str:
        return f"TokenBook(bid={self.best_bid}, ask={self.best_ask}, levels={len(self)})"


class MarketBook:
    """Both tokens of one market (0 = Up, 1 = Down), fed with normalized event rows.

    Until a token has had a snapshot of its own, it follows the other token's book
    mirrored (bid p <-> ask 1000 - p): both are views of one order book, and level
    updates carry new totals, so a mirrored half that also arrives directly changes
    nothing.
    """

    __slots__ = ("books", "stale", "mirror", "winner", "uncrossed", "_snapshot")

    def __init__(self, tick_milli: int = 10) -> None:
        self.books = (TokenBook(tick_milli), TokenBook(tick_milli))
        self.stale = [True, True]  # no snapshot yet, or a gap since the last one
        self.mirror = [True, True]  # token follows the other's book (no own snapshot yet)
        self.winner: int | None = None
        self.uncrossed = 0  # levels removed because a new level reached through them
        self._snapshot: tuple[int, int] | None = None  # (token, frame) of the last reset

    def __getitem__(self, token: int) -> TokenBook:
        return self.books[token]

    def apply(
        self, kind: int, token: int, side: int, price: int, size: float, frame: int | None = None
    ) -> None:
        """Apply one row of the `events` table.

        Give `frame` to keep a snapshot as sent: LEVEL rows of the frame of a BOOK_RESET
        (same token) are the snapshot's and never uncross, so a crossed snapshot shows.
        """
        if kind == _LEVEL:
            uncross = frame is None or self._snapshot != (token, frame)
            self.uncrossed += self.books[token].set_level(side, price, size, uncross)
            other = 1 - token
            if self.mirror[other]:
                self.books[other].set_level(1 - side, PRICE_SCALE - price, size, uncross)
        elif kind == _BOOK_RESET:
            self.books[token].reset()
            self.stale[token] = False
            self.mirror[token] = False
            self._snapshot = (token, frame) if frame is not None else None
            other = 1 - token
            if self.mirror[other]:
                self.books[other].reset()
                self.stale[other] = False
        elif kind == _GAP:
            self.stale[0] = self.stale[1] = True
        elif kind == _TICK:
            if token >= 0:
                self.books[token].tick_milli = price
        elif kind == _RESOLVED:
            self.winner = token

    def apply_rows(self, events: dict, start: int = 0, stop: int | None = None) -> None:
        """Apply rows `start:stop` of an events table (dict of numpy columns)."""
        stop = len(events["kind"]) if stop is None else stop
        kinds = events["kind"][start:stop].tolist()
        tokens = events["token"][start:stop].tolist()
        sides = events["side"][start:stop].tolist()
        prices = events["price"][start:stop].tolist()
        sizes = events["size"][start:stop].tolist()
        frames = events["frame"][start:stop].tolist() if "frame" in events else None
        apply = self.apply
        for i in range(len(kinds)):
            apply(kinds[i], tokens[i], sides[i], prices[i], sizes[i], frames[i] if frames else None)

    def best_bid(self, token: int) -> int:
        """Best price at which `token` can be sold, across both books (the other
        token's asks seen as this token's bids)."""
        own = self.books[token].best_bid
        other_ask = self.books[1 - token].best_ask
        via = PRICE_SCALE - other_ask if other_ask != NO_PRICE else NO_PRICE
        return max(own, via)

    def best_ask(self, token: int) -> int:
        """Best price at which `token` can be bought, across both books."""
        own = self.books[token].best_ask
        other_bid = self.books[1 - token].best_bid
        via = PRICE_SCALE - other_bid if other_bid != NO_PRICE else NO_PRICE
        cands = [p for p in (own, via) if p != NO_PRICE]
        return min(cands) if cands else NO_PRICE

    @property
    def crossed(self) -> list[int]:
        """Tokens whose own book is crossed."""
        return [t for t in (0, 1) if self.books[t].crossed]


__all__ = ["ASK", "BID", "MarketBook", "TokenBook"]
