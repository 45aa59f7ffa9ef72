"""The live runner against `pk8opt serve`, as a trader uses the screen: a pause holds
across a window rollover, and stopping prints the per-window summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.live import (
    duration_for,
    run_live,
    served,  # noqa: F401  (a fixture)
)


@pytest.mark.slow
def test_a_pause_holds_across_the_rollover_until_resumed(tmp_path: Path, served) -> None:  # noqa: F811
    env, manifests = served
    proc, events = run_live(tmp_path, env, duration_for(manifests), "--paused")
    names = [e["event"] for e in events]
    discovered = [e["slug"] for e in events if e["event"] == "market_discovered"]
    assert discovered == [m.slug for m in manifests]  # both windows, the rollover included
    assert "paper_order_submit" not in names and "paper_fill" not in names
    resolved = [e["slug"] for e in events if e["event"] == "market_resolved"]
    assert resolved == [m.slug for m in manifests]
    # the closing summary goes to stderr (stdout stays one line per event)
    assert "stopped:" in proc.stderr and "Quoting was paused" in proc.stderr
    for m in manifests:
        row = next(line for line in proc.stderr.splitlines() if m.slug in line)
        assert "settled" in row and "+$0.00" in row


@pytest.mark.slow
def test_stopping_prints_pnl_fills_and_fees_per_window(tmp_path: Path, served) -> None:  # noqa: F811
    env, manifests = served
    proc, events = run_live(tmp_path, env, duration_for(manifests))
    settled = {e["slug"]: e for e in events if e["event"] == "paper_settlement"}
    fills = {m.slug: 0 for m in manifests}
    for e in events:
        if e["event"] == "paper_fill":
            fills[e["slug"]] += 1
    lines = proc.stderr.splitlines()
    for m in manifests:
        row = next(line for line in lines if m.slug in line).split()
        assert row[2] == "settled" and int(row[3]) == fills[m.slug]
        pnl = float(row[-1].replace("$", "").replace(",", ""))
        assert abs(pnl - (settled[m.slug]["cash"] - 10_000.0)) < 0.01
    total = next(line for line in lines if line.strip().startswith("Total")).split()
    assert int(total[3]) == sum(fills.values())
