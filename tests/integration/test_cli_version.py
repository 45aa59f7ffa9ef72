"""`pk8opt --version` and `pk8opt version` print the installed version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pk8opt import __version__

BIN = Path(sys.executable).parent / "pk8opt"


def test_version_flag_and_command() -> None:
    for args in (["--version"], ["-V"]):
        out = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"pk8opt {__version__}"
    out = subprocess.run([str(BIN), "version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == __version__
