"""The MLflow UI's command line never holds the store's password."""

from __future__ import annotations

from pk8opt.tracking import ui_command


def test_the_ui_command_line_leaves_the_password_out() -> None:
    cmd = ui_command("postgresql://bob:hunter2%40pw@db.local:5433/mlflow", 5000)
    line = " ".join(cmd)
    assert "hunter2" not in line
    store = cmd[cmd.index("--backend-store-uri") + 1]
    assert store.startswith("postgresql+") and store.endswith("://bob@db.local:5433/mlflow")
    plain = ui_command("postgresql://bob@db.local/mlflow", 5000)
    assert plain[plain.index("--backend-store-uri") + 1].endswith("://bob@db.local/mlflow")
