"""What the commands print into a pipe or a file, and at 80 columns: a sweep's log (a line
per finished trial, the compile of the replay, the verdict once) and the tables of
`sweeps`, `sweeps show` and `strategies` with every name whole."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from support.paths import REPO

BIN = [sys.executable, "-m", "pk8opt.cli"]
STUDY = "balanced_arb-sample"
SPACE = (
    "edge",
    "size",
    "max_imbalance",
    "join_ticks",
    "lag_boost_ticks",
    "min_requote_seconds",
)  # configs/balanced_arb.yaml


def _run(args: list[str], columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [*BIN, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    """The shipped sweep with three trials into a file (not a terminal), its own stores."""
    exp = tmp_path_factory.mktemp("screens")
    stores = ["--storage", str(exp / "o.journal"), "--tracking-uri", f"sqlite:///{exp / 'm.db'}"]
    out = _run(["sweep", "configs/balanced_arb.yaml", "--trials", "3", "--workers", "1", *stores])
    assert out.returncode == 0, out.stderr[-3000:]
    return stores, out.stdout


def test_a_sweep_into_a_file_logs_one_line_per_finished_trial(swept: tuple[list[str], str]) -> None:
    _, log = swept
    lines = log.splitlines()
    trials = [m for ln in lines if (m := re.match(r"trial (\d+) (\w+)(: value (\S+))?; ", ln))]
    assert sorted(int(m[1]) for m in trials) == [0, 1, 2], log
    assert all(m[2] == "complete" and m[4] is not None for m in trials), log
    counted = [ln.rsplit("; ", 1)[1] for ln in lines if re.match(r"trial \d+ \w+", ln)]
    assert counted == ["1/3 done", "2/3 done", "3/3 done"], log
    best: float | None = None
    for ln, m in zip([x for x in lines if re.match(r"trial \d+ complete", x)], trials, strict=True):
        value = float(m[4])
        best = value if best is None else max(best, value)  # the sample's objective: maximize
        assert f"; best {best:.6g} (trial " in ln, ln
    assert "━" not in log  # no progress bar in a file


def test_a_sweep_into_a_file_says_when_the_compiled_replay_is_prepared_and_ready(
    swept: tuple[list[str], str],
) -> None:
    lines = swept[1].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("preparing the compiled replay"))
    ready = next(
        i for i, ln in enumerate(lines) if "compiled replay of balanced_arb is ready in" in ln
    )
    first_trial = next(i for i, ln in enumerate(lines) if ln.startswith("trial "))
    assert start < ready < first_trial
    assert re.search(r"ready in \d+\.\d s", lines[ready])


def test_a_sweep_says_its_verdict_once(swept: tuple[list[str], str]) -> None:
    log = swept[1]
    (verdict,) = [ln for ln in log.splitlines() if ln.startswith("verdict: ")]
    first_check = verdict.removeprefix("verdict: fail: ").split(";")[0]
    assert log.count(first_check) == 1, log
    assert "nothing to deploy: trial" in log and "failed validation (the verdict above)" in log


def test_sweeps_at_80_columns_keep_every_name_whole(swept: tuple[list[str], str]) -> None:
    stores, _ = swept
    out = _run(["sweeps", *stores], columns=80)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80, out.stdout
    head = lines[0].split()
    assert {"Study", "Best", "Complete", "State", "Verdict"} <= set(head), lines[0]
    assert "…" not in lines[0]
    row = next(x for x in lines if x.startswith(STUDY + " "))
    cells = row.split()
    assert cells[head.index("Complete")] == "3" and cells[head.index("State")] == "finished"
    assert re.fullmatch(r"-?\d+(\.\d+)?", cells[head.index("Best")]), row
    assert row.split(maxsplit=len(head) - 1)[-1].startswith("fail: "), row


def test_sweeps_show_at_80_columns_keeps_every_name_whole(swept: tuple[list[str], str]) -> None:
    stores, _ = swept
    out = _run(["sweeps", "show", STUDY, *stores], columns=80)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80, out.stdout
    words = out.stdout.split()
    for name in (*SPACE, "pnl_usdc", "fills", "max_drawdown_usdc"):  # each as `name=value`
        assert any(re.fullmatch(rf"{name}=-?[\d.e+-]+", w) for w in words), (name, out.stdout)
    blocks = [x for x in lines if x.startswith("trial ")]
    assert len(blocks) == 3 and all(re.fullmatch(r"trial \d  objective \S+", b) for b in blocks)
    assert any(x.split()[:1] == ["oos_t"] for x in lines)  # the verdict table
    wide = _run(["sweeps", "show", STUDY, *stores])  # into a pipe: one table, a row a trial
    head = next(x for x in wide.stdout.splitlines() if x.startswith("Trial "))
    assert head.split() == ["Trial", "Objective", *sorted(SPACE), "fees_usdc", "fills"] + [
        "max_drawdown_usdc",
        "pnl_usdc",
        "sessions",
    ]


def test_strategy_parameters_at_80_columns_keep_every_name_whole() -> None:
    from pk8opt.trading.run_config import RunConfig

    envs = {p.env: p.name for ps in RunConfig.param_sets("balanced_arb") for p in ps}
    out = _run(["strategies", "balanced_arb"], columns=80)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80, out.stdout
    found = set(re.findall(r"\bPM_[A-Z_]+\b", out.stdout))
    assert set(envs) <= found, set(envs) - found  # every variable whole (grep finds it)
    for env, name in envs.items():  # each variable on the line of its parameter's name
        assert any(x.split()[:2] == [name, env] for x in lines), (name, env)
    piped = _run(["strategies", "balanced_arb"]).stdout.splitlines()  # no COLUMNS: a table
    for env, name in envs.items():
        assert any(x.split()[:2] == [name, env] for x in piped), (name, env)
