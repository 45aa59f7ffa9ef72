"""Sweep throughput on the sample: trials per minute with 1 and 2 workers, and what the
sweep machinery (Optuna in the workers, MLflow and study polling in the main process)
costs next to the backtests themselves.

Trials run the real backtest of balanced_arb over the in-sample sessions, without
pruning (every trial does the same amount of work). Load time is excluded: each worker
loads the sessions once before its first trial, so the fan-out time used below is the
wall time from the first worker's first trial to the main process logging the last
trial to MLflow (worker start-up, imports and the session load are excluded).

Figures printed (per run):
- trials/min: trials / fan-out time.
- backtest, optuna, mlflow, poll: per-trial milliseconds. Optuna is measured in the
  workers (ask, suggest, tell, user attributes, on the journal file), as wall time
  (includes waiting for the other worker's file lock) and as CPU time. MLflow (one child
  run per trial) and poll (reading the study for the log and the progress bar) run in the
  main process; their wall time there is inflated by the workers taking both cores, so
  their CPU time is what they take from the workers.
- overhead (CPU): (optuna + mlflow + poll CPU) / (backtest + those): the share of a
  trial's CPU time spent outside the backtest. This is the "Optuna + MLflow <= 5%" target.
- overhead (wall): optuna wall + mlflow wall, over the same total in wall time; the
  conservative reading, which counts lock waits and preemption as overhead.
- efficiency: sum of backtest time / (workers x fan-out time): how much of the machine's
  worker time went into backtests; 1 - efficiency is every loss at once (machinery, lock
  waits, the last trial's tail when one worker has nothing left to do).
- validation: the wall time of the stage after the search (candidates' matrix, the
  neighbourhoods' replays, the statistics, the lockbox, the report and its plots) as a
  share of the search's fan-out time. Target: <= 25%.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from pk8opt.pipeline.run import run_sweep
from pk8opt.sweep.config import parse_config

REPO = Path(__file__).resolve().parents[1]
TRIALS = 60


def _run(workers: int, tmp: Path) -> dict[str, float]:
    doc = {
        "study": f"bench-{workers}",
        "strategy": "balanced_arb",
        "space": {
            "edge": {"low": 0.002, "high": 0.08, "log": True},
            "size": {"low": 5, "high": 50, "step": 5},
            "max_imbalance": {"low": 5, "high": 100},
        },
        "data": {
            "paths": [str(REPO / "recordings" / "sample")],
            "holdout": {"fraction": 0.2},
        },
        "objective": {"metric": "pnl_usdc"},
        "sampler": {"type": "tpe", "seed": 1, "startup_trials": 4},
        "pruner": {"type": "none"},
        "trials": TRIALS,
        "workers": workers,
        "storage": str(tmp / "optuna.journal"),
        "mlflow": {"tracking_uri": f"sqlite:///{tmp / 'mlflow.db'}"},
    }
    cfg = parse_config(doc, "bench")
    out = run_sweep(cfg, "bench", console=Console(quiet=True), experiments_dir=tmp)
    w = out.worker_times
    fanout = out.logged_at - min(x["first_trial_at"] for x in w)
    total = {k: sum(x[k] for x in w) for k in w[0] if k != "first_trial_at"}
    n = total["trials"]
    wall = total["backtest_s"] + total["optuna_s"] + out.mlflow_s
    cpu = total["backtest_cpu_s"] + total["optuna_cpu_s"] + out.mlflow_cpu_s + out.poll_cpu_s
    return {
        "n": n,
        "per_min": n / fanout * 60,
        "backtest_ms": total["backtest_s"] / n * 1000,
        "optuna_ms": total["optuna_s"] / n * 1000,
        "optuna_cpu_ms": total["optuna_cpu_s"] / n * 1000,
        "mlflow_ms": out.mlflow_s / n * 1000,
        "mlflow_cpu_ms": out.mlflow_cpu_s / n * 1000,
        "poll_cpu_ms": out.poll_cpu_s / n * 1000,
        "share_cpu": (cpu - total["backtest_cpu_s"]) / cpu,
        "share_wall": (wall - total["backtest_s"]) / wall,
        "efficiency": total["backtest_s"] / (workers * fanout),
        "search_s": fanout,
        "validation_s": out.validation_s,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        one = _run(1, tmp / "w1")
        two = _run(2, tmp / "w2")
    for k, r in ((1, one), (2, two)):
        print(
            f"   {k} worker(s), {r['n']:.0f} trials: {r['per_min']:.1f} trials/min; per trial "
            f"backtest {r['backtest_ms']:.0f} ms, optuna {r['optuna_ms']:.1f} ms wall / "
            f"{r['optuna_cpu_ms']:.1f} ms cpu, mlflow {r['mlflow_ms']:.1f} ms wall / "
            f"{r['mlflow_cpu_ms']:.1f} ms cpu, poll {r['poll_cpu_ms']:.1f} ms cpu"
        )
        print(
            f"     overhead {r['share_cpu']:.1%} of trial cpu time ({r['share_wall']:.1%} "
            f"counting wall time); efficiency {r['efficiency']:.1%} "
            "(backtest time / workers x fan-out time)"
        )
    print(f"   speed-up with 2 workers: {two['per_min'] / one['per_min']:.2f}x (target >= 1.8x)")
    print(
        f"   optuna + mlflow with 2 workers: {two['share_cpu']:.1%} of a trial's cpu time, "
        f"{two['share_wall']:.1%} of its wall time (target <= 5%)"
    )
    for k, r in ((1, one), (2, two)):
        print(
            f"   validation with {k} worker(s): {r['validation_s']:.1f} s after a "
            f"{r['search_s']:.1f} s search = {r['validation_s'] / r['search_s']:.0%} "
            "(target <= 25%)"
        )


if __name__ == "__main__":
    main()
