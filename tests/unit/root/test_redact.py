"""Passwords in URLs are masked in every message and tag."""

from __future__ import annotations

from pk8opt.errors import os_error_line
from pk8opt.redact import is_masked, mask_url, mask_urls


def test_a_url_password_is_masked_and_nothing_else_changes():
    assert (
        mask_url("postgresql://bob:hunter2@db:5432/optuna") == "postgresql://bob:***@db:5432/optuna"
    )
    assert mask_url("postgresql+psycopg://bob:p%40ss@db/o") == "postgresql+psycopg://bob:***@db/o"
    for plain in ("sqlite:///experiments/mlflow.db", "http://host:5000", "postgresql://bob@db/o"):
        assert mask_url(plain) == plain
    text = "storage mysql://a:b@h/d failed; tracking https://u:v@mlflow.example:443/ too"
    assert (
        mask_urls(text)
        == "storage mysql://a:***@h/d failed; tracking https://u:***@mlflow.example:443/ too"
    )
    # the deploy hint of `pk8opt sweeps show` repeats the stores as flags
    assert mask_urls(
        " --storage postgresql://pk8:s3cret@db:5432/x --tracking-uri http://h:5000"
    ) == (" --storage postgresql://pk8:***@db:5432/x --tracking-uri http://h:5000")


def test_a_masked_url_is_known_as_one():
    assert is_masked(mask_url("postgresql://bob:hunter2@db/mlflow"))
    for url in ("postgresql://bob:hunter2@db/mlflow", "sqlite:///m.db", "http://h:5000"):
        assert not is_masked(url)


def test_os_errors_are_one_line_with_the_path_and_a_fix():
    import errno

    line = os_error_line(OSError(errno.ENOSPC, "No space left on device", "/x/out.parquet"))
    assert line.startswith("/x/out.parquet: No space left on device (the disk is full")
    assert "\n" not in line
    assert os_error_line(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")) == (
        "Connection refused"
    )
