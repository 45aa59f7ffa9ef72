"""The feed clock: which time a market update runs at, and when the trade loop decides."""

from __future__ import annotations

from pk8opt.backtest.replay import drive_events
from pk8opt.engine.feed import FeedClock, frame_times
from pk8opt.recordings.schema import ASK, BID, NO_SIDE, UP, Kind
from pk8opt.recordings.synthetic import make_manifest, make_session
from pk8opt.trading.run_config import RunConfig
from pk8opt.trading.stepper import SessionStepper

MS = 1_000_000
T0 = 1_767_225_600 * 1_000_000_000


def test_local_clock_is_the_receive_time() -> None:
    assert frame_times(FeedClock("local", 43.0), [5, 7, 9], [1, 0, 3]) == [5, 7, 9]


def test_venue_clock_uses_the_stamp_never_runs_back_and_shifts_unstamped_frames() -> None:
    clock = FeedClock("venue", 40.0)
    local = [T0 + 100 * MS, T0 + 150 * MS, T0 + 160 * MS, T0 + 300 * MS]
    exch = [(T0 + 60 * MS) // MS, (T0 + 50 * MS) // MS, 0, (T0 + 250 * MS) // MS]
    # the second frame is stamped before the first: it runs at the first's time; the
    # third has no stamp: its receive time less the last stamped frame's delay (100 ms)
    assert frame_times(clock, local, exch) == [
        T0 + 60 * MS,
        T0 + 60 * MS,
        T0 + 60 * MS,
        T0 + 250 * MS,
    ]
    assert clock.convert(T0 + 400 * MS) == T0 + 350 * MS  # a driver's local time
    first = FeedClock("venue", 40.0)
    assert first.frame(T0, 0) == T0 - 40 * MS  # before any stamp: the modelled delay


def _rows(t_local: int, frame: int, ask: int) -> list[tuple[int, int, int, int, int, int, float]]:
    return [
        (t_local, frame, int(Kind.BOOK_RESET), UP, NO_SIDE, -1, 0.0),
        (t_local, frame, int(Kind.LEVEL), UP, BID, 400, 100.0),
        (t_local, frame, int(Kind.LEVEL), UP, ASK, ask, 100.0),
    ]


def test_the_trade_loop_decides_one_feed_latency_after_the_venue_moved() -> None:
    """Frame 0 shows an ask of 0.60; the venue sends 0.45 10 ms later. A fixed bid of
    0.50 decided on frame 0 is posted at frame 0 + feed latency: on the venue clock the
    book it meets already has the 0.45 ask, so it takes; on the local clock it was
    posted on frame 0's receive time, before the move reached anyone."""
    start = T0 + 10 * 10**9
    rows = _rows(start, 0, 600) + _rows(start + 10 * MS, 1, 450) + _rows(start + 900 * MS, 2, 450)
    delays = [30 * MS, 30 * MS, 30 * MS]
    session = make_session(rows, make_manifest(start_s=T0 // 10**9), delays)
    taken = {}
    for clock in ("venue", "local"):
        config = RunConfig.resolve(
            "fixed",
            {
                "up_price": 0.5,
                "down_price": 0.0,
                "size": 10.0,
                "warmup_seconds": 0.0,
                "feed_clock": clock,
                "feed_latency_ms": 25.0,
                "post_latency_ms": 1.0,
            },
        )
        stepper = SessionStepper(session.manifest, config)
        drive_events(session, stepper)
        submits = [o for o in stepper.engine.orders.values()]
        first = min(submits, key=lambda o: o.id)
        taken[clock] = (first.submit_ns, [f[4] for f in stepper.engine.fill_log][:1])
    venue_frame0 = start - 30 * MS
    assert taken["venue"][0] == venue_frame0 + 25 * MS
    assert taken["local"][0] == start
    assert taken["venue"][1] == ["taker"]  # the 0.45 ask was there when it arrived
    assert taken["local"][1] == ["book_through"]  # resting first, then crossed
