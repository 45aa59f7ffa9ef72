"""`pk8opt sweep --json` (at the end of a run) and `pk8opt sweeps show --json` (later)
print one document of one shape, built by `sweep_document`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna

from pk8opt.pipeline.listing import show_sweep
from pk8opt.pipeline.run import SweepOutcome
from pk8opt.pipeline.summary import sweep_document
from pk8opt.sweep.failures import Failures
from pk8opt.sweep.progress import Tally
from pk8opt.sweep.study import make_storage
from pk8opt.validation import record

BIN = Path(sys.executable).parent / "pk8opt"


def _journal(tmp: Path) -> str:
    journal = str(tmp / "optuna.journal")
    storage = make_storage(journal)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = optuna.create_study(study_name="alpha", storage=storage, direction="maximize")
    s.set_user_attr("pk8opt", {"strategy": "balanced_arb"})
    for edge, value in ((0.01, 3.0), (0.02, 7.5)):
        s.enqueue_trial({"edge": edge})
        trial = s.ask()
        trial.suggest_float("edge", 0.0, 0.1)
        trial.set_user_attr("metrics", {"pnl_usdc": value, "fills": 4.0})
        s.tell(trial, value)
    checks = [{"name": "dsr", "value": 0.4, "threshold": ">= 0.95", "passed": False}]
    record.save(storage, "alpha", {"verdict": "fail: dsr", "chosen_trial": 1, "checks": checks})
    return journal


def _paths(doc: Any, at: str = "") -> set[str]:
    """Every key path of a document (the keys of dicts, not the items of lists)."""
    if not isinstance(doc, dict):
        return set()
    out = set()
    for k, v in doc.items():
        out.add(f"{at}.{k}")
        if k not in ("params", "metrics", "figures", "row"):  # their keys are data
            out |= _paths(v, f"{at}.{k}")
    return out


def _outcome(journal: str) -> SweepOutcome:
    return SweepOutcome(
        study="alpha",
        storage=journal,
        tracking_uri="sqlite:///none.db",
        parent_run_id="run-1",
        tally=Tally(complete=2),
        interrupted=False,
        worker_times=[],
        mlflow_s=0.0,
        verdict="fail: dsr",
        chosen=1,
        failures=Failures(),
    )


def test_the_run_and_the_listing_give_one_shape(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    detail = show_sweep(journal, None, "alpha")
    later = sweep_document(detail, journal, None)
    at_end = sweep_document(detail, journal, "sqlite:///none.db", outcome=_outcome(journal))
    assert _paths(later) == _paths(at_end)
    for doc in (later, at_end):
        assert doc["trials"]["complete"] == 2 and doc["best_trial"]["number"] == 1
        assert doc["validation"]["verdict"] == "fail: dsr" and doc["deployable"] is False
        assert doc["chosen_trial"] == doc["validation"]["chosen_trial"] == 1
        assert [t["number"] for t in doc["top"]] == [1, 0] and doc["row"]["study"] == "alpha"


def test_sweeps_show_json_has_the_sweep_summary_keys(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # no MLflow store: the study's record
    out = subprocess.run(
        [
            str(BIN),
            "sweeps",
            "show",
            "alpha",
            "--storage",
            journal,
            "--tracking-uri",
            uri,
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    summary_keys = {
        "study", "strategy", "storage", "tracking_uri", "parent_run_id", "interrupted",
        "resume_command", "trials", "objective", "best_trial", "failures", "validation",
        "deployable", "deploy_command",
    }  # fmt: skip
    assert summary_keys <= doc.keys()
    assert {"row", "top", "figures", "chosen_trial", "checks"} <= doc.keys()
    assert doc["storage"] == journal and doc["objective"] == {"direction": "maximize", "best": 7.5}
    assert doc["validation"]["checks"] == doc["checks"] and doc["interrupted"] is False
