"""The L2 book as the paper engine sees it, one normalized row at a time.

`LevelTracker` turns normalized rows into *level records*: "(token, side, price) went
from `old` to `new` shares" and "a trade of `size` took bids at (token, price)". The
paper engine's queue model consumes exactly these records. The same tracker serves
both drivers: the live runner feeds rows one by one, and replay runs it once per
session to build the arrays in `pk8opt.backtest.session_cache`, so both see identical
records in identical order.

Rules:
- LEVEL sets the total size at a level (0 removes it). A positive level that reaches
  through the other side of its token's book removes the levels it crosses, as
  `pk8opt.recordings.book` does: the venue sends the resting remainder of a marketable order
  before the removals of the levels it took. Each removal is recorded (old -> 0) after
  the new level. A snapshot's own levels are kept as sent (a crossed snapshot shows).
- A size that is negative, NaN or infinite is not a size: the row is ignored (the
  normalizer and `recordings check` count such rows as malformed).
- BOOK_RESET opens a snapshot of its token; the LEVEL rows that follow (until another
  kind of row, another token, or the end of the frame) are its levels. When the
  snapshot closes, every level that changed is recorded as one change (old -> new), in
  (side, price) order, so a snapshot never looks like everything was cancelled.
- GAP marks both tokens stale (their best prices read as missing) until their next
  snapshot; sizes are kept.
- TRADE is recorded on the bids it consumed. Up and Down books are complements (an Up
  ask at p is a Down bid at 1 - p), so a taker *buy* of one token at p took the other
  token's bids at 1 - p; a taker *sell* (or a trade without a side) took this token's
  bids at p.
- TICK_SIZE sets the token's tick (milli). RESOLVED and BEST_BID_ASK change nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from pk8opt.recordings.schema import ASK, BID, DOWN, UP, Kind

REC_LEVEL, REC_TRADE = 0, 1
NONE = -1

# emit(rec_kind, token, side, price_milli, old_size, new_size_or_trade_size)
Emit = Callable[[int, int, int, int, float, float], None]

_BOOK_RESET = int(Kind.BOOK_RESET)
_LEVEL = int(Kind.LEVEL)
_TRADE = int(Kind.TRADE)
_TICK = int(Kind.TICK_SIZE)
_GAP = int(Kind.GAP)
_INF = float("inf")


class LevelTracker:
    def __init__(self, emit: Emit, tick_milli: int = 10) -> None:
        self.emit = emit
        # books[token][side] : price_milli -> size (only positive sizes)
        self.books: list[list[dict[int, float]]] = [[{}, {}], [{}, {}]]
        self.tick = [tick_milli, tick_milli]
        self.stale = [False, False]
        self._best = [[NONE, NONE], [NONE, NONE]]
        self._dirty = [[True, True], [True, True]]
        self._snap_token = NONE
        self._snap: list[dict[int, float]] = [{}, {}]

    # -- rows ---------------------------------------------------------------------------
    def row(self, kind: int, token: int, side: int, price: int, size: float) -> None:
        snap = self._snap_token
        if snap != NONE and (kind != _LEVEL or token != snap):
            self._close_snapshot()
            snap = NONE
        if kind == _LEVEL:
            if not 0.0 <= size < _INF:  # negative, NaN or infinite: not a size
                return
            if token == snap:
                if size > 0.0:
                    self._snap[side][price] = size
                return
            # the level's new size; its side's best is recomputed when it may have moved
            dirty, cached = self._dirty[token], self._best[token]
            levels = self.books[token][side]
            old = levels.get(price, 0.0)
            if size != old:
                if size > 0.0:
                    levels[price] = size
                else:
                    del levels[price]
                if not dirty[side]:
                    b = cached[side]
                    if b == NONE or (price >= b if side == BID else price <= b):
                        dirty[side] = True
                self.emit(REC_LEVEL, token, side, price, old, size if size > 0.0 else 0.0)
            if size > 0.0:
                o = 1 - side
                other = self._best_raw(token, o) if dirty[o] else cached[o]
                if other != NONE and (other <= price if side == BID else other >= price):
                    self._uncross(token, side, price)
        elif kind == _TRADE:
            if token in (UP, DOWN) and price > 0 and 0.0 < size < _INF:
                if side == BID:  # the taker bought: it took asks = the other token's bids
                    self.emit(REC_TRADE, 1 - token, side, 1000 - price, 0.0, size)
                else:  # the taker sold (or no side given): it hit this token's bids
                    self.emit(REC_TRADE, token, side, price, 0.0, size)
        elif kind == _BOOK_RESET:
            self._snap_token = token
            self._snap = [{}, {}]
        elif kind == _TICK:
            if token in (UP, DOWN) and price > 0:
                self.tick[token] = price
        elif kind == _GAP:
            self.stale[UP] = self.stale[DOWN] = True

    def end_frame(self) -> None:
        if self._snap_token != NONE:
            self._close_snapshot()

    # -- queries ------------------------------------------------------------------------
    def best(self, token: int, side: int) -> int:
        """Best price (milli) of one side, or -1 when empty or stale."""
        if self.stale[token]:
            return NONE
        if self._dirty[token][side]:
            return self._best_raw(token, side)
        return self._best[token][side]

    def top(self) -> tuple[int, int, int, int]:
        """(Up bid, Up ask, Down bid, Down ask) as `best` gives them, in one call."""
        best = self._best_raw
        stale_up, stale_down = self.stale
        dirty_up, dirty_down = self._dirty
        up, down = self._best
        return (
            NONE if stale_up else (best(UP, BID) if dirty_up[BID] else up[BID]),
            NONE if stale_up else (best(UP, ASK) if dirty_up[ASK] else up[ASK]),
            NONE if stale_down else (best(DOWN, BID) if dirty_down[BID] else down[BID]),
            NONE if stale_down else (best(DOWN, ASK) if dirty_down[ASK] else down[ASK]),
        )

    def size(self, token: int, side: int, price: int) -> float:
        return self.books[token][side].get(price, 0.0)

    def tick_of(self, token: int) -> int:
        return self.tick[token]

    def level_stamp(self, token: int, side: int, price: int) -> int:
        """Changes of a level reach the engine as records; no stamp needed here."""
        return 0

    # -- internals ----------------------------------------------------------------------
    def _uncross(self, token: int, side: int, price: int) -> None:
        """Remove the other side's levels that the level at `price` reaches through."""
        other = 1 - side
        levels = self.books[token][other]
        crossed = sorted(p for p in levels if (p <= price if side == BID else p >= price))
        for p in crossed:
            old = levels.pop(p)
            self.emit(REC_LEVEL, token, other, p, old, 0.0)
        self._dirty[token][other] = True

    def _best_raw(self, token: int, side: int) -> int:
        if self._dirty[token][side]:
            levels = self.books[token][side]
            b = (max(levels) if side == BID else min(levels)) if levels else NONE
            self._best[token][side] = b
            self._dirty[token][side] = False
        return self._best[token][side]

    def _close_snapshot(self) -> None:
        token = self._snap_token
        self._snap_token = NONE
        for side in (BID, ASK):
            old_levels = self.books[token][side]
            new_levels = self._snap[side]
            for price in sorted(old_levels.keys() | new_levels.keys()):
                old = old_levels.get(price, 0.0)
                new = new_levels.get(price, 0.0)
                if old != new:
                    self.emit(REC_LEVEL, token, side, price, old, new)
            self.books[token][side] = dict(new_levels)
            self._dirty[token][side] = True
        self.stale[token] = False
