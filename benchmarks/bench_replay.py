"""Replay throughput of balanced_arb over loaded sessions, and memory of a session.

Uses recordings/sample when the loader and samples are present, otherwise synthetic
sessions (pk8opt.recordings.synthetic). Figures: one-time preparation (per session per
worker), trial replay events/s (what a sweep trial costs) in the compiled replay and in
the Python engine side by side (best of 5 each, CPU time), maker flow against the
defaults in the compiled replay back to back (the same flow again, and a new flow rate
each trial, as a calibration's trials), the time of a calibration trial, the
event-by-event drive (what the live runner runs), and peak memory of one loaded session
with its cache.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

from benchmarks import FIRST_FIVE_WINDOWS_END_S

REPO = Path(__file__).resolve().parents[1]


def _sessions():  # type: ignore[no-untyped-def]
    sample = REPO / "recordings" / "sample"
    try:
        from pk8opt.recordings.load import load_sessions

        if sample.is_dir():
            sessions = [
                s
                for s in load_sessions([sample])
                if s.manifest.resolution.outcome in ("Up", "Down")
                and s.manifest.window_start_s < FIRST_FIVE_WINDOWS_END_S
            ]
            if sessions:
                return "recordings/sample", sessions
    except ImportError:
        pass
    from pk8opt.recordings.synthetic import random_session

    return "synthetic", [random_session(s, n_frames=60_000) for s in range(1, 5)]


def main() -> None:
    from pk8opt.backtest.replay import run_backtest
    from pk8opt.backtest.replay_handle import session_cache
    from pk8opt.trading.run_config import RunConfig

    source, sessions = _sessions()
    n_events = sum(s.n_events for s in sessions)
    print(f"   sessions: {len(sessions)} from {source}, {n_events:,} events")
    t0 = time.process_time()
    for s in sessions:
        session_cache(s)
    prep = time.process_time() - t0
    print(
        f"   preparation (once per session per worker): {prep:.2f} s, "
        f"{n_events / prep / 1e6:.2f} M events/s"
    )
    configs = {
        "balanced_arb defaults": RunConfig("balanced_arb"),
        "balanced_arb edge=0 (busy)": RunConfig.resolve("balanced_arb", {"edge": 0.0}),
        "balanced_arb edge=0 + maker flow": RunConfig.resolve(
            "balanced_arb", {"edge": 0.0, "maker_flow": True}
        ),
    }
    t0 = time.perf_counter()
    for config in configs.values():  # numba compiles (first run on a machine) or loads
        run_backtest(sessions[:1], config)
    print(f"   compiled replay: compile or load {time.perf_counter() - t0:.1f} s (not timed)")
    for label, config in configs.items():
        best = {"compiled": float("inf"), "fast": float("inf")}
        for _ in range(5):
            for mode in best:
                t0 = time.process_time()
                result = run_backtest(sessions, config, mode=mode)  # type: ignore[arg-type]
                best[mode] = min(best[mode], time.process_time() - t0)
        agg = result.aggregate
        c, f = best["compiled"], best["fast"]
        target = " (target >= 20 M/s)" if label == "balanced_arb defaults" else ""
        print(
            f"   trial replay, {label}: compiled {n_events / c / 1e6:.2f} M events/s "
            f"({c * 1000:.0f} ms){target}; Python engine {n_events / f / 1e6:.2f} M events/s "
            f"({f * 1000:.0f} ms), {f / c:.1f}x; fills={agg['fills']}, orders={agg['orders']}"
        )
    _maker_flow_against_plain(sessions, n_events)
    t0 = time.process_time()
    run_backtest(sessions[:1], configs["balanced_arb edge=0 (busy)"], mode="events")
    dt = time.process_time() - t0
    print(
        f"   event-by-event drive (live runner path): "
        f"{sessions[0].n_events / dt / 1e6:.2f} M events/s"
    )
    # memory of one loaded session plus its replay cache
    if source == "synthetic":
        from pk8opt.recordings.synthetic import random_session

        tracemalloc.start()
        one = random_session(9, n_frames=60_000)
    else:
        from pk8opt.recordings.load import load_session

        tracemalloc.start()
        one = load_session(sessions[0].path)
    loaded = tracemalloc.get_traced_memory()
    session_cache(one)
    cached = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    cols = sum(a.nbytes for a in one.events.values())
    import resource

    cache_held = cached[0] - loaded[0]
    cache_peak = cached[1] - loaded[0]
    print(
        f"   one session ({one.n_events:,} events): event columns {cols / 1e6:.1f} MB; "
        f"replay cache {cache_held / 1e6:.1f} MB held ({cache_peak / 1e6:.1f} MB peak while "
        f"building); together {(cols + cache_held) / one.n_events:.0f} bytes/event"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"   process max RSS after all of the above: {rss:.0f} MB")


# a calibration trial's engine settings besides its flow rate: latencies on (ms)
CALIBRATION_TRIAL = {
    "edge": 0.0,
    "maker_flow": True,
    "post_latency_ms": 250.0,
    "cancel_req_latency_ms": 100.0,
    "cancel_clear_latency_ms": 100.0,
    "response_latency_ms": 60.0,
}


def _maker_flow_against_plain(sessions, n_events: int) -> None:  # type: ignore[no-untyped-def]
    """The compiled replay with maker flow against the defaults, back to back (best of 5,
    CPU time): at a new flow rate each trial (its arrivals drawn, as a calibration trial
    draws them) and then the same flow again (its arrivals kept from the trial before, as
    a sweep's trials find them); and a calibration trial: the same with latencies on."""
    from pk8opt.backtest.replay import run_backtest
    from pk8opt.trading.run_config import RunConfig

    plain = RunConfig("balanced_arb")
    flow = {"edge": 0.0, "maker_flow": True}

    def new_rate(base: dict[str, object], i: int) -> RunConfig:  # the same work, new draws
        return RunConfig.resolve("balanced_arb", {**base, "flow_base": 5.0 + i * 1e-9})

    run_backtest(sessions, new_rate(CALIBRATION_TRIAL, 0))
    best = dict.fromkeys(("plain", "new", "kept", "cal_new", "cal_kept"), float("inf"))
    for i in range(1, 6):
        runs = [("plain", plain)]
        runs += [("new", new_rate(flow, i)), ("kept", new_rate(flow, i))]
        runs += [("cal_new", new_rate(CALIBRATION_TRIAL, -i))]
        runs += [("cal_kept", new_rate(CALIBRATION_TRIAL, -i))]
        for name, config in runs:
            t0 = time.process_time()
            run_backtest(sessions, config)
            best[name] = min(best[name], time.process_time() - t0)

    def speed(name: str) -> str:
        return f"{n_events / best[name] / 1e6:.2f} M events/s ({best[name] * 1000:.0f} ms)"

    p = best["plain"]
    print(
        f"   maker flow against defaults, compiled, back to back: defaults {speed('plain')}; "
        f"maker flow {speed('kept')}, ratio {best['kept'] / p:.2f}; "
        f"maker flow at a new rate each trial {speed('new')}, ratio {best['new'] / p:.2f} "
        "(target <= 1.5 for both)"
    )
    kept, new = best["cal_kept"], best["cal_new"]
    print(
        f"   calibration time per trial ({len(sessions)} sessions; maker flow at a new rate "
        f"each trial, latencies on): {new * 1000:.0f} ms, of which drawing the arrivals "
        f"{(new - kept) * 1000:.0f} ms (the same flow again: {kept * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
