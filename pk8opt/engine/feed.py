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
        """The engine time of the next frame (received at `local_ns`, stamped `exch_ms`)."""
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
    """The engine times of a session's frames (local receive time and venue stamp each)."""
    if not clock.venue:
        return list(local_ns)
    step = clock.frame
    return [step(t, e) for t, e in zip(local_ns, exch_ms, strict=True)]
