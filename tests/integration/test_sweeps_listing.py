"""`pk8opt sweeps` and `pk8opt sweeps show` read a real Optuna journal and a real MLflow
store: studies with their counts, best value, state and verdict; one study's top
trials, validation figures and deploy command; `--json`; clear one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient

from pk8opt.pipeline.listing import list_sweeps, show_sweep
from pk8opt.sweep.study import make_storage
from pk8opt.tracking import ROLE, STUDY
from pk8opt.validation import record

BIN = Path(sys.executable).parent / "pk8opt"


@pytest.fixture(autouse=True)
def _into_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands print into a pipe with no COLUMNS (which a test runner may export to
    the processes it starts): a pipe's width, each sweep on one line."""
    monkeypatch.setenv("COLUMNS", "")
    monkeypatch.delenv("COLUMNS")


def make_stores(tmp: Path) -> tuple[str, str]:
    journal = str(tmp / "optuna.journal")
    storage = make_storage(journal)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    a = optuna.create_study(study_name="alpha", storage=storage, direction="maximize")
    a.set_user_attr("pk8opt", {"strategy": "balanced_arb"})
    for edge, value in ((0.01, 3.0), (0.02, 7.5), (0.03, -1.0)):
        a.enqueue_trial({"edge": edge})
        trial = a.ask()
        trial.suggest_float("edge", 0.0, 0.1)
        trial.set_user_attr("metrics", {"pnl_usdc": value, "fills": 4.0})
        a.tell(trial, value)
    pruned = a.ask({"edge": optuna.distributions.FloatDistribution(0.0, 0.1)})
    a.tell(pruned, state=optuna.trial.TrialState.PRUNED)
    b = optuna.create_study(study_name="beta", storage=storage, direction="minimize")
    b.ask()  # one trial left running
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("alpha", artifact_location=str(tmp / "art"))
    run = client.create_run(
        exp, tags={ROLE: "sweep", STUDY: "alpha", "pk8opt.verdict": "fail: pbo 0.6 > 0.2"}
    )
    for name, value in (("pbo", 0.6), ("dsr", 0.4), ("oos_t", 0.8)):
        client.log_metric(run.info.run_id, name, value)
    return journal, uri


def test_list_counts_best_state_and_verdict(tmp_path: Path) -> None:
    journal, uri = make_stores(tmp_path)
    rows = {r.study: r for r in list_sweeps(journal, uri)}
    a, b = rows["alpha"], rows["beta"]
    assert (a.complete, a.pruned, a.failed, a.running) == (3, 1, 0, 0)
    assert a.best == 7.5 and a.best_trial == 1 and a.state == "finished"
    assert a.verdict == "fail: pbo 0.6 > 0.2" and a.strategy == "balanced_arb"
    assert b.state == "running" and b.best is None and b.verdict is None


def test_show_top_trials_figures_and_deploy_line(tmp_path: Path) -> None:
    journal, uri = make_stores(tmp_path)
    d = show_sweep(journal, uri, "alpha", top=2)
    assert [t.number for t in d.top] == [1, 0]  # best first
    assert d.top[0].params == {"edge": 0.02} and d.top[0].metrics["pnl_usdc"] == 7.5
    assert d.figures == {"oos_t": 0.8, "dsr": 0.4, "pbo": 0.6}
    assert d.deploy_command.startswith("pk8opt deploy --best --study alpha --storage ")


def test_cli_json_and_table(tmp_path: Path) -> None:
    journal, uri = make_stores(tmp_path)
    stores = ["--storage", journal, "--tracking-uri", uri]
    out = subprocess.run([str(BIN), "sweeps", *stores, "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    listed = {r["study"]: r for r in json.loads(out.stdout)}
    assert listed["alpha"]["best"] == 7.5 and listed["beta"]["state"] == "running"
    out = subprocess.run([str(BIN), "sweeps", *stores], capture_output=True, text=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("alpha"))
    assert "7.5" in line and "fail: pbo 0.6 > 0.2" in line
    out = subprocess.run(
        [str(BIN), "sweeps", "show", "alpha", *stores, "--json"], capture_output=True, text=True
    )
    shown = json.loads(out.stdout)
    assert shown["row"]["verdict"].startswith("fail") and len(shown["top"]) == 3
    # a count is a whole number, money is not
    assert all(type(t["metrics"]["fills"]) is int for t in shown["top"])
    assert all(type(t["metrics"]["pnl_usdc"]) is float for t in shown["top"])
    out = subprocess.run(
        [str(BIN), "sweeps", "show", "alpha", *stores], capture_output=True, text=True
    )
    assert (
        "Top trials" in out.stdout and "pbo" in out.stdout and "pk8opt deploy --best" in out.stdout
    )


def test_unknown_study_and_missing_storage_are_one_line(tmp_path: Path) -> None:
    journal, uri = make_stores(tmp_path)
    out = subprocess.run(
        [str(BIN), "sweeps", "show", "alpah", "--storage", journal, "--tracking-uri", uri],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "did you mean alpha?" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = subprocess.run(
        [str(BIN), "sweeps", "--storage", str(tmp_path / "none.journal")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "no study storage here" in out.stderr


@pytest.mark.parametrize("legacy", [False, True], ids=["verdict record", "older user attr"])
def test_show_gives_the_verdict_checks_from_the_study_without_mlflow(
    tmp_path: Path, legacy: bool
) -> None:
    journal, _ = make_stores(tmp_path)
    study = optuna.load_study(study_name="alpha", storage=make_storage(journal))
    checks = [
        {"name": "dsr", "value": 0.4, "threshold": ">= 0.95", "passed": False, "reason": ""},
        {"name": "active_windows", "value": 4, "threshold": ">= 3", "passed": True, "reason": ""},
    ]
    rec = {"verdict": "fail: dsr 0.4 < 0.95 (why)", "chosen_trial": 0, "checks": checks}
    if legacy:  # as earlier versions stored it
        study.set_user_attr("validation", rec)
    else:
        rec["brief"] = "fail: dsr 0.4 < 0.95"
        record.save(make_storage(journal), "alpha", rec)
    detail = show_sweep(journal, None, "alpha")  # no MLflow store: the study's own record
    assert detail.row.verdict == "fail: dsr 0.4 < 0.95 (why)"
    assert detail.row.verdict_brief == (None if legacy else "fail: dsr 0.4 < 0.95")
    assert detail.chosen_trial == 0 and detail.checks == checks
    assert detail.to_json()["checks"] == checks
    out = subprocess.run(
        [str(BIN), "sweeps", "show", "alpha", "--storage", journal],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # no MLflow store here: the study's own record
    )
    lines = out.stdout.splitlines()
    assert any(line.split()[:1] == ["dsr"] and "FAIL" in line for line in lines), out.stdout
    assert any(line.split()[:1] == ["active_windows"] and "pass" in line for line in lines)
    assert "Validation of trial 0" in out.stdout and "verdict: fail: dsr 0.4 < 0.95" in out.stdout
    listed = subprocess.run(
        [str(BIN), "sweeps", "--storage", journal],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    row = next(line for line in listed.stdout.splitlines() if line.startswith("alpha"))
    # the list shows the verdict in brief; `sweeps show` gives the reasons
    assert row.rstrip().endswith("fail: dsr 0.4 < 0.95" if not legacy else "(why)"), row


def _in_terminal(args: list[str], columns: int) -> str:
    """What `args` shows in a terminal `columns` wide (a pseudo-terminal), colours off."""
    import fcntl
    import os
    import pty
    import re
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    subprocess.run(args, stdout=slave, stderr=subprocess.PIPE, env=env, timeout=120)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: everything read
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out.decode()).replace("\r", "")


def test_a_long_verdict_keeps_each_sweep_on_one_line(tmp_path: Path) -> None:
    journal, uri = make_stores(tmp_path)
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("alpha").experiment_id])
    reasons = "; ".join(f"check_{i} n/a: a reason long enough to wrap a line" for i in range(6))
    client.set_tag(run.info.run_id, "pk8opt.verdict", f"fail: {reasons}")
    stores = ["--storage", journal, "--tracking-uri", uri]
    piped = subprocess.run([str(BIN), "sweeps", *stores], capture_output=True, text=True)
    terminal = _in_terminal([str(BIN), "sweeps", *stores], 120)
    for screen in (piped.stdout, terminal):
        lines = [x for x in screen.splitlines() if x.strip()]
        assert sorted(x.split()[0] for x in lines) == ["Study", "alpha", "beta"], screen
        alpha = next(x for x in lines if x.startswith("alpha"))
        # every figure whole, the verdict cut to fit: `sweeps show` gives all of it
        assert alpha.split()[:8] == ["alpha", "balanced_arb", "7.5", "1", "3", "1", "0"] + [
            "finished"
        ]
        assert "fail: check_0 n/a" in alpha and alpha.endswith("…")
    assert max(len(x) for x in terminal.splitlines()) <= 120


def test_show_in_a_narrow_terminal_keeps_every_value_whole(tmp_path: Path) -> None:
    journal, uri = make_stores(tmp_path)
    args = [str(BIN), "sweeps", "show", "alpha", "--storage", journal, "--tracking-uri", uri]
    screen = _in_terminal(args, 30)
    lines = [x.strip() for x in screen.splitlines()]
    # too narrow for a table: a block a trial, every name and figure whole, `name=value`
    blocks = [lines[i : i + 3] for i, x in enumerate(lines) if x.startswith("trial ")]
    assert blocks[:3] == [
        ["trial 1  objective 7.5", "edge=0.02", "fills=4  pnl_usdc=7.5"],
        ["trial 0  objective 3", "edge=0.01", "fills=4  pnl_usdc=3"],
        ["trial 2  objective -1", "edge=0.03", "fills=4  pnl_usdc=-1"],
    ], screen


def test_a_sweep_stopped_by_ctrl_c_reads_stopped_with_its_interrupted_trials_apart(
    tmp_path: Path,
) -> None:
    journal, uri = make_stores(tmp_path)
    study = optuna.create_study(study_name="gamma", storage=make_storage(journal))
    study.set_user_attr("pk8opt", {"strategy": "balanced_arb"})
    done = study.ask({"edge": optuna.distributions.FloatDistribution(0.0, 0.1)})
    study.tell(done, 1.0)
    for interrupted in (True, False):  # one cut off by Ctrl-C, one that raised
        trial = study.ask()
        if interrupted:
            trial.set_user_attr("interrupted", True)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("gamma", artifact_location=str(tmp_path / "art-g"))
    parent = client.create_run(exp, tags={ROLE: "sweep", STUDY: "gamma"}).info.run_id
    client.set_terminated(parent, status="KILLED")  # how a sweep stopped by Ctrl-C ends
    rows = {r.study: r for r in list_sweeps(journal, uri)}
    g = rows["gamma"]
    assert (g.complete, g.failed, g.interrupted, g.state) == (1, 1, 1, "stopped")
    assert rows["alpha"].state == "finished" and rows["alpha"].interrupted == 0
    stores = ["--storage", journal, "--tracking-uri", uri]
    out = subprocess.run(
        [str(BIN), "sweeps", "show", "gamma", *stores], capture_output=True, text=True
    )
    assert "1 complete, 0 pruned, 1 failed, 1 interrupted, stopped;" in out.stdout
    assert "deploy: nothing validated yet (run the sweep's command again" in out.stdout
    out = subprocess.run(
        [str(BIN), "sweeps", "show", "alpha", *stores], capture_output=True, text=True
    )
    assert "refuses (exit 3) while validation fails" in out.stdout  # alpha: fail: pbo ...
