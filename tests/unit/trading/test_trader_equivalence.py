"""The fast replay and the event-by-event drive, with and without the strategy-call
shortcut, give identical results (metrics, fills, the event log bytes)."""

from __future__ import annotations

import pytest
from support.trader_cases import CASES

from pk8opt.backtest.replay import run_backtest, run_session
from pk8opt.recordings.synthetic import random_session
from pk8opt.strategies import get_strategy
from pk8opt.trading.run_config import RunConfig


@pytest.fixture(scope="module")
def sessions():  # type: ignore[no-untyped-def]
    # venue stamps 9 to 81 ms before receipt, out of order at times, as on a real feed
    return [random_session(s, n_frames=6000, feed_delay_ms=45.0) for s in (3, 4)]


def _summary(session, strategy, config, mode, skip, tmp_path, tag):  # type: ignore[no-untyped-def]
    from pk8opt.engine.eventlog import EventLog

    path = tmp_path / f"{tag}.jsonl"
    with open(path, "w") as fh:
        r = run_session(
            session,
            get_strategy(strategy)(**config.strategy_params),
            config,
            log=EventLog(fh),
            mode=mode,
            skip_unchanged=skip,
        )
    d = r.to_dict()
    d.pop("strategy_calls")
    return d, r.equity_t, r.equity_v, path.read_bytes()


@pytest.mark.parametrize(("strategy", "overrides"), CASES)
def test_fast_equals_event_by_event_equals_no_shortcut(sessions, strategy, overrides, tmp_path):  # type: ignore[no-untyped-def]
    config = RunConfig.resolve(strategy, overrides)
    for i, session in enumerate(sessions):
        fast = _summary(session, strategy, config, "fast", True, tmp_path, f"f{i}")
        events = _summary(session, strategy, config, "events", True, tmp_path, f"e{i}")
        every = _summary(session, strategy, config, "events", False, tmp_path, f"n{i}")
        assert fast[0] == events[0] == every[0]
        assert fast[1:] == events[1:] == every[1:]
    assert fast[0]["orders"] > 0


def test_shortcut_skips_strategy_calls(sessions) -> None:  # type: ignore[no-untyped-def]
    config = RunConfig.resolve("balanced_arb", {"edge": 0.0})
    s = sessions[0]
    strat = get_strategy("balanced_arb")
    fast = run_session(s, strat(**config.strategy_params), config, mode="fast")
    every = run_session(
        s, strat(**config.strategy_params), config, mode="events", skip_unchanged=False
    )
    assert fast.strategy_calls < every.strategy_calls


def test_backtest_is_deterministic(sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = RunConfig.resolve("balanced_arb", {"edge": 0.0, "maker_flow": True})
    a = run_backtest(sessions, config, event_log=tmp_path / "a.jsonl").to_json()
    b = run_backtest(sessions, config, event_log=tmp_path / "b.jsonl").to_json()
    assert a == b
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_fast_and_events_give_the_same_fills_reasons_and_markouts(sessions) -> None:  # type: ignore[no-untyped-def]
    config = RunConfig.resolve(
        "balanced_arb", {"edge": 0.0, "maker_flow": True, "response_latency_ms": 60.0}
    )
    strat = get_strategy("balanced_arb")
    for s in sessions:
        fast = run_session(s, strat(**config.strategy_params), config, mode="fast")
        events = run_session(s, strat(**config.strategy_params), config, mode="events")
        assert fast.fill_list == events.fill_list
        assert len(fast.fill_list) == fast.fills > 0
        assert all(m is not None for f in fast.fill_list for m in f.markouts)
