"""A trial's run, opened by a link that names no mode, shows in the MLflow UI's
model-training view, not its GenAI one. A real `pk8opt ui` on loopback, a real
headless Chromium (`make browser` installs it; CI requires it)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pk8opt.tracking import Tracker, TrialRecord

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent / "pk8opt"
CHROMIUM = shutil.which("chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(600)
def test_a_link_to_a_trial_opens_the_model_training_view(tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("PK8OPT_REQUIRE_BROWSER"):
            pytest.fail("no chromium, and PK8OPT_REQUIRE_BROWSER is set (make browser installs it)")
        pytest.skip("no chromium (make browser installs it)")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "my-sweep")
    parent = tracker.start_sweep("my-sweep", "journal", params={}, tags={}, texts={})
    rec = TrialRecord(0, "COMPLETE", {"edge": 0.1}, {"objective": 1.5})
    run_id = tracker.log_trials(parent, "my-sweep", [rec])[0]
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN), "ui", "--tracking-uri", uri, "--port", str(port), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("MLflow UI: ")  # it answers
        link = f"http://127.0.0.1:{port}/#/experiments/{tracker.experiment_id}/runs/{run_id}"
        dom = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'profile'}",  # a browser that chose no mode
                "--virtual-time-budget=30000",  # until the page has rendered
                "--dump-dom",
                link,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", dom)))
        assert "trial-0" in text and "Model metrics" in text  # the run's page rendered
        assert "Model registry" in text  # the model-training sidebar
        assert "Judges" not in text and "Evaluation runs" not in text  # not the GenAI one
    finally:
        proc.terminate()
        proc.wait(timeout=120)
