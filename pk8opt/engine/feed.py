"""Which clock the paper engine runs a market update on (`PM_PAPER_FEED_CLOCK`).

Every frame carries two times: the venue's own timestamp (`exch_ms`, when the venue
sent it) and the local receive time (`local_ns`). The two differ by the feed delay.

- `local`: the venue's book changes, our orders' matching and our decisions all run at
  the local receive time. Our order reaches the venue `PM_PAPER_POST_LATENCY_MS` after
  we *saw* an update, measured against updates stamped when *we* saw them: the feed
  delay is not charged on the way back, so orders rest (and cancels clear) one feed
  delay early relative to the venue's book. Optimistic by one feed delay.
- `venue`: the book changes, and our orders match, at the venue's time; the trade loop
  sees an update (and decides) `PM_PAPER_FEED_LATENCY_MS` later. An order posted on
  that decision rests a post latency after it, at the venue. Updates the venue sent
  in between have already changed the book the order meets.

On the venue clock an update's time is its venue timestamp (never earlier than the
previous update's: the engine's time never runs backwards). An update without one (a
socket note) takes its receive time shifted by the last stamped update's delay, or
by the modelled delay before the first.
"""

from __future__ import annotations

from typing import Any

NEVER = 1 << 62
LOCAL, VENUE = "local", "venue"


class FeedClock:
    """The engine time of each frame, in order, and the delay until the trader sees it."""

    __slots__ = ("venue", "delay_ns", "offset_ns", "t_ns")

    def __init__(self, clock: str, delay_ms: float) -> None:
        self.venue = clock == VENUE
        self.delay_ns = int(round(float(delay_ms) * 1e6)) if self.venue else 0
        self.offset_ns = -self.delay_ns  # engine time - local time of the last frame
        self.t_ns = -NEVER

    @classmethod
    def from_params(cls, params: Any) -> FeedClock:
        return cls(str(params["feed_clock"]), float(params["feed_latency_ms"]))

    def frame(self, local_ns: int, exch_ms: int) -> int:
        """The engine time of the next frame (received at `local_ns`, stamped `exch_ms`);
        one step of `venue_times_into`, for a driver that gets frames one at a time."""
        if not self.venue:
            return local_ns
        if exch_ms > 0:
            t = exch_ms * 1_000_000
            self.offset_ns = t - local_ns
        else:
            t = local_ns + self.offset_ns
        if t > self.t_ns:
            self.t_ns = t
        return self.t_ns

    def convert(self, local_ns: int) -> int:
        """A driver's local time (not a frame's) on the engine's clock."""
        if not self.venue:
            return local_ns
        return max(self.t_ns, local_ns + self.offset_ns)


def frame_times(clock: FeedClock, local_ns: list[int], exch_ms: list[int]) -> list[int]:
    """The engine times of a session's frames (local receive time and venue stamp each);
    the clock ends as `clock.frame` over every frame would leave it.

    Compiled twin: pk8opt.backtest.compiled.feed.venue_times (on the venue clock).

    Compiled twin: pk8opt.backtest.compiled.feed.venue_times.
    """
    if not clock.venue:
        return list(local_ns)
    if len(local_ns) != len(exch_ms):
        raise ValueError("frame_times: local_ns and exch_ms differ in length")
    out = [0] * len(local_ns)
    clock.offset_ns, clock.t_ns = venue_times_into(
        local_ns, exch_ms, clock.offset_ns, clock.t_ns, out
    )
    return out


def venue_times_into(
    local_ns: Any, exch_ms: Any, offset_ns: int, last_ns: int, out: Any
) -> tuple[int, int]:
    """The venue clock's time of every frame into `out`, from a clock whose offset and
    time are `offset_ns`, `last_ns`; returns them after the last frame.

    The one source of `FeedClock.frame`'s rule for a whole session: plain Python over
    lists or arrays, written only with what numba compiles, so the compiled replay
    compiles this very function.

    Compiled twin: pk8opt.backtest.compiled.feed._venue_times_into (this function,
    compiled).
    """
    for i in range(len(local_ns)):
        if exch_ms[i] > 0:
            t = exch_ms[i] * 1_000_000
            offset_ns = t - local_ns[i]
        else:
            t = local_ns[i] + offset_ns
        if t > last_ns:
            last_ns = t
        out[i] = last_ns
    return offset_ns, last_ns
