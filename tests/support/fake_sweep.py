"""The stand-in sweep evaluator, its parameter sets, fake sessions, a config and a sweep script."""

# It tests the sweep's plumbing (storage, workers, MLflow, deploy) without the engine.
# Worker processes import it by name (EVALUATOR): tests/conftest.py puts tests/ on their
# PYTHONPATH.

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pk8opt.params import Param, ParamSet
from pk8opt.recordings.manifest import Manifest, write_manifest

STRAT = ParamSet(
    [
        Param("edge", float, 0.02, "PM_TOY_EDGE", "edge", low=0.0, high=0.5),
        Param("size", int, 10, "PM_TOY_SIZE", "size", low=1, high=1000),
    ]
)
ENGINE = ParamSet([Param("seed", int, 1, "PM_PAPER_SEED", "seed")])
TRADER = ParamSet([Param("min_requote_s", float, 1.0, "PM_MIN_REQUOTE_SECONDS", "rq", low=0)])
ALL = STRAT + ENGINE + TRADER


class FakeConfig:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def to_env(self) -> dict[str, str]:
        return {"PM_STRATEGY": "toy", **ALL.to_env(self.values)}

    @classmethod
    def from_env(cls, env: dict[str, str]) -> FakeConfig:
        return cls(ALL.from_env(env))


class FakeEvaluator:
    def param_sets(self, strategy: str) -> tuple[ParamSet, ParamSet, ParamSet]:
        return STRAT, ENGINE, TRADER

    def load(self, paths: list[str]) -> list[str]:
        return [Path(p).name for p in paths]

    def config(self, strategy: str, overrides: dict[str, Any]) -> FakeConfig:
        return FakeConfig(ALL.resolve(overrides, "test"))

    def run(self, loaded, strategy, overrides, on_session=None) -> dict[str, float]:
        v = self.config(strategy, overrides).values
        if v["edge"] > 0.07:
            raise RuntimeError("boom: edge too wide")
        gate = os.environ.get("FAKE_GATE")  # a trial holds until this file exists
        while gate and not os.path.exists(gate):
            time.sleep(0.02)
        pnl = 0.0
        for i, slug in enumerate(loaded):
            time.sleep(float(os.environ.get("FAKE_SESSION_SLEEP", "0")))
            s = -((v["edge"] - 0.03) ** 2) * 1000 + v["size"] * 0.01 + _luck(slug)
            pnl += s
            if on_session:
                on_session(i, {"pnl_usdc": s, "fills": 1.0})
        return {"pnl_usdc": pnl, "fills": float(len(loaded)), "sessions": float(len(loaded))}

    def report(self, loaded, strategy, overrides, out_dir: Path) -> dict[str, float]:
        gate = os.environ.get("FAKE_REPORT_GATE")  # validation's last replay holds until then
        if gate:
            Path(f"{gate}.waiting").touch()
            while not os.path.exists(gate):
                time.sleep(0.02)
        metrics = self.run(loaded, strategy, overrides)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "best_sessions.json").write_text("[]")
        return metrics


def _luck(slug: str) -> float:
    """A session's own term, the same for every parameter set (a market's mood)."""
    start = int(slug.rsplit("-", 1)[1]) // 900
    return ((start * 7 + len(slug.split("-")[0])) % 5 - 2) * 0.1


def make_sessions(root: Path, n: int = 8, symbols: tuple[str, ...] = ("BTC",)) -> Path:
    """`n` windows of 15 minutes, one session per symbol in each."""
    t0 = 1_750_000_500 - 1_750_000_500 % 900
    for i in range(n):
        for symbol in symbols:
            slug = f"{symbol.lower()}-updown-15m-{t0 + 900 * i}"
            d = root / slug
            d.mkdir(parents=True)
            write_manifest(
                d,
                Manifest(
                    slug=slug,
                    symbol=symbol,
                    timeframe="15m",
                    condition_id="0x",
                    token_up="1",
                    token_down="2",
                    window_start_s=t0 + 900 * i,
                    window_end_s=t0 + 900 * i + 900,
                    status="complete",
                ),
            )
    return root


def config_doc(tmp: Path, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "study": "toy",
        "strategy": "toy",
        "space": {"edge": {"low": 0.005, "high": 0.08}, "size": {"low": 5, "high": 50, "step": 5}},
        "data": {"paths": [str(tmp / "rec")], "holdout": {"fraction": 0.25}},
        "objective": {"metric": "pnl_usdc", "direction": "maximize"},
        "sampler": {"type": "random", "seed": 3},
        "pruner": {"type": "median", "startup_trials": 3, "warmup_windows": 1},
        "trials": 8,
        "workers": 2,
        "storage": str(tmp / "exp" / "optuna.journal"),
        "mlflow": {"tracking_uri": f"sqlite:///{tmp / 'exp' / 'mlflow.db'}"},
    }
    doc.update(changes)
    return doc


EVALUATOR = "support.fake_sweep:FakeEvaluator"

# A sweep with the stand-in evaluator in a process of its own (`python -c SCRIPT.format(...)`,
# `tests` = the tests folder): prints INTERRUPTED or DONE and the number of finished trials.
SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from rich.console import Console
from support.fake_sweep import EVALUATOR, config_doc
from pathlib import Path
from pk8opt.sweep.config import parse_config
from pk8opt.pipeline.run import run_sweep
tmp = Path({tmp!r})
cfg = parse_config(config_doc(tmp, trials={trials}, **{changes!r}), "toy.yaml")
out = run_sweep(cfg, "toy.yaml", console=Console(), evaluator=EVALUATOR, experiments_dir=tmp / "exp")
print("INTERRUPTED" if out.interrupted else "DONE", out.tally.done)
"""
