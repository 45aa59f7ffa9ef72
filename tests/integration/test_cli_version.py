"""`pk8opt --version` and `pk8opt version` print the installed version."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pk8opt import __version__

BIN = Path(sys.executable).parent / "pk8opt"


def test_version_flag_and_command() -> None:
    for args in (["--version"], ["-V"]):
        out = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        first, deps = out.stdout.strip().splitlines()
        assert first == f"pk8opt {__version__}"
        for name in ("python", "optuna", "mlflow", "numba", "polars"):  # each with its version
            assert re.search(rf"\b{name} \d+\.\d+", deps), deps
    out = subprocess.run([str(BIN), "version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == __version__


def test_library_warnings_hidden_unless_verbose(monkeypatch) -> None:
    import os
    import warnings

    from pk8opt.cli import quiet_library_warnings

    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    with warnings.catch_warnings(record=True) as seen:
        quiet_library_warnings(True)
        warnings.warn("a library's axis note", UserWarning, stacklevel=1)
        assert seen == []
        # worker processes started from here inherit it
        child = subprocess.run(
            [sys.executable, "-c", "import warnings; warnings.warn('from a worker')"],
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        assert "from a worker" not in child.stderr
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_library_warnings(False)  # -v: left as Python shows them
        warnings.warn("shown with -v", UserWarning, stacklevel=1)
        assert [str(w.message) for w in seen] == ["shown with -v"]


def test_the_resume_hint_repeats_every_flag() -> None:
    from pk8opt.cli.sweep_cmd import resume_command

    argv = ["sweep", "c.yaml", "--trials", "200", "--workers", "2"]
    argv += ["--storage", "postgresql://u:secret@db/x", "--study-name", "my study"]
    hint = resume_command(Path("c.yaml"), argv)
    import shlex

    assert shlex.split(hint) == [
        "pk8opt",
        *argv[:7],
        "postgresql://u:***@db/x",
        "--study-name",
        "my study",
    ]
    assert "secret" not in hint
    assert resume_command(Path("c.yaml"), ["-m", "x"]) == "pk8opt sweep c.yaml"
