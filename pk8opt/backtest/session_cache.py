"""Per-session arrays for fast and compiled replay (`SessionCache`), built once.

Everything here is independent of trial parameters: the level records of
`LevelTracker` (the very records the event-by-event engine consumes), indexed by
(token, side, price) so an order's queue events are found by bisection, the trades per
token, and the top of book and ticks at the end of every frame. Where a session's cache
comes from (built here and kept on the session, or mapped from its column store) is
`replay_handle.session_cache`'s business.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from pk8opt.engine.feed import VENUE, FeedClock, frame_times
from pk8opt.engine.levels import REC_LEVEL, REC_TRADE, Emit, LevelTracker
from pk8opt.engine.market import MarketSpec
from pk8opt.recordings.manifest import Manifest
from pk8opt.recordings.schema import BID

# the kinds of the record stream (`rec_kind`, the compiled replay's input)
REC_BID_LEVEL, REC_TRADE_BIDS, REC_ASK_LEVEL = REC_LEVEL, REC_TRADE, 2


def level_key(token: int, side: int, price: int) -> int:
    return ((token << 1) | side) << 12 | price


class ReplaySession(Protocol):
    """A loaded session as the backtest reads it (`LoadedSession` and `StoredSession` in
    `pk8opt.recordings` both are one)."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def slug(self) -> str: ...

    @property
    def n_events(self) -> int: ...

    @property
    def events(self) -> Mapping[str, np.ndarray]: ...


# key -> (frames, seqs, olds, news) of a bid level; token -> (frames, seqs, prices, sizes)
Levels = dict[int, tuple[list[int], list[int], list[float], list[float]]]
Trades = list[tuple[list[int], list[int], list[int], list[float]]]
AskLevels = dict[int, tuple[list[int], list[float]]]
# every record: frame, kind (REC_*), token, price, old, new
Flat = tuple[list[int], list[int], list[int], list[int], list[float], list[float]]


class _Tracked:
    """What `_track` gathers from a session's rows."""

    __slots__ = ("ask_levels", "flat", "frame_time", "levels", "ticks", "top", "trades")

    def __init__(self) -> None:
        self.levels: Levels = {}
        self.trades: Trades = [([], [], [], []), ([], [], [], [])]
        # ask-side sizes are needed only for marketable orders: keep their own index
        self.ask_levels: AskLevels = {}
        self.flat: Flat = ([], [], [], [], [], [])
        self.frame_time: list[int] = []  # local receive time of each frame
        self.top: list[tuple[int, int, int, int]] = []
        self.ticks: list[tuple[int, int]] = []


def _emitter(got: _Tracked, state: list[int]) -> Emit:
    """The tracker's `emit`: every record into `got` (`state`: frame index, record seq)."""
    levels, trades, ask_levels, flat = got.levels, got.trades, got.ask_levels, got.flat

    def emit(rec: int, token: int, side: int, price: int, old: float, new: float) -> None:
        seq = state[1]
        state[1] = seq + 1
        if rec == REC_LEVEL:
            if side != BID:
                return
            key = level_key(token, side, price)
            lst = levels.get(key)
            if lst is None:
                lst = levels[key] = ([], [], [], [])
            lst[0].append(state[0])
            lst[1].append(seq)
            lst[2].append(old)
            lst[3].append(new)
        else:
            tr = trades[token]
            tr[0].append(state[0])
            tr[1].append(seq)
            tr[2].append(price)
            tr[3].append(new)

    def emit_all(rec: int, token: int, side: int, price: int, old: float, new: float) -> None:
        flat[0].append(state[0])
        flat[1].append(rec if rec != REC_LEVEL or side == BID else REC_ASK_LEVEL)
        flat[2].append(token)
        flat[3].append(price)
        flat[4].append(old)
        flat[5].append(new)
        if rec == REC_LEVEL and side != BID:
            key = level_key(token, side, price)
            lst = ask_levels.get(key)
            if lst is None:
                lst = ask_levels[key] = ([], [])
            lst[0].append(state[0])
            lst[1].append(new)
        emit(rec, token, side, price, old, new)

    return emit_all


def _track(ev: Mapping[str, np.ndarray], tick_milli: int, local: list[int]) -> _Tracked:
    """Every row through a `LevelTracker`: its records in the order it made them, and
    the top of book and ticks at the end of every frame."""
    got = _Tracked()
    state = [0, 0]  # frame index, record seq
    tracker = LevelTracker(_emitter(got, state), tick_milli)
    frames = ev["frame"].tolist()
    kinds = ev["kind"].tolist()
    tokens = ev["token"].tolist()
    sides = ev["side"].tolist()
    prices = ev["price"].tolist()
    sizes = ev["size"].tolist()
    row = tracker.row
    n = len(kinds)
    cur = frames[0] if n else 0
    best = tracker.best
    frame_time, top, ticks = got.frame_time, got.top, got.ticks

    def close(t: int) -> None:
        tracker.end_frame()
        frame_time.append(t)
        top.append((best(0, 0), best(0, 1), best(1, 0), best(1, 1)))
        ticks.append((tracker.tick[0], tracker.tick[1]))
        state[0] += 1

    for i in range(n):
        f = frames[i]
        if f != cur:
            close(local[i - 1])
            cur = f
        row(kinds[i], tokens[i], sides[i], prices[i], sizes[i])
    if n:
        close(local[n - 1])
    return got


def _frame_exch_ms(ev: Mapping[str, np.ndarray]) -> list[int]:
    """Each frame's venue stamp: the largest of its rows' (0: none)."""
    fr = np.asarray(ev["frame"])
    starts = np.flatnonzero(np.r_[True, fr[1:] != fr[:-1]])
    return np.maximum.reduceat(np.asarray(ev["exch_ms"]), starts).tolist()


def _change_frames(top: list[tuple[int, ...]], ticks: list[tuple[int, ...]]) -> list[int]:
    """The frames whose top of book or ticks differ from the frame before's."""
    change = []
    prev_top: tuple[int, ...] = ()
    prev_ticks: tuple[int, ...] = ()
    for k in range(len(top)):
        if top[k] != prev_top or ticks[k] != prev_ticks:
            change.append(k)
            prev_top = top[k]
            prev_ticks = ticks[k]
    return change


class SessionCache:
    """A session's arrays for fast and compiled replay (see the module's docstring)."""

    def __init__(self, session: ReplaySession) -> None:
        spec = MarketSpec.from_manifest(session.manifest)
        self.spec = spec
        ev = session.events
        local = ev["local_ns"].tolist()
        n = len(local)
        got = _track(ev, spec.tick_milli, local)
        self.frame_time = got.frame_time
        self.frame_exch_ms: list[int] = _frame_exch_ms(ev) if n else []
        self.top = got.top
        self.ticks = got.ticks
        self.levels = got.levels
        self.ask_levels = got.ask_levels
        self.trades = got.trades
        self.n_events = n
        self.n_frames = len(self.frame_time)
        self.change_frames = _change_frames(self.top, self.ticks)  # type: ignore[arg-type]
        self.last_ns = local[-1] if n else spec.window_end_ns
        self._arrays(got.flat)
        self._times: dict[tuple[str, float], list[int]] = {}

    def _arrays(self, flat: Flat) -> None:
        """The records and per-frame values as numpy arrays, for the compiled replay
        (24 bytes a record: prices and ticks are milli, below 1000; -1 is none)."""
        self.rec_frame = np.array(flat[0], dtype=np.int32)
        self.rec_kind = np.array(flat[1], dtype=np.int8)
        self.rec_token = np.array(flat[2], dtype=np.int8)
        self.rec_price = np.array(flat[3], dtype=np.int16)
        self.rec_old = np.array(flat[4], dtype=np.float64)
        self.rec_new = np.array(flat[5], dtype=np.float64)
        self.top_arr = np.array(self.top, dtype=np.int16).reshape(-1, 4)
        self.ticks_arr = np.array(self.ticks, dtype=np.int16).reshape(-1, 2)
        self.time_arr = np.array(self.frame_time, dtype=np.int64)
        self.exch_arr = np.array(self.frame_exch_ms, dtype=np.int64)
        # read-only, as when mapped from the store: one compiled specialization serves both
        arrays: list[np.ndarray] = [self.rec_frame, self.rec_kind, self.rec_token]
        arrays += [self.rec_price, self.rec_old, self.rec_new, self.top_arr, self.ticks_arr]
        for a in [*arrays, self.time_arr, self.exch_arr]:
            a.flags.writeable = False

    def times(self, clock: str, delay_ms: float) -> list[int]:
        """The engine time of every frame on a feed clock (`engine.feed`), memoized."""
        if clock != VENUE:
            return self.frame_time
        key = (clock, float(delay_ms))
        got = self._times.get(key)
        if got is None:
            got = self._times[key] = frame_times(
                FeedClock(clock, delay_ms), self.frame_time, self.frame_exch_ms
            )
        return got


class ArrayView:
    """The book as of the end of frame `frame` (-1: before the first frame)."""

    def __init__(self, cache: SessionCache) -> None:
        self.c = cache
        self.frame = -1
        self._tick0 = (cache.spec.tick_milli, cache.spec.tick_milli)

    def best(self, token: int, side: int) -> int:
        """Compiled twin: pk8opt.backtest.compiled.engine.book_best."""
        if self.frame < 0:
            return -1
        return self.c.top[self.frame][2 * token + side]

    def size(self, token: int, side: int, price: int) -> float:
        key = level_key(token, side, price)
        if side == BID:
            lst = self.c.levels.get(key)
            if lst is None:
                return 0.0
            j = bisect_right(lst[0], self.frame) - 1
            return lst[3][j] if j >= 0 else 0.0
        alst = self.c.ask_levels.get(key)
        if alst is None:
            return 0.0
        j = bisect_right(alst[0], self.frame) - 1
        return alst[1][j] if j >= 0 else 0.0

    def level_stamp(self, token: int, side: int, price: int) -> int:
        """Which change of an ask level is showing (-1: none yet): a new stamp means
        the venue's book changed at that price."""
        alst = self.c.ask_levels.get(level_key(token, side, price))
        if alst is None:
            return -1
        return bisect_right(alst[0], self.frame) - 1

    def tick_of(self, token: int) -> int:
        return self._tick0[token] if self.frame < 0 else self.c.ticks[self.frame][token]
