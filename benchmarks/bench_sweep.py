"""Sweep throughput on the sample: trials per minute with 1 and 2 workers, and the share
of a trial's time spent in Optuna (ask, suggest, report, tell on the journal) and in
MLflow (one child run per trial, logged by the main process).

Trials run the real backtest of balanced_arb over the in-sample sessions, without
pruning (every trial does the same amount of work). Load time is excluded: each worker
loads the sessions once before its first trial.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from pk8opt.sweep.config import parse_config
from pk8opt.sweep.runner import run_sweep

REPO = Path(__file__).resolve().parents[1]
TRIALS = 16


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
            "holdout": {"fraction": 0.2, "top_k": 0},
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
    load = max(w["load_s"] for w in out.worker_times)
    optuna_s = sum(w["optuna_s"] for w in out.worker_times)
    backtest_s = sum(w["backtest_s"] for w in out.worker_times)
    trial_s = optuna_s + backtest_s
    return {
        "per_min": TRIALS / max(1e-9, out.fanout_s - load) * 60,
        "optuna_share": optuna_s / trial_s,
        "mlflow_share": out.mlflow_s / trial_s,
        "trial_s": trial_s / TRIALS,
        "mlflow_per_trial_ms": out.mlflow_s / TRIALS * 1000,
        "optuna_per_trial_ms": optuna_s / TRIALS * 1000,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        one = _run(1, tmp / "w1")
        two = _run(2, tmp / "w2")
    for n, r in ((1, one), (2, two)):
        print(
            f"   {n} worker(s): {r['per_min']:.1f} trials/min, {r['trial_s']:.2f} s/trial; "
            f"optuna {r['optuna_per_trial_ms']:.1f} ms/trial ({r['optuna_share']:.1%}), "
            f"mlflow {r['mlflow_per_trial_ms']:.1f} ms/trial ({r['mlflow_share']:.1%})"
        )
    print(f"   speed-up with 2 workers: {two['per_min'] / one['per_min']:.2f}x (target >= 1.8x)")
    share = two["optuna_share"] + two["mlflow_share"]
    print(f"   optuna + mlflow share of a trial's time: {share:.1%} (target <= 5%)")


if __name__ == "__main__":
    main()
