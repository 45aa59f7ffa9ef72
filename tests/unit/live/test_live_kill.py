"""The kill key (`k`) and SIGTERM: quoting stops, every order is cancelled, the run ends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pk8opt.live.dashboard import DashboardState, controls_text, render
from pk8opt.live.runner import LiveOptions, LiveRunner
from pk8opt.live.settings import settings_from_env


def runner(tmp_path: Path, **env: str) -> LiveRunner:
    settings = settings_from_env({"PM_STRATEGY": "noop", **env}, ".env")
    return LiveRunner(settings, LiveOptions(headless=True, log_dir=tmp_path, out=lambda _: None))


def test_the_kill_key_pauses_and_stops(tmp_path: Path) -> None:
    r = runner(tmp_path)
    asyncio.run(r.step("k"))
    assert r.stopping and r.state.paused
    r.log.close()
    events = [
        json.loads(x) for x in (tmp_path / "live_console_events.jsonl").read_text().splitlines()
    ]
    assert [e["event"] for e in events] == ["quoting_paused", "kill"]
    assert events[-1]["reason"] == "key k"


def test_sigterm_is_the_kill_key(tmp_path: Path) -> None:
    r = runner(tmp_path)
    r.kill("SIGTERM")
    assert r.stopping and r.state.paused
    r.log.close()
    text = (tmp_path / "live_console_events.jsonl").read_text()
    assert '"reason":"SIGTERM"' in text.replace(" ", "")


def test_a_venue_run_names_its_mode_and_the_kill_key_on_screen() -> None:
    state = DashboardState(strategy="balanced_arb", mode="real", venue="REAL  USDC $1,000.00")
    assert "k kill" in controls_text(state)
    assert "k kill" not in controls_text(DashboardState(mode="paper"))
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(render(state, height=30))
    text = console.export_text()
    assert "(real)" in text and "REAL  USDC $1,000.00" in text and "k kill" in text
