"""The compiled replay makes the arguments that follow from a run's settings once per
backtest and keeps the last ones: runs that change settings, strategy parameters or
options in between still each get their own (the Python engine is the reference)."""

from __future__ import annotations

import io

from pk8opt.backtest.replay import run_backtest, run_session
from pk8opt.engine.eventlog import EventLog
from pk8opt.recordings.synthetic import random_session
from pk8opt.strategies import get_strategy
from pk8opt.trading.run_config import RunConfig


def _run(session, config, mode, params=None, log=False):  # type: ignore[no-untyped-def]
    strategy = get_strategy(config.strategy)(**(params or config.strategy_params))
    buf = io.StringIO()
    r = run_session(session, strategy, config, log=EventLog(buf) if log else None, mode=mode)
    d = r.to_dict()
    d.pop("strategy_calls")  # the fast driver skips calls the others make: same answers
    return d, r.equity_t, r.equity_v, r.fill_list, buf.getvalue()


def test_runs_alternating_settings_each_get_their_own() -> None:
    session = random_session(11, n_frames=3000, feed_delay_ms=40.0)
    a = RunConfig.resolve("balanced_arb", {"edge": 0.0})
    b = RunConfig.resolve(
        "balanced_arb",
        {"edge": 0.0, "maker_flow": True, "post_latency_ms": 400.0, "feed_clock": "local"},
    )
    wide = dict(a.strategy_params, edge=0.02)
    runs = [(a, None, False), (b, None, False), (a, wide, False), (a, None, True), (a, None, False)]
    refs = {}
    for config, params, log in runs:
        key = (id(config), str(params), log)
        if key not in refs:
            refs[key] = _run(session, config, "fast", params, log)
    distinct = {repr(r[0]) for r in refs.values()}
    assert len(distinct) >= 3  # the settings do change the results
    for config, params, log in runs:
        got = _run(session, config, "compiled", params, log)
        assert got == refs[(id(config), str(params), log)]


def test_a_backtest_after_another_one_is_unchanged() -> None:
    sessions = [random_session(s, n_frames=2000) for s in (12, 13)]
    a = RunConfig.resolve("balanced_arb", {"edge": 0.0})
    b = RunConfig.resolve("join", {"token": "both", "maker_flow": True})
    first = run_backtest(sessions, a).to_dict()
    run_backtest(sessions, b)
    assert run_backtest(sessions, a).to_dict() == first
    assert run_backtest(sessions, a, mode="fast").to_dict() == first
