"""The console script's entry point: one exception boundary for the whole CLI."""

from __future__ import annotations

import sys

import typer

from pk8opt.cli.base import app
from pk8opt.errors import Pk8Error, os_error_line
from pk8opt.redact import mask_urls


def main() -> None:
    """Console-script entry point: one exception boundary for the whole CLI.

    Typer (standalone) shows its own usage errors (a bad option value, a missing
    argument) with exit code 2; the project's errors become one `error:` line, exit 1,
    and so does an error of the operating system (a missing folder, a directory where a
    file was expected, a full disk): the path and what is wrong, with the fix. A URL's
    password is masked in either.
    """
    try:
        app()
    except Pk8Error as exc:
        typer.secho(f"error: {mask_urls(str(exc))}", err=True, fg=typer.colors.RED)
        sys.exit(1)
    except OSError as exc:  # the world said no: a path, a full disk, a permission
        typer.secho(f"error: {mask_urls(os_error_line(exc))}", err=True, fg=typer.colors.RED)
        sys.exit(1)
