"""Per-session evidence and the validation stage through a real sweep: the stand-in
evaluator, real loky workers, a real Optuna journal and MLflow sqlite store."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from rich.console import Console
from support.fake_sweep import EVALUATOR, config_doc, make_sessions

from pk8opt.pipeline.run import run_sweep
from pk8opt.sweep.config import parse_config
from pk8opt.sweep.study import make_storage
from pk8opt.sweep.windows import window_index, window_order
from pk8opt.validation import record
from pk8opt.validation.candidates import rank_trials

pytestmark = pytest.mark.slow
SYMBOLS = ("BTC", "ETH")


def _sweep(tmp: Path, **changes):
    cfg = parse_config(config_doc(tmp, **changes), "toy.yaml")
    out = run_sweep(
        cfg,
        "toy.yaml",
        console=Console(quiet=True),
        evaluator=EVALUATOR,
        experiments_dir=tmp / "exp",
    )
    study = optuna.load_study(study_name="toy", storage=make_storage(cfg.storage_url()))
    return cfg, out, study


def _in_sample(cfg, out) -> list[str]:
    """The in-sample sessions, as the sweep's parent run records them (`study.json`)."""
    client = MlflowClient(tracking_uri=cfg.tracking_uri())
    return json.loads(Path(client.download_artifacts(out.parent_run_id, "study.json")).read_text())[
        "in_sample_paths"
    ]


def _members(cfg, out) -> list[list[int]]:
    starts = [int(Path(p).name.rsplit("-", 1)[1]) for p in _in_sample(cfg, out)]
    return window_index(starts)[1]


def test_every_trial_keeps_its_sessions_and_visits_windows_in_its_own_order(
    tmp_path: Path,
) -> None:
    make_sessions(tmp_path / "rec", n=8, symbols=SYMBOLS)
    doc = {"pruner": {"type": "none"}, "trials": 6, "workers": 1}
    cfg, out, study = _sweep(tmp_path, objective={"metric": "pnl_per_window"}, **doc)
    members = _members(cfg, out)
    assert len(members) == 6 and all(len(m) == 2 for m in members)  # 6 windows x 2 symbols
    client = MlflowClient(tracking_uri=cfg.tracking_uri())
    exp = client.get_experiment_by_name("toy")
    runs = {
        int(r.data.tags["pk8opt.trial"]): r
        for r in client.search_runs([exp.experiment_id], max_results=100)
        if "pk8opt.trial" in r.data.tags
    }
    orders = []
    done = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert len(done) >= 3  # the stand-in fails trials with edge > 0.07
    for t in done:
        s = t.user_attrs["sessions"]
        assert len(s["session_pnl"]) == 12 and None not in s["session_pnl"]
        assert s["session_fills"] == [1.0] * 12
        # shuffled per trial, reproducible from the seed and the trial number
        assert s["window_order"] == window_order(6, 3, t.number)
        orders.append(tuple(s["window_order"]))
        # the objective is the mean of the windows' sums over both symbols
        sums = [sum(s["session_pnl"][i] for i in m) for m in members]
        assert t.value == pytest.approx(sum(sums) / 6)
        assert t.user_attrs["metrics"]["pnl_per_window"] == pytest.approx(t.value)
        # MLflow: one point per session, step = session index
        history = client.get_metric_history(runs[t.number].info.run_id, "session_pnl_usdc")
        assert sorted((m.step, m.value) for m in history) == [
            (i, pytest.approx(v)) for i, v in enumerate(s["session_pnl"])
        ]
    assert len(set(orders)) > 1
    assert study.metric_names == ["pnl_per_window"]


@pytest.mark.parametrize(
    "pruner",
    [
        {"type": "wilcoxon", "p_threshold": 0.5, "warmup_windows": 1},
        {"type": "median", "startup_trials": 1, "warmup_windows": 1},
        {"type": "percentile", "percentile": 90.0, "startup_trials": 1, "warmup_windows": 2},
    ],
    ids=lambda p: p["type"],
)
def test_no_trial_is_pruned_before_its_warmup_windows_and_only_at_a_windows_end(
    tmp_path: Path, pruner: dict
) -> None:
    make_sessions(tmp_path / "rec", n=8, symbols=SYMBOLS)
    # one worker: which trials have completed when another reports (and so what is
    # pruned) does not depend on timing
    cfg, out, study = _sweep(tmp_path, pruner=pruner, trials=14, workers=1)
    members = _members(cfg, out)
    pruned = [t for t in study.get_trials() if t.state.name == "PRUNED"]
    assert pruned, "the test needs pruned trials"
    for t in pruned:
        s = t.user_attrs["sessions"]
        played = {i for i, v in enumerate(s["session_pnl"]) if v is not None}
        windows = [w for w in s["window_order"] if set(members[w]) & played]
        # whole windows only, the first ones of the trial's own order, at least the warm-up
        assert windows == s["window_order"][: len(windows)]
        assert played == {i for w in windows for i in members[w]}
        assert len(windows) >= pruner["warmup_windows"]
        assert len(windows) < len(members)  # a trial that played them all is complete
        assert len(t.intermediate_values) == len(windows)
        if pruner["type"] == "wilcoxon":  # one value per window, under the window's index
            assert sorted(t.intermediate_values) == sorted(windows)


def test_validation_writes_the_matrix_and_its_verdict(tmp_path: Path) -> None:
    make_sessions(tmp_path / "rec", n=8, symbols=SYMBOLS)
    cfg, out, study = _sweep(tmp_path, trials=10, validation={"candidates": 4})
    members = _members(cfg, out)
    rec = record.load(make_storage(cfg.storage_url()), "toy")
    assert rec is not None
    assert rec["chosen_trial"] == out.chosen and rec["verdict"] == out.verdict
    client = MlflowClient(tracking_uri=cfg.tracking_uri())
    path = client.download_artifacts(out.parent_run_id, "trials_x_windows.csv", str(tmp_path))
    rows = list(csv.reader(io.StringIO(Path(path).read_text())))
    header, body = rows[0], rows[1:]
    assert header[0] == "trial" and len(header) == 1 + len(members)
    assert header[1:] == sorted(header[1:])  # window starts in time order
    first = int(Path(_in_sample(cfg, out)[0]).name.rsplit("-", 1)[1])
    assert header[1] == datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [r[0] for r in body[-2:]] == ["defaults", "not_trading"]
    assert all(float(x) == 0 for x in body[-1][1:])
    trials = {t.number: t for t in study.get_trials()}
    # the top 4 by in-sample score (pruned ones re-run) and every completed trial
    top = [t.number for t, _ in rank_trials(study, members, "pnl_usdc")[:4]]
    done = [n for n, t in trials.items() if t.state.name == "COMPLETE"]
    assert sorted(int(r[0]) for r in body[:-2]) == sorted(set(top) | set(done))
    assert [int(r[0]) for r in body[:4]] == top  # best in-sample first
    for r in body[:-2]:
        t = trials[int(r[0])]
        pnl = t.user_attrs["sessions"]["session_pnl"]
        if t.state.name == "COMPLETE":  # its own per-session results, summed per window
            assert [float(x) for x in r[1:]] == pytest.approx(
                [sum(pnl[i] for i in m) for m in members], abs=1e-6
            )
        else:  # a pruned trial re-run to completion agrees where it had played
            for w, m in enumerate(members):
                if all(pnl[i] is not None for i in m):
                    assert float(r[1 + w]) == pytest.approx(sum(pnl[i] for i in m), abs=1e-6)
    assert str(out.chosen) in [r[0] for r in body[:-2]]
    parent = client.get_run(out.parent_run_id)
    assert parent.data.tags["pk8opt.verdict"] == out.verdict
    md = client.download_artifacts(out.parent_run_id, "validation.md", str(tmp_path))
    text = Path(md).read_text()
    title = "pass" if out.verdict == "pass" else "fail"
    assert text.startswith(f"# Validation: {title}\n")  # a short title, the reasons below
    assert out.verdict == "pass" or f"Verdict: {out.verdict}" in text


def test_a_figure_that_cannot_be_computed_says_why_in_the_verdict_and_report(
    tmp_path: Path,
) -> None:
    from pk8opt.validation.gate import failing

    make_sessions(tmp_path / "rec", n=4, symbols=SYMBOLS)  # 3 in-sample windows, 1 held out
    cfg, out, study = _sweep(tmp_path, trials=6, validation={"candidates": 3})
    rec = record.load(make_storage(cfg.storage_url()), "toy")
    assert rec is not None
    checks = {c["name"]: c for c in rec["checks"]}
    why = "walk-forward needs at least 5 windows for one fold"
    for name in ("oos_pnl_per_window", "oos_t"):
        assert checks[name]["value"] is None and not checks[name]["passed"]
        assert checks[name]["reason"].startswith(why) and "the data has 3" in checks[name]["reason"]
    assert f"oos_pnl_per_window, oos_t n/a: {why}" in out.verdict
    assert rec["verdict"] == out.verdict
    client = MlflowClient(tracking_uri=cfg.tracking_uri())
    md = Path(client.download_artifacts(out.parent_run_id, "validation.md", str(tmp_path)))
    assert f"\n- oos_pnl_per_window, oos_t n/a: {why}" in md.read_text()
    refused = {c.name: c for c in failing(rec, out.chosen)}  # what deploy shows
    assert refused["oos_t"].reason == checks["oos_t"]["reason"]
