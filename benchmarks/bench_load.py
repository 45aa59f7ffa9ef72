"""Loading a cached busy session for replay (ms). Target: < 20 ms.

A synthetic 15-minute session of ~12,000 frames (~40,000 events: the mix of
bench_normalize) is normalized once; then `load_session` is timed reading the cache.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.bench_normalize import write_bench_session


def main() -> None:
    from pk8opt.recordings.load import load_session

    with tempfile.TemporaryDirectory() as tmp:
        session = write_bench_session(Path(tmp), 12_000)
        t0 = time.perf_counter()
        first = load_session(session)  # normalizes and writes the cache
        build_ms = (time.perf_counter() - t0) * 1000
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            s = load_session(session)
            times.append((time.perf_counter() - t0) * 1000)
        assert s.n_events == first.n_events
        times.sort()
        print(f"events: {s.n_events:,}  underlying: {len(s.underlying['price']):,}")
        print(f"first load (normalize + write cache): {build_ms:.0f} ms")
        print(
            f"cached load: median {times[len(times) // 2]:.1f} ms, best {times[0]:.1f} ms "
            "(target < 20 ms)"
        )


if __name__ == "__main__":
    main()
