"""Sweep throughput with 1, 2 and 3 `pk8opt sweep` processes (standing in for machines)
on one study in PostgreSQL, each with one worker, on this machine.

A throwaway cluster is started as the tests do (tests/support/pgcluster.py); each run gets
fresh databases (MLflow's copied from a migrated template: its migrations are not the
sweep's cost). The processes start together; trials/min is the study's finished trials
over the time from its first trial's start to its last trial's end (process start-up
and the session load are left out). Balanced_arb over the sample's in-sample sessions,
no pruning, 20 trials per process. Skipped, with a line, where no PostgreSQL server is
installed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PER_PROCESS = 20


def _config(tmp: Path, trials: int, study: str) -> Path:
    doc = {
        "study": study,
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
        "trials": trials,
        "workers": 1,
        "validation": {"candidates": 2, "robust_top": 1, "neighbours": 1},  # kept short
    }
    path = tmp / f"{study}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _run(cluster: Any, n: int, tmp: Path, journal: bool = False) -> tuple[int, float, float]:
    """(trials, seconds from the first trial's start to the last one's end, the share of
    the processes' time inside trials)."""
    import optuna

    from pk8opt.sweep.study import make_storage

    if journal:  # the single-machine default, for comparison under the same load
        optuna_url = str(tmp / "optuna.journal")
        mlflow_url = f"sqlite:///{tmp / 'mlflow.db'}"
    else:
        optuna_url = cluster.create_database(f"optuna_bench_{n}")
        mlflow_url = cluster.create_database(f"mlflow_bench_{n}", template="mlflow_template")
    config = _config(tmp, PER_PROCESS * n, f"bench-{'journal' if journal else 'pg'}-{n}")
    stores = ["--storage", optuna_url, "--tracking-uri", mlflow_url]
    procs = []
    for i in range(n):
        cwd = tmp / f"p{n}-{i}{'-journal' if journal else ''}"
        cwd.mkdir()
        cmd = [sys.executable, "-m", "pk8opt.cli", "sweep", str(config), *stores]
        cmd += ["--artifacts", str(tmp / "artifacts")]
        procs.append(
            subprocess.Popen(
                cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
        )
    for p in procs:
        _, err = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise RuntimeError(f"a sweep process failed:\n{err[-2000:]}")
    name = f"bench-{'journal' if journal else 'pg'}-{n}"
    study = optuna.load_study(study_name=name, storage=make_storage(optuna_url))
    done = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    start = min(t.datetime_start for t in done)
    end = max(t.datetime_complete for t in done)
    span = (end - start).total_seconds()
    inside = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done)
    return len(done), span, inside / (span * n)


def main() -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from support.pgcluster import cluster, server_bin

    if server_bin() is None:
        print("   skipped: no PostgreSQL server installed (make pg-server installs it as root)")
        return
    import os

    from pk8opt.tracking import Tracker

    rates = {}
    with cluster() as c, tempfile.TemporaryDirectory() as d:
        Tracker(c.create_database("mlflow_template"), "template", "file:///nonexistent")
        print(f"   load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        trials, seconds, busy = _run(c, 1, Path(d), journal=True)
        base = trials / seconds * 60
        print(
            f"   1 process x 1 worker, journal file + sqlite (the default): {trials} trials "
            f"in {seconds:.1f} s = {base:.1f} trials/min ({busy:.0%} of the time in trials)",
            flush=True,
        )
        for n in (1, 2, 3):
            trials, seconds, busy = _run(c, n, Path(d))
            rates[n] = trials / seconds * 60
            print(
                f"   {n} process(es) x 1 worker on PostgreSQL: {trials} trials in "
                f"{seconds:.1f} s = {rates[n]:.1f} trials/min ({busy:.0%} of the processes' "
                "time in trials)",
                flush=True,
            )
        print(f"   load average after: {os.getloadavg()[0]:.1f}")
    print(
        f"   speed-up: 2 processes {rates[2] / rates[1]:.2f}x, 3 processes "
        f"{rates[3] / rates[1]:.2f}x; PostgreSQL vs the journal with 1 process: "
        f"{rates[1] / base:.2f}x"
    )


if __name__ == "__main__":
    main()
