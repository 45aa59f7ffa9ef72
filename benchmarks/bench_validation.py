"""Gate power and false positives: does validation say yes to a real edge, no to noise?

Markets are simulated from seeds drawn at start (the master seed is printed; set
PK8OPT_BENCH_SEED to repeat a run): `--preset edge` markets, where balanced_arb earns
inside a known region, and `--preset default` markets, where it has no edge. Each is
swept with the shipped configs/balanced_arb.yaml as it is (its space, trials, workers,
pruner, holdout and validation thresholds); only the study, the stores and the data
paths are set here. Printed:

- power: the share of edge markets whose verdict is `pass` (and, of those, how many
  deploy inside the region), with its 95% Wilson interval;
- false positives: the share of default markets that pass;
- a bootstrap null: on each edge market's own matrix, every trial's (and every
  neighbour's) mean is centred at zero and the windows are resampled; the share of draws
  that pass every in-sample check (the lockbox is not part of it: it can only refuse
  more);
- power against edge strength (the preset's seller rate scaled down) and against the
  number of windows (12, 20, 40 x 2 symbols).

Targets: power >= 0.9 on the edge preset at 20 windows x 2 symbols; false positives
<= 0.05 on the default preset and under the bootstrap null.

Size: PK8OPT_BENCH_VALIDATION_MARKETS markets per preset (default 10) and
PK8OPT_BENCH_VALIDATION_CURVE markets per point of the curves (default 4, 0 skips them);
PK8OPT_BENCH_VALIDATION_BOOT draws per market of the bootstrap (default 200).
PK8OPT_BENCH_VALIDATION_OUT: a JSON file for every market's figures.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console

from pk8opt.pipeline.run import run_sweep
from pk8opt.simulate import in_edge_region
from pk8opt.simulate.presets import PRESETS
from pk8opt.sweep.config import parse_config
from pk8opt.validation.evidence import evidence, resampled
from pk8opt.validation.reasons import Reasons
from pk8opt.validation.stage import thresholds_of
from pk8opt.validation.stats import binomial_interval
from pk8opt.validation.verdict import Figures, judge

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "balanced_arb.yaml"
SYMBOLS = "BTC,ETH"
WINDOWS = 20
LOCKBOX = "lockbox_pnl_per_window"


def _int_env(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def simulate(out: Path, preset: str, windows: int, seed: int, scale: float) -> None:
    """`pk8opt simulate` of one market; `scale` multiplies the edge preset's seller rate."""
    cmd = [sys.executable, "-m", "pk8opt.cli", "simulate", "--out", str(out)]
    cmd += ["--preset", preset, "--sessions", str(windows), "--symbols", SYMBOLS]
    cmd += ["--seed", str(seed)]
    if preset == "edge" and scale != 1.0:
        cmd += ["--param", f"dump_rate={PRESETS['edge']['dump_rate'] * scale:g}"]
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)


def sweep(data: Path, exp: Path) -> Any:
    """The shipped config on `data`, with its own stores under `exp`."""
    doc = yaml.safe_load(CONFIG.read_text())
    doc.update(
        study="power",
        timeout_s=None,
        storage=str(exp / "optuna.journal"),
        mlflow={"tracking_uri": f"sqlite:///{exp / 'mlflow.db'}"},
    )
    doc["data"] = {**doc["data"], "paths": [str(data)]}
    cfg = parse_config(doc, str(CONFIG))
    out = run_sweep(cfg, str(CONFIG), console=Console(quiet=True), experiments_dir=exp)
    return cfg, out


def bootstrap_null(cfg: Any, validated: Any, draws: int, rng: np.random.Generator) -> int:
    """How many of `draws` centred, resampled copies of the market pass every in-sample
    check of the gate."""
    rule = validated.rule
    if rule is None:
        return 0
    th, n_windows = thresholds_of(cfg), rule.matrix.shape[1]
    tried = int(validated.figures.n_trials)
    passed = 0
    for _ in range(draws):
        cols = rng.integers(0, n_windows, n_windows)
        null_rule, side = resampled(rule, validated.beside, cols, centre=True)
        why = Reasons()
        ev = evidence(
            null_rule,
            null_rule.matrix,
            side,
            validated.folds,
            tried,
            blocks=cfg.validation.blocks,
            why=why,
        )
        fig = Figures(
            pbo=_val(ev.pbo, "pbo"),
            prob_oos_loss=_val(ev.pbo, "prob_oos_loss"),
            dsr=_val(ev.dsr, "dsr"),
            psr=_val(ev.dsr, "psr"),
            n_trials=tried,
            oos_pnl_per_window=_val(ev.walk, "mean"),
            oos_t=_val(ev.walk, "t"),
            lockbox_pnl_per_window=None,
            active_windows=validated.figures.active_windows,
        )
        checks = judge(fig, th, why).checks
        passed += all(c.passed for c in checks if c.name != LOCKBOX)
    return passed


def _val(obj: Any, name: str) -> float:
    return float("nan") if obj is None else float(getattr(obj, name))


def one_market(preset: str, windows: int, seed: int, scale: float, boot: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pk8opt-power-") as tmp:
        data, exp = Path(tmp) / "data", Path(tmp) / "exp"
        simulate(data, preset, windows, seed, scale)
        cfg, out = sweep(data, exp)
    v = out.validated
    row: dict[str, Any] = {
        "preset": preset,
        "windows": windows,
        "scale": scale,
        "seed": seed,
        "passed": bool(v is not None and v.verdict.passed),
        "failing": [] if v is None else [c.name for c in v.verdict.failures],
        "figures": {} if v is None else {k: _plain(x) for k, x in vars(v.figures).items()},
        "chosen": {} if v is None else dict(v.chosen.params),
        "in_region": bool(v is not None and in_edge_region(v.chosen.params)),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if boot and v is not None:
        rng = np.random.default_rng(seed)
        row["boot_draws"], row["boot_passed"] = boot, bootstrap_null(cfg, v, boot, rng)
    return row


def _plain(x: Any) -> Any:
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def _line(r: dict[str, Any]) -> str:
    f = r["figures"]
    figs = " ".join(
        f"{k}={_fmt(f.get(k))}"
        for k in ("oos_pnl_per_window", "oos_t", "dsr", "prob_oos_loss", "pbo", LOCKBOX)
    )
    verdict = "pass" if r["passed"] else "fail(" + ",".join(r["failing"]) + ")"
    boot = f" null {r['boot_passed']}/{r['boot_draws']}" if "boot_draws" in r else ""
    return (
        f"   {r['preset']:7s} x{r['scale']:<4g} {r['windows']:2d}w seed {r['seed']:<10d} "
        f"{verdict:28s} {figs}{boot} ({r['seconds']:.0f} s)"
    )


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _rate(rows: list[dict[str, Any]], key: str = "passed") -> str:
    k, n = sum(1 for r in rows if r[key]), len(rows)
    if n == 0:
        return "-"
    lo, hi = binomial_interval(k, n)
    return f"{k}/{n} = {k / n:.2f} [{lo:.2f}, {hi:.2f}]"


def main() -> None:
    master = int(os.environ.get("PK8OPT_BENCH_SEED") or secrets.randbits(31))
    markets = _int_env("PK8OPT_BENCH_VALIDATION_MARKETS", 10)
    curve = _int_env("PK8OPT_BENCH_VALIDATION_CURVE", 4)
    boot = _int_env("PK8OPT_BENCH_VALIDATION_BOOT", 200)
    rng = np.random.default_rng(master)
    print(f"   master seed {master} (PK8OPT_BENCH_SEED={master} repeats this run)", flush=True)
    plan = [("edge", WINDOWS, 1.0, boot), ("default", WINDOWS, 1.0, 0)] * markets
    for scale in (0.5, 0.25):
        plan += [("edge", WINDOWS, scale, 0)] * curve
    for windows in (12, 40):
        plan += [("edge", windows, 1.0, 0)] * curve
    rows = []
    for preset, windows, scale, b in plan:
        seed = int(rng.integers(1, 2**31 - 1))
        rows.append(one_market(preset, windows, seed, scale, b))
        print(_line(rows[-1]), flush=True)
    report(rows)
    if out := os.environ.get("PK8OPT_BENCH_VALIDATION_OUT"):
        Path(out).write_text(json.dumps({"master_seed": master, "markets": rows}, indent=1))


def report(rows: list[dict[str, Any]]) -> None:
    def pick(preset: str, windows: int = WINDOWS, scale: float = 1.0) -> list[dict[str, Any]]:
        return [
            r
            for r in rows
            if r["preset"] == preset and r["windows"] == windows and r["scale"] == scale
        ]

    edge, default = pick("edge"), pick("default")
    passed = [r for r in edge if r["passed"]]
    print(f"   power (edge preset, {WINDOWS} windows x 2 symbols): {_rate(edge)}")
    print(f"     of the passes, deployed inside the edge region: {_rate(passed, 'in_region')}")
    print(f"   false positives (default preset): {_rate(default)}")
    k = sum(r.get("boot_passed", 0) for r in edge)
    n = sum(r.get("boot_draws", 0) for r in edge)
    if n:
        lo, hi = binomial_interval(k, n)
        print(
            f"   false positives (bootstrap null, centred): {k}/{n} = {k / n:.3f} [{lo:.3f}, {hi:.3f}]"
        )
    for scale in (0.5, 0.25):
        if got := pick("edge", scale=scale):
            print(f"   power at seller rate x{scale:g}: {_rate(got)}")
    for windows in (12, 40):
        if got := pick("edge", windows=windows):
            print(f"   power at {windows} windows: {_rate(got)}")
