"""join: one buy at the best bid of the chosen token, following it."""

from __future__ import annotations

import io
import json

import pytest
from support.strategies import ctx

from pk8opt.backtest.replay import run_session
from pk8opt.engine.eventlog import EventLog
from pk8opt.errors import ConfigError
from pk8opt.recordings.synthetic import random_session
from pk8opt.strategies import get_strategy
from pk8opt.trading.run_config import RunConfig


def test_quotes_the_best_bid_of_the_chosen_token() -> None:
    cls = get_strategy("join")
    q = cls(token="up", size=10.0).quote(ctx(by=0.41, bn=0.57))
    assert (q.up.px, q.up.q, q.down.px) == (0.41, 10.0, None)
    q = cls(token="down", size=7.0).quote(ctx(by=0.41, bn=0.57))
    assert (q.up.px, q.down.px, q.down.q) == (None, 0.57, 7.0)
    q = cls(token="both").quote(ctx(by=0.41, bn=None))
    assert q.up.px == 0.41 and q.down.px is None and q.down.why == "BOOK"
    with pytest.raises(ConfigError, match="not one of"):
        cls(token="sideways")


def _submits(token: str, requote_s: float) -> list[dict]:
    config = RunConfig.resolve(
        "join",
        {"token": token, "size": 10.0, "requote_min_ticks": 1, "min_requote_seconds": requote_s},
    )
    buf = io.StringIO()
    session = random_session(11, n_frames=4000)
    run_session(session, get_strategy("join")(**config.strategy_params), config, log=EventLog(buf))
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    return [e for e in events if e["event"] == "paper_order_submit"]


def test_follows_the_bid_no_faster_than_the_requote_limit() -> None:
    subs = _submits("up", 2.0)
    assert len(subs) > 20
    assert {e["outcome"] for e in subs} == {"Up"} and {e["size"] for e in subs} == {10.0}
    gaps = [b["ts_ns"] - a["ts_ns"] for a, b in zip(subs, subs[1:], strict=False)]
    assert min(gaps) >= 2_000_000_000
    assert len({e["price"] for e in subs}) > 3  # it moved with the bid
    both = _submits("both", 1.0)
    assert {e["outcome"] for e in both} == {"Up", "Down"}
