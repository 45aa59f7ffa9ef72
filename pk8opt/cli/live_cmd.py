"""CLI: live."""

from __future__ import annotations

from pk8opt.cli import app  # noqa: F401
