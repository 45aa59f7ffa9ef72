"""How a sweep's time and memory grow with the number of sessions.

The sample sessions are replicated under new slugs (each copy's window moved by a
multiple of the sample's span; the frames file is a hard link, only the manifest is rewritten,
nothing is simulated) to 100, 400 and 1,600 sessions in a temporary folder. Each size:

1. index: the one-time preparation of every session (normalizing the frames, building
   the replay cache), over 2 processes; timed, not part of the figures below;
2. a sweep of balanced_arb, 4 trials, 2 workers, no pruning, no holdout, in a fresh
   process, so that every process's peak is this sweep's own.

Printed per size: the sweep's fan-out wall time (first trial asked to last trial
logged) per session-trial, the backtest time summed over the workers per session-trial,
and the peak resident memory (VmHWM in /proc/<pid>/status) of the main process and of
each worker. Targets: a worker's peak flat in the number of sessions (1,600 within 1.3x
of 100) and under 1 GB, all processes together under 3 GB at 1,600, time per
session-trial flat.

Sizes: `PK8OPT_BENCH_SCALE_SIZES=100,400` (default 100,400,1600). A size whose sessions
would not fit in the memory available (estimated from the previous size) is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "recordings" / "sample"
TRIALS = 4
WORKERS = 2


def replicate(sample: Path, out: Path, n: int) -> list[Path]:
    """`n` sessions in `out`: the sample's, then copies under later slugs."""
    sources = sorted(p.parent for p in sample.glob("*/manifest.json"))
    starts = [json.loads((p / "manifest.json").read_text())["window_start_s"] for p in sources]
    span_s = max(starts) - min(starts) + 15 * 60  # copies follow each other, window by window
    made = []
    for i in range(n):
        src = sources[i % len(sources)]
        shift = (i // len(sources)) * span_s
        doc = json.loads((src / "manifest.json").read_text())
        symbol, tf, start = doc["slug"].rsplit("-", 2)[0], doc["timeframe"], doc["window_start_s"]
        slug = f"{symbol}-{tf}-{start + shift}"
        doc.update(
            slug=slug, window_start_s=start + shift, window_end_s=doc["window_end_s"] + shift
        )
        dst = out / slug
        dst.mkdir(parents=True)
        frames = src / doc["frames_file"]
        os.link(frames, dst / frames.name)
        (dst / "manifest.json").write_text(json.dumps(doc, indent=2))
        made.append(dst)
    return made


def _index_one(path: str) -> None:
    try:
        from pk8opt.backtest.index import index_session
    except ImportError:  # before the column store: loading writes the Parquet cache
        from pk8opt.recordings.load import load_session

        load_session(path)
        return
    index_session(Path(path))


def _index(paths: list[Path]) -> float:
    t0 = time.perf_counter()
    with ProcessPoolExecutor(WORKERS) as pool:
        list(pool.map(_index_one, [str(p) for p in paths], chunksize=8))
    return time.perf_counter() - t0


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def child(data: Path, tmp: Path) -> dict[str, object]:
    """One sweep in this (fresh) process; its figures as a dict."""
    from rich.console import Console

    from pk8opt.pipeline.run import run_sweep
    from pk8opt.sweep.config import parse_config

    doc = {
        "study": "scale",
        "strategy": "balanced_arb",
        "space": {
            "edge": {"low": 0.002, "high": 0.08, "log": True},
            "size": {"low": 5, "high": 50, "step": 5},
            "max_imbalance": {"low": 5, "high": 100},
        },
        "data": {"paths": [str(data)], "holdout": {"fraction": 0.0}},
        "objective": {"metric": "pnl_usdc"},
        "sampler": {"type": "tpe", "seed": 1, "startup_trials": TRIALS},
        "pruner": {"type": "none"},
        "trials": TRIALS,
        "workers": WORKERS,
        "storage": str(tmp / "optuna.journal"),
        "mlflow": {"tracking_uri": f"sqlite:///{tmp / 'mlflow.db'}"},
    }
    cfg = parse_config(doc, "bench")
    t0 = time.perf_counter()
    out = run_sweep(cfg, "bench", console=Console(quiet=True), experiments_dir=tmp)
    wall = time.perf_counter() - t0
    workers = [
        p
        for p in _descendants(os.getpid())
        if "resource_tracker" not in _cmdline(p) and _status_kb(p, "VmHWM")
    ]
    w = out.worker_times
    reported = [x["peak_rss_mb"] for x in w if x.get("peak_rss_mb")]
    seen = sorted(_status_kb(p, "VmHWM") / 1024 for p in workers)
    return {
        "wall_s": wall,
        "fanout_s": out.fanout_s,
        "backtest_s": sum(x["backtest_s"] for x in w),
        "load_s": max(x["load_s"] for x in w),
        "trials": sum(x["trials"] for x in w),
        "main_mb": _status_kb(os.getpid(), "VmHWM") / 1024,
        # each worker reports its own peak; before that existed, read the ones still alive
        "worker_mb": sorted(reported) if len(reported) == len(w) else seen,
    }


def _available_mb() -> float:
    return _status_kb_meminfo("MemAvailable") / 1024


def _status_kb_meminfo(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    sizes = [int(x) for x in os.environ.get("PK8OPT_BENCH_SCALE_SIZES", "100,400,1600").split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="pk8opt-scale-") as d:
        root = Path(d)
        per_session_mb = 0.0
        for n in sizes:
            need = per_session_mb * n
            if need and need > 0.8 * _available_mb():
                print(
                    f"   {n} sessions: skipped, about {need / 1024:.1f} GB needed "
                    f"({_available_mb() / 1024:.1f} GB available)"
                )
                continue
            data = root / f"s{n}"
            paths = replicate(SAMPLE, data, n)
            index_s = _index(paths)
            tmp = root / f"t{n}"
            tmp.mkdir()
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
            r = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_scale", "--child", str(data), str(tmp)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if r.returncode != 0:
                print(f"   {n} sessions: the sweep failed:\n{r.stderr[-3000:]}")
                return
            fig = json.loads(r.stdout.strip().splitlines()[-1])
            st = n * fig["trials"]
            total = fig["main_mb"] + sum(fig["worker_mb"])
            per_session_mb = max(per_session_mb, total / n)
            rows.append((n, fig))
            print(
                f"   {n:>5} sessions: index {index_s:.0f} s; sweep {fig['wall_s']:.1f} s "
                f"({fig['trials']:.0f} trials), fan-out {fig['fanout_s'] / st * 1000:.1f} ms wall "
                f"per session-trial, backtest {fig['backtest_s'] / st * 1000:.1f} ms per "
                f"session-trial in a worker; peak RSS main {fig['main_mb']:.0f} MB, workers "
                f"{', '.join(f'{x:.0f}' for x in fig['worker_mb'])} MB, total {total:.0f} MB",
                flush=True,
            )
            shutil_rmtree(data)
    if len(rows) >= 2:
        (n0, a), (n1, b) = rows[0], rows[-1]
        ratio = max(b["worker_mb"]) / max(a["worker_mb"])
        per0 = a["fanout_s"] / (n0 * a["trials"])
        per1 = b["fanout_s"] / (n1 * b["trials"])
        print(
            f"   worker peak at {n1} / at {n0} sessions: {ratio:.2f}x (target <= 1.3x, "
            f"< 1024 MB: {max(b['worker_mb']):.0f} MB); time per session-trial "
            f"{per1 / per0:.2f}x"
        )


def shutil_rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        main()
