"""Small hand-made and random sessions for tests and benchmarks (no files needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pk8opt.recordings.manifest import FeeSchedule, Manifest, Resolution
from pk8opt.recordings.schema import ASK, BID, DOWN, NO_SIDE, UP, Kind
from pk8opt.recordings.session import LoadedSession

T0_S = 1_767_225_600  # a window start (multiple of 900)
Row = tuple[int, int, int, int, int, int, float]  # local_ns, frame, kind, token, side, price, size


def make_manifest(
    *,
    outcome: str = "Up",
    start_s: int = T0_S,
    length_s: int = 900,
    fee_rate: float = 0.0,
    tick: float = 0.01,
    slug: str | None = None,
) -> Manifest:
    return Manifest(
        slug=slug or f"btc-updown-15m-{start_s}",
        symbol="BTC",
        timeframe="15m",
        condition_id="0xcond",
        token_up="111",
        token_down="222",
        window_start_s=start_s,
        window_end_s=start_s + length_s,
        tick_size=tick,
        fees_enabled=fee_rate > 0,
        fee_schedule=FeeSchedule(rate=fee_rate, exponent=1.0, rebate_rate=0.2)
        if fee_rate > 0
        else None,
        resolution=Resolution(
            outcome=outcome,  # type: ignore[arg-type]
            source="simulated" if outcome != "unknown" else "none",
        ),
        status="complete",
        source="simulated",
    )


def make_session(
    rows: Sequence[Row], manifest: Manifest | None = None, feed_delay_ns: Sequence[int] = ()
) -> LoadedSession:
    """A loaded session of `rows`; each row's venue stamp is its receive time less
    `feed_delay_ns[frame]` (0 when not given), in whole milliseconds."""
    m = manifest or make_manifest()
    arr: list[Any] = list(zip(*rows, strict=True)) if rows else [()] * 7
    n = len(rows)
    delays = list(feed_delay_ns)
    events: dict[str, np.ndarray] = {
        "local_ns": np.asarray(arr[0], dtype=np.int64),
        "exch_ms": np.asarray(
            [(r[0] - (delays[r[1]] if delays else 0)) // 1_000_000 for r in rows], dtype=np.int64
        ),
        "frame": np.asarray(arr[1], dtype=np.int32),
        "kind": np.asarray(arr[2], dtype=np.uint8),
        "token": np.asarray(arr[3], dtype=np.int8),
        "side": np.asarray(arr[4], dtype=np.int8),
        "price": np.asarray(arr[5], dtype=np.int32),
        "size": np.asarray(arr[6], dtype=np.float64),
        "venue_bid": np.full(n, -1, dtype=np.int32),
        "venue_ask": np.full(n, -1, dtype=np.int32),
    }
    underlying: dict[str, np.ndarray] = {
        "local_ns": np.zeros(0, dtype=np.int64),
        "exch_ms": np.zeros(0, dtype=np.int64),
        "source": np.zeros(0, dtype=np.uint8),
        "price": np.zeros(0, dtype=np.float64),
    }
    return LoadedSession(Path(m.slug), m, events, underlying)


def random_session(
    seed: int,
    *,
    n_frames: int = 20_000,
    outcome: str | None = None,
    start_s: int | None = None,
    fee_rate: float = 0.07,
    feed_delay_ms: float = 0.0,
) -> LoadedSession:
    """A mirrored Up/Down book random walk with trades, ~4 rows per frame.

    `feed_delay_ms` > 0 stamps each frame that much (x 0.2 to 1.8, at random) before
    its receive time, so the venue clock and the local clock differ as on a real feed."""
    rng = np.random.default_rng(seed)
    start_s = T0_S + 900 * seed if start_s is None else start_s
    rows: list[Row] = []
    t = start_s * 1_000_000_000 - 2_000_000_000
    dt = int(902e9 / n_frames)
    mid = 500
    books: dict[tuple[int, int], dict[int, float]] = {
        (UP, BID): {},
        (UP, ASK): {},
        (DOWN, BID): {},
        (DOWN, ASK): {},
    }

    def snapshot(frame: int) -> None:
        for tok in (UP, DOWN):
            m = mid if tok == UP else 1000 - mid
            rows.append((t, frame, int(Kind.BOOK_RESET), tok, NO_SIDE, -1, 0.0))
            books[(tok, BID)] = {m - 10 * i - 5: float(rng.integers(20, 400)) for i in range(8)}
            books[(tok, ASK)] = {m + 10 * i + 5: float(rng.integers(20, 400)) for i in range(8)}
            for side in (BID, ASK):
                for p, s in books[(tok, side)].items():
                    rows.append((t, frame, int(Kind.LEVEL), tok, side, p, s))

    mid = 505
    snapshot(0)
    for frame in range(1, n_frames):
        t += dt
        r = rng.random()
        if r < 0.03:  # mid moves by a tick: fresh snapshot
            mid = int(np.clip(mid + rng.choice((-10, 10)), 105, 895))
            snapshot(frame)
            continue
        tok = UP if rng.random() < 0.5 else DOWN
        side = BID if rng.random() < 0.5 else ASK
        levels = books[(tok, side)]
        price = list(levels)[int(rng.integers(0, min(3, len(levels))))]
        if r < 0.10:  # a trade on the best level
            best = max(books[(tok, BID)])
            size = float(rng.integers(1, 60))
            rows.append((t, frame, int(Kind.TRADE), tok, ASK, best, size))
            new = max(books[(tok, BID)][best] - size, 1.0)
            books[(tok, BID)][best] = new
            rows.append((t, frame, int(Kind.LEVEL), tok, BID, best, new))
            mirror = books[(1 - tok, ASK)]
            mirror[1000 - best] = new
            rows.append((t, frame, int(Kind.LEVEL), 1 - tok, ASK, 1000 - best, new))
            continue
        new = max(levels[price] + float(rng.integers(-50, 60)), 1.0)
        levels[price] = new
        rows.append((t, frame, int(Kind.LEVEL), tok, side, price, new))
        other = books[(1 - tok, 1 - side)]
        other[1000 - price] = new
        rows.append((t, frame, int(Kind.LEVEL), 1 - tok, 1 - side, 1000 - price, new))
    win = outcome or ("Up" if mid >= 500 else "Down")
    delays: list[int] = []
    if feed_delay_ms > 0:
        jitter = np.random.default_rng([seed, 1]).uniform(0.2, 1.8, n_frames)
        delays = (jitter * feed_delay_ms * 1e6).astype(np.int64).tolist()
    return make_session(
        rows, make_manifest(outcome=win, start_s=start_s, fee_rate=fee_rate, tick=0.005), delays
    )
