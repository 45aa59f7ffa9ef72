"""The compiled replay's maker flow: its search for the next arrival (from the last one
found) and the arrivals it keeps per session (`session._flows`) change no result."""

from __future__ import annotations

import numpy as np
import pytest

from pk8opt.backtest.compiled import session as compiled_session
from pk8opt.backtest.compiled.engine import next_flow
from pk8opt.backtest.compiled.layout import NEVER
from pk8opt.backtest.replay import run_session
from pk8opt.recordings.synthetic import random_session
from pk8opt.strategies import get_strategy
from pk8opt.trading.run_config import RunConfig


def test_next_flow_finds_the_first_arrival_after_t_from_any_index() -> None:
    rng = np.random.default_rng(4)
    for n in (0, 1, 2, 7, 300):
        ft = np.sort(rng.integers(0, 50, n)).astype(np.int64)  # with repeated times
        fz = rng.standard_normal(n)
        for t in range(-2, 53):
            want = int(np.searchsorted(ft, t, side="right"))
            for j in range(n + 2):
                nt, nz, nj = next_flow(ft, fz, t, j)
                assert nj == want
                assert (nt, nz) == ((ft[want], fz[want]) if want < n else (NEVER, 0.0))


def _result(session, config):  # type: ignore[no-untyped-def]
    r = run_session(session, get_strategy("balanced_arb")(**config.strategy_params), config)
    return r.to_dict(), r.equity_t, r.equity_v, r.fill_list


@pytest.fixture
def flows(monkeypatch: pytest.MonkeyPatch) -> dict:  # type: ignore[type-arg]
    kept: dict = {}  # type: ignore[type-arg]
    monkeypatch.setattr(compiled_session, "_flows", kept)
    monkeypatch.setattr(compiled_session, "_flows_bytes", [0])
    return kept


def _held(kept: dict) -> int:  # type: ignore[type-arg]
    return sum(a.nbytes for _, _, arrays in kept.values() for a in arrays)


def test_kept_arrivals_give_the_drawn_results(flows, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    session = random_session(11, n_frames=3000, feed_delay_ms=40.0)
    a = RunConfig.resolve("balanced_arb", {"edge": 0.0, "maker_flow": True, "flow_base": 3.0})
    b = RunConfig.resolve("balanced_arb", {"edge": 0.0, "maker_flow": True, "flow_base": 4.0})
    first = _result(session, a)
    assert len(flows) == 1 and _held(flows) == compiled_session._flows_bytes[0] > 0
    assert _result(session, a) == first  # read from `_flows`
    other = _result(session, b)
    assert other != first
    (seed, rate, _), = flows.values()  # fmt: skip
    assert rate == 4.0 and _held(flows) == compiled_session._flows_bytes[0]
    assert _result(session, a) == first  # drawn again
    monkeypatch.setattr(compiled_session, "_FLOWS_MAX_BYTES", 0)
    assert _result(session, b) == other  # nothing kept
    assert not flows and compiled_session._flows_bytes[0] == 0
    assert _result(session, b) == _result(session, b)
