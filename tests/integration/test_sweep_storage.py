"""Opening the sweep's storage: a torn journal line repaired, driver-agnostic
PostgreSQL URLs, passwords masked, the environment variables, per-process seeds."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from rich.console import Console
from support.fake_sweep import EVALUATOR, config_doc, make_sessions

from pk8opt.pipeline.run import run_sweep
from pk8opt.redact import mask_url
from pk8opt.sweep.config import apply_overrides, parse_config
from pk8opt.sweep.shared_study import process_seed
from pk8opt.sweep.storage import recover_journal, sqlalchemy_url
from pk8opt.sweep.study import make_storage


def test_a_torn_last_journal_line_is_cut_and_the_sweep_goes_on(tmp_path: Path) -> None:
    """A real journal with a few trials, a half-written record appended (what a full
    disk or a kill leaves), then the same sweep again: it says what it recovered and
    finishes the budget."""
    make_sessions(tmp_path / "rec")
    cfg = parse_config(config_doc(tmp_path, trials=3, workers=1), "toy.yaml")
    console = Console(quiet=True)
    run_sweep(cfg, "toy.yaml", console=console, evaluator=EVALUATOR, experiments_dir=tmp_path)
    journal = Path(cfg.storage_url())
    whole = journal.read_bytes()
    assert whole.endswith(b"\n")
    with open(journal, "ab") as f:  # the start of a record, cut mid-way
        f.write(b'{"op_code":4,"worker_id":"x","trial_id":3,"user_attr":{"metr')
    out = Console(record=True, width=1000)
    cfg5 = apply_overrides(cfg, trials=5)
    run_sweep(cfg5, "toy.yaml", console=out, evaluator=EVALUATOR, experiments_dir=tmp_path)
    text = out.export_text()
    lines = [ln for ln in text.splitlines() if "half-written" in ln]
    assert len(lines) == 1, text
    records = whole.count(b"\n")
    assert f"the {records} complete records before it are kept" in lines[0]
    assert journal.read_bytes().startswith(whole)
    # unrepaired, the next record would have been glued to the torn one: a line that
    # is not JSON, and every later read of the study failing
    for line in journal.read_bytes().splitlines():
        json.loads(line)
    study = optuna.load_study(study_name="toy", storage=make_storage(str(journal)))
    assert len(study.get_trials()) == 5


def test_a_whole_journal_is_left_alone_and_a_bad_last_record_is_cut(tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    good = [json.dumps({"op_code": 0, "n": i}) + "\n" for i in range(3)]
    journal.write_text("".join(good))
    assert recover_journal(journal) is None
    assert journal.read_text() == "".join(good)
    journal.write_text("".join(good) + '{"op_code": 1, "broken"\n')  # a newline, no JSON
    note = recover_journal(journal)
    assert note is not None and "the 3 complete records" in note
    assert journal.read_text() == "".join(good)
    journal.write_text('{"op_c')  # nothing whole at all
    assert recover_journal(journal) is not None and journal.read_text() == ""


def test_postgresql_urls_name_the_installed_driver_and_hide_passwords() -> None:
    assert sqlalchemy_url("postgresql://u:pw@db:5432/optuna").startswith(
        ("postgresql+psycopg://", "postgresql+psycopg2://")
    )
    assert sqlalchemy_url("postgres://db/x").startswith("postgresql+psycopg")
    assert sqlalchemy_url("postgresql+psycopg://db/x") == "postgresql+psycopg://db/x"
    assert sqlalchemy_url("sqlite:///x.db") == "sqlite:///x.db"
    assert mask_url("postgresql://u:secret@db:5432/optuna") == "postgresql://u:***@db:5432/optuna"
    assert mask_url("postgresql://u@db/optuna") == "postgresql://u@db/optuna"
    assert mask_url("experiments/optuna.journal") == "experiments/optuna.journal"


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    from pk8opt.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        make_storage("postgresql://me:hunter2@127.0.0.1:1/optuna")
    assert "hunter2" not in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("storage postgresql://me:***@127.0.0.1:1/optuna: ")


def test_the_environment_names_the_stores_when_flags_and_config_are_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTUNA_STORAGE", "postgresql://db/optuna")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    doc = config_doc(tmp_path)
    del doc["storage"], doc["mlflow"]
    cfg = parse_config(doc, "toy.yaml")
    assert cfg.storage_url() == "postgresql://db/optuna"
    assert cfg.tracking_uri() == "http://mlflow:5000"
    flagged = apply_overrides(cfg, storage="s.journal", tracking_uri="sqlite:///m.db")
    assert flagged.storage_url() == "s.journal"
    assert flagged.tracking_uri() == "sqlite:///m.db"
    in_file = parse_config(config_doc(tmp_path), "toy.yaml")
    assert in_file.storage_url() == str(tmp_path / "exp" / "optuna.journal")
    monkeypatch.delenv("OPTUNA_STORAGE")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert cfg.storage_url() == "experiments/optuna.journal"
    assert cfg.tracking_uri() == "sqlite:///experiments/mlflow.db"


def test_each_process_after_the_first_draws_its_own_stream() -> None:
    assert process_seed(42, 0) == 42  # one process alone: reproducible
    assert process_seed(None, 3) is None
    others = {process_seed(42, rank) for rank in range(1, 6)}
    assert len(others) == 5 and 42 not in others


def test_ui_on_a_tracking_server_says_the_server_is_the_ui() -> None:
    from typer.testing import CliRunner

    from pk8opt.cli import app

    done = CliRunner().invoke(app, ["ui", "--tracking-uri", "http://127.0.0.1:5010"])
    assert done.exit_code == 0, done.output
    assert "http://127.0.0.1:5010 is an MLflow server: it is the UI" in done.output
