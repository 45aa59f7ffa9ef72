"""The import contracts of pyproject.toml (docs/architecture.md) hold on the code, and
catch the change that breaks them: an import that climbs a layer, mlflow outside
tracking/, numba outside the compiled replay."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO

LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "pk8opt", tmp_path / "pk8opt", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_code_keeps_every_contract(copy):
    done = _lint(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "says"),
    [
        (
            "engine/fees.py",
            "from pk8opt.sweep import config",
            "pk8opt.engine is not allowed to import pk8opt.sweep",
        ),
        (
            "sweep/runner.py",
            "from pk8opt.validation import stage",
            "pk8opt.sweep is not allowed to import pk8opt.validation",
        ),
        ("sweep/data.py", "import mlflow", "Illegal imports of protected package mlflow"),
        ("backtest/results.py", "import numba", "Illegal imports of protected package numba"),
        (
            "record/lock.py",
            "from pk8opt.engine import fees",
            "pk8opt.record is not allowed to import pk8opt.engine",
        ),
    ],
)
def test_an_import_against_the_plan_fails_the_lint(copy, module, line, says):
    with open(copy / "pk8opt" / module, "a", encoding="utf-8") as fh:
        fh.write(f"\n{line}  # noqa\n")
    done = _lint(copy)
    assert done.returncode != 0
    assert says in done.stdout, done.stdout
