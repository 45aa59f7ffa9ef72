"""`pk8opt sweep --json` and `pk8opt deploy --json` as a script uses them: stdout is one
JSON document and nothing else (progress and messages on stderr), and what it says is
what the stores hold. A real sweep of balanced_arb over the sample recordings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from pk8opt.live.keys import read_env_file
from pk8opt.sweep.study import make_storage
from pk8opt.validation import gate, record

pytestmark = pytest.mark.slow
PK8 = [sys.executable, "-m", "pk8opt.cli"]


def pk8(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PK8, *args], capture_output=True, text=True, timeout=900, cwd=cwd, check=False
    )


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path):
    tmp = tmp_path_factory.mktemp("json")
    config = {
        "study": "json-test",
        "strategy": "balanced_arb",
        "space": {"edge": {"low": 0.002, "high": 0.08, "log": True}},
        "data": {"paths": [str(sample_dir)], "symbols": ["BTC", "ETH"]},
        "sampler": {"type": "random", "seed": 5},
        "pruner": {"type": "none"},
        "trials": 6,
        "workers": 2,
    }
    (tmp / "c.yaml").write_text(yaml.safe_dump(config))
    journal = tmp / "store" / "optuna.journal"
    tracking = f"sqlite:///{tmp / 'store' / 'mlflow.db'}"
    r = pk8(
        "sweep", "c.yaml", "--json", "--storage", str(journal), "--tracking-uri", tracking, cwd=tmp
    )
    assert r.returncode == 0, r.stderr
    study = optuna.load_study(study_name="json-test", storage=make_storage(str(journal)))
    return tmp, journal, tracking, r, study


def _verdict(journal: Path) -> dict:
    rec = record.load(make_storage(str(journal)), "json-test")
    assert rec is not None
    return rec


def test_sweep_json_is_the_summary_alone(swept) -> None:
    tmp, journal, tracking, r, study = swept
    doc = json.loads(r.stdout)  # the whole of stdout is one document
    assert "sweeping balanced_arb over" in r.stderr and "verdict:" in r.stderr
    assert doc["study"] == "json-test" and doc["strategy"] == "balanced_arb"
    assert doc["storage"] == str(journal) and doc["tracking_uri"] == tracking
    trials = study.get_trials()
    assert doc["trials"]["complete"] == sum(t.state.name == "COMPLETE" for t in trials) == 6
    assert doc["trials"]["pruned"] == doc["trials"]["failed"] == 0
    best = study.best_trial
    assert doc["best_trial"] == {"number": best.number, "value": best.value, "params": best.params}
    rec = _verdict(journal)
    v = doc["validation"]
    assert v["verdict"] == rec["verdict"] and v["chosen_trial"] == rec["chosen_trial"]
    assert v["passed"] == (rec["verdict"] == "pass") == doc["deployable"]
    assert [c["name"] for c in v["checks"]] == [c["name"] for c in rec["checks"]]
    assert [c["passed"] for c in v["checks"]] == [c["passed"] for c in rec["checks"]]
    assert doc["deploy_command"] == (
        f"pk8opt deploy --best --study json-test --storage {journal} "
        f"--tracking-uri {tracking} --env-file .env"
    )
    assert doc["interrupted"] is False and doc["resume_command"] is None


def test_deploy_json_refusal_and_forced_write(swept) -> None:
    tmp, journal, tracking, _, study = swept
    stores = ["--storage", str(journal), "--tracking-uri", tracking]
    chosen = _verdict(journal)["chosen_trial"]
    other = next(t for t in study.get_trials() if t.number != chosen)
    # a trial validation did not choose is refused (exit 3): the checks, as JSON
    env_file = tmp / ".env"
    r = pk8(
        "deploy",
        "--run-id",
        other.user_attrs["mlflow_run_id"],
        "--json",
        "--env-file",
        str(env_file),
        *stores,
        cwd=tmp,
    )
    assert r.returncode == gate.EXIT_REFUSED, r.stderr
    doc = json.loads(r.stdout)
    assert doc["deployed"] is False and doc["trial"] == other.number
    failing = gate.failing(_verdict(journal), other.number)
    assert [c["name"] for c in doc["failing_checks"]] == [c.name for c in failing]
    assert doc["failing_checks"][0]["name"] == "chosen_trial"
    assert "not deployed" in r.stderr and not env_file.exists()

    # the dry run says what would be written, and writes nothing
    forced = ["--force", "json test of the runner"]
    r = pk8(
        "deploy",
        "--best",
        "--dry-run",
        "--json",
        "--env-file",
        str(env_file),
        *forced,
        *stores,
        cwd=tmp,
    )
    assert r.returncode == 0, r.stderr
    dry = json.loads(r.stdout)
    assert dry["dry_run"] is True and dry["deployed"] is False and not env_file.exists()
    assert dry["trial"] == chosen

    r = pk8("deploy", "--best", "--json", "--env-file", str(env_file), *forced, *stores, cwd=tmp)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["deployed"] is True and doc["env_file"] == str(env_file)
    assert (
        doc["env"]
        == dry["env"]
        == {k: v for k, v in read_env_file(env_file).items() if k.startswith("PM_")}
    )
    assert doc["env"]["PM_STRATEGY"] == "balanced_arb"
    trial = next(t for t in study.get_trials() if t.number == chosen)
    assert doc["trial"] == chosen and doc["mlflow_run_id"] == trial.user_attrs["mlflow_run_id"]
    assert doc["verdict"] == _verdict(journal)["verdict"]
    failing = gate.failing(_verdict(journal), chosen)
    if failing:  # the usual case on the sample: no edge, the override is recorded
        assert doc["override"]["reason"] == "json test of the runner"
        assert [c["name"] for c in doc["override"]["failing_checks"]] == [c.name for c in failing]
    else:
        assert doc["override"] is None
