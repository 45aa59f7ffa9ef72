"""`paired_shares`: min(Up, Down) shares held at settlement, the same figure in the
session result, the aggregate and the per-fill log."""

from __future__ import annotations

import json
from pathlib import Path

from pk8opt.backtest.replay import run_backtest
from pk8opt.recordings.load import load_sessions
from pk8opt.trading.run_config import RunConfig


def test_paired_shares_is_the_smaller_leg_held_at_settlement(sample_dir: Path, tmp_path: Path):
    sessions = load_sessions([sample_dir])[:3]
    config = RunConfig.from_env({"PM_STRATEGY": "balanced_arb"}, where="test")
    log = tmp_path / "fills.jsonl"
    result = run_backtest(sessions, config, metrics_log=log)
    last: dict[str, dict] = {}
    for line in log.read_text().splitlines():
        fill = json.loads(line)
        last[fill["slug"]] = fill  # the state after the session's last fill
    assert last, "the sample sessions trade"
    for s in result.sessions:
        m = s.metrics()
        assert "pairs" not in m
        fill = last.get(s.slug)
        held = (fill["pos_up"], fill["pos_down"]) if fill else (0.0, 0.0)
        assert m["paired_shares"] == min(held)
        assert m["unpaired_shares"] == abs(held[0] - held[1])
        if fill:
            assert fill["paired_shares"] == min(held)
    total = sum(s.paired_shares for s in result.sessions)
    assert total > 0
    assert result.aggregate["paired_shares"] == round(total, 9)
