"""The CLOB of one market, seen through its market socket: makers quoting both tokens
around their view of fair value, takers trading against them, and the frames that
every change produces.

One book is kept, the Up token's, in milli prices and centi-share sizes; the Down book
is its mirror (an Up bid at p is a Down ask at 1 - p), so the two are complements by
construction. Every level change is one `price_change` frame with both tokens' entries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pk8opt.simulate import wire
from pk8opt.simulate.model import SimModel


@dataclass(frozen=True)
class MarketIds:
    market: str  # condition id, 0x + 64 hex
    up: str  # clobTokenIds[0]
    down: str  # clobTokenIds[1]
    gamma_id: str


class MarketSim:
    def __init__(self, ids: MarketIds, model: SimModel, rng: np.random.Generator) -> None:
        self.ids = ids
        self.m = model
        self.rng = rng
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.tick = 10
        self.out: list[tuple[int, str]] = []  # (venue ms, frame text), in send order
        self.last_bbo: tuple[int, int] | None = None
        self.spread_ticks = 1
        self.quoted = (490, 510)  # the makers' current targets (best bid, best ask)
        self.n_levels = (
            int(rng.integers(model.levels_min, model.levels_max + 1)),
            int(rng.integers(model.levels_min, model.levels_max + 1)),
        )
        self.last_trade = 500
        self.trades = 0

    # --- small helpers -------------------------------------------------------------------
    def _hash(self) -> str:
        return self.rng.bytes(20).hex()

    def _size(self, dist_ticks: int = 0) -> int:
        m = self.m
        shares = (
            m.level_size_median
            * (1 + dist_ticks / 8)
            * math.exp(self.rng.standard_normal() * m.level_size_sigma)
        )
        shares = max(shares, 5.0)
        if self.rng.random() < 0.5:
            return int(round(shares)) * 100
        return int(round(shares * 100))

    def bb(self) -> int:
        return max(self.bids)

    def ba(self) -> int:
        return min(self.asks)

    def _emit(self, ts_ms: int, obj: object) -> None:
        self.out.append((ts_ms, wire.dumps(obj)))

    # --- books -------------------------------------------------------------------------
    def books(self, ts_ms: int, initial: bool) -> list[dict]:
        ids = self.ids
        tick = wire.fmt_price(self.tick) if initial else None
        last = wire.fmt_price(self.last_trade) if initial else None
        up = wire.book_msg(
            ids.market,
            ids.up,
            ts_ms,
            self._hash(),
            wire.levels(self.bids, True, False),
            wire.levels(self.asks, False, False),
            tick,
            last,
        )
        down = wire.book_msg(
            ids.market,
            ids.down,
            ts_ms,
            self._hash(),
            wire.levels(self.asks, True, True),
            wire.levels(self.bids, False, True),
            tick,
            wire.fmt_price(1000 - self.last_trade) if initial else None,
        )
        return [up, down]

    def seed_book(self, center: float) -> None:
        bb, ba = self.targets(center, self._draw_spread(False))
        self.quoted = (bb, ba)
        self.bids[bb] = self._size()
        self.asks[ba] = self._size()
        for bid in (True, False):
            while self._depth(bid) < self.n_levels[0 if bid else 1]:
                self._add_depth(bid)
        self._stubs()
        self.last_bbo = (self.bb(), self.ba())

    def _stubs(self) -> None:
        far = int(self.m.far_size_median * math.exp(self.rng.standard_normal() * 0.8)) * 100
        self.bids.setdefault(self.tick, far)
        self.asks.setdefault(1000 - self.tick, far)

    def _depth(self, bid: bool) -> int:
        book = self.bids if bid else self.asks
        return len(book) - (self.tick in book if bid else (1000 - self.tick) in book)

    def _add_depth(self, bid: bool) -> int | None:
        """A price for a new level behind the top: a tick away with `level_fill_p`."""
        book = self.bids if bid else self.asks
        t = self.tick
        p = self.bb() if bid else self.ba()
        dist = 0
        while True:
            p = p - t if bid else p + t
            dist += 1
            if p < t or p > 1000 - t:
                return None
            if p not in book and self.rng.random() < self.m.level_fill_p:
                book[p] = self._size(dist)
                return p

    def _draw_spread(self, near_end: bool) -> int:
        m = self.m
        s = 1 + int(self.rng.choice(3, p=m.spread_ticks_p))
        if near_end:
            s += int(self.rng.integers(0, int(m.spread_end_extra_ticks) + 1))
        return s

    def targets(self, center: float, spread_ticks: int) -> tuple[int, int]:
        t = self.tick
        c = center * 1000
        if t == 1:  # the 0.001 grid near 0 or 1: spreads of a few ticks
            spread_ticks *= self.m.fine_tick_spread_mult
        elif not self.m.extreme_band < center < 1 - self.m.extreme_band:
            spread_ticks += 1
        bb = int(math.floor((c - spread_ticks * t / 2) / t + 1e-9)) * t
        bb = min(max(bb, t), 1000 - 2 * t)
        ba = min(bb + spread_ticks * t, 1000 - t)
        return bb, ba

    # --- level changes --------------------------------------------------------------------
    def set_level(
        self, ts_ms: int, bid: bool, p: int, size: int, hashes: tuple[str, str] | None = None
    ) -> None:
        book = self.bids if bid else self.asks
        if size <= 0:
            book.pop(p, None)
            size = 0
        else:
            book[p] = size
        bb, ba = self.bb(), self.ba()
        ids = self.ids
        h_up, h_down = hashes or (self._hash(), self._hash())
        entries = [
            wire.change_entry(ids.up, p, size, "BUY" if bid else "SELL", h_up, bb, ba),
            wire.change_entry(
                ids.down, 1000 - p, size, "SELL" if bid else "BUY", h_down, 1000 - ba, 1000 - bb
            ),
        ]
        self._emit(ts_ms, wire.price_change_msg(ids.market, ts_ms, entries))
        if (bb, ba) != self.last_bbo:
            self.last_bbo = (bb, ba)
            self._emit(ts_ms, wire.best_bid_ask_msg(ids.market, ids.up, bb, ba, ts_ms))
            self._emit(
                ts_ms, wire.best_bid_ask_msg(ids.market, ids.down, 1000 - ba, 1000 - bb, ts_ms)
            )
        extreme = int(round(self.m.tick_extreme * 1000))
        if self.tick == 10 and (bb <= extreme or ba >= 1000 - extreme):
            self.tick = 1
            for asset in (ids.up, ids.down):
                self._emit(ts_ms, wire.tick_size_msg(ids.market, asset, "0.01", "0.001", ts_ms))

    def requote(self, ts_ms: int, center: float, near_end: bool, redraw: bool) -> int:
        """Makers move their quotes to the targets around `center`; returns the last ms."""
        if redraw:
            self.spread_ticks = self._draw_spread(near_end)
        tbb, tba = self.targets(center, self.spread_ticks)
        self.quoted = (tbb, tba)
        t = ts_ms
        step = self.rng.integers
        for p in sorted((p for p in self.asks if p < tba), reverse=True):
            if len(self.asks) > 1:
                self.set_level(t, False, p, 0)
                t += int(step(1, 30))
        for p in sorted(p for p in self.bids if p > tbb):
            if len(self.bids) > 1:
                self.set_level(t, True, p, 0)
                t += int(step(1, 30))
        if tbb not in self.bids and tbb < self.ba():
            self.set_level(t, True, tbb, self._size())
            t += int(step(1, 30))
        if tba not in self.asks and tba > self.bb():
            self.set_level(t, False, tba, self._size())
            t += int(step(1, 30))
        for bid in (True, False):  # one maker tidies the depth on each side
            book = self.bids if bid else self.asks
            n = self._depth(bid)
            if n < self.n_levels[0 if bid else 1]:
                added = self._add_depth(bid)
                if added is not None:
                    self.set_level(t, bid, added, book.pop(added))
                    t += int(step(1, 30))
            elif n > self.m.levels_max + 2:
                stub = self.tick if bid else 1000 - self.tick
                rest = [q for q in book if q != stub]
                self.set_level(t, bid, min(rest) if bid else max(rest), 0)
                t += int(step(1, 30))
        if self.tick == 1 and (1 not in self.bids or 999 not in self.asks):
            far = int(self.m.far_size_median * math.exp(self.rng.standard_normal() * 0.8)) * 100
            if 1 not in self.bids and self.bb() > 1:
                self.set_level(t, True, 1, far)
            elif 999 not in self.asks and self.ba() < 999:
                self.set_level(t, False, 999, far)
        return t

    def noise_quote(self, ts_ms: int) -> None:
        """One maker adds, resizes or cancels a level near the top."""
        rng = self.rng
        bid = rng.random() < 0.5
        book = self.bids if bid else self.asks
        t = self.tick
        best = self.bb() if bid else self.ba()
        dist = int(rng.geometric(0.35)) - 1
        p = best - dist * t if bid else best + dist * t
        if p < t or p > 1000 - t:
            return
        u = rng.random()
        if p in book:
            if u < 0.3 and len(book) > 2:
                self.set_level(ts_ms, bid, p, 0)
            else:
                size = book[p]
                if u < 0.65:
                    size = max(500, int(size * math.exp(rng.standard_normal() * 0.5)))
                else:
                    size += self._size(dist)
                self.set_level(ts_ms, bid, p, size)
        else:
            if (bid and p < self.ba()) or (not bid and p > self.bb()):
                self.set_level(ts_ms, bid, p, self._size(dist))

    def trade(self, ts_ms: int, fair: float) -> None:
        """A taker arrives; fills walk at most 3 levels; prints, level updates, a fresh book."""
        rng, m = self.rng, self.m
        mid = (self.bb() + self.ba()) / 2000
        p_buy = 1 / (1 + math.exp(-m.informed_beta * (fair - mid) / 0.01))
        buy_up = rng.random() < p_buy  # taking Up asks (buy Up / sell Down) else Up bids
        on_down = rng.random() < 0.5
        shares = math.exp(
            math.log(m.trade_size_median) + rng.standard_normal() * m.trade_size_sigma
        )
        remaining = int(round(min(max(shares, m.trade_size_min), m.trade_size_max) * 100))
        self._take(ts_ms, buy_up, on_down, remaining, 3)

    def dump(self, ts_ms: int, down: bool, shares: float) -> None:
        """An uninformed seller sells `shares` of one token into its bids, whatever its
        value, walking as many levels as the size needs (selling Down takes Up asks)."""
        self._take(ts_ms, down, down, int(round(max(shares, self.m.trade_size_min) * 100)), 0)

    def _take(self, ts_ms: int, buy_up: bool, on_down: bool, remaining: int, walk: int) -> None:
        """Fill `remaining` centi-shares against the Up book's asks (`buy_up`) or bids,
        printed on the Down token if `on_down`; past `walk` levels (0: no limit) only
        until `trade_size_min` is filled. No trade when the side holds less than that."""
        rng, m, ids = self.rng, self.m, self.ids
        book = self.asks if buy_up else self.bids
        fills: list[tuple[int, int, int]] = []  # (price, filled, left)
        wanted = remaining
        for p in sorted(book, reverse=not buy_up):
            enough = wanted - remaining >= m.trade_size_min * 100
            if remaining <= 0 or (walk and len(fills) >= walk and enough):
                break
            last = len(book) - len(fills) == 1  # a side is never emptied: leave a share
            filled = min(remaining, book[p] - 100 if last else book[p])
            if filled <= 0:
                break
            fills.append((p, filled, book[p] - filled))
            remaining -= filled
        if wanted - remaining < m.trade_size_min * 100:
            return  # a side too thin for an order of the minimum size: no trade
        taker_hashes = (self._hash(), self._hash())
        asset = ids.down if on_down else ids.up
        side = ("SELL" if buy_up else "BUY") if on_down else ("BUY" if buy_up else "SELL")
        for p, filled, _ in fills:
            price = 1000 - p if on_down else p
            self._emit(
                ts_ms,
                wire.last_trade_msg(
                    ids.market,
                    asset,
                    price,
                    side,
                    filled,
                    m.fee_rate_bps,
                    ts_ms,
                    "0x" + rng.bytes(32).hex(),
                ),
            )
            self.last_trade = p
        for p, _, left in fills:
            self.set_level(ts_ms, not buy_up, p, left, taker_hashes)
        self._emit(ts_ms, self.books(ts_ms, initial=False)[1 if on_down else 0])
        self.trades += 1
