"""One contract, run for every registered strategy."""

from __future__ import annotations

import itertools

import pytest
from support.strategies import ctx

from pk8opt.backtest.replay import run_backtest
from pk8opt.errors import ConfigError
from pk8opt.params import ParamSet
from pk8opt.recordings.synthetic import random_session
from pk8opt.strategies import (
    STRATEGIES,
    Desired,
    Strategy,
    StrategyContext,
    StrategyQuote,
    get_strategy,
)
from pk8opt.trading.run_config import RunConfig

CONTEXTS = [
    ctx(),
    ctx(by=None, ay=None),
    ctx(qy=30.0, cost_y=0.45, current_exposure=13.5),
    ctx(qn=500.0, cost_n=0.4, current_exposure=200.0),
    ctx(tau_seconds=10.0),
    ctx(tau_seconds=-5.0),
    ctx(by=0.50, ay=0.50),
    ctx(by=0.05, ay=0.30, bn=0.70, an=0.95),
    ctx(tick_up=0.001, tick_dn=0.001, by=0.981, ay=0.983, bn=0.017, an=0.019),
]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_contract(name: str) -> None:
    cls = get_strategy(name)
    assert cls.name == name and isinstance(cls.params, ParamSet)
    envs = [p.env for p in cls.params]
    assert all(e.startswith("PM_") for e in envs)
    for p in cls.params:
        assert p.help and (p.low is None or p.high is None or p.low <= p.default <= p.high)
    RunConfig.param_sets(name)  # no clash with engine/trader names
    strat = cls(**cls.params.defaults())
    for c in CONTEXTS:
        q = strat.quote(c)
        assert isinstance(q, StrategyQuote)
        for d, tick in ((q.up, c.tick_up), (q.down, c.tick_dn)):
            assert isinstance(d, Desired) and isinstance(d.why, str)
            if d.px is not None:
                assert tick <= d.px <= 1 - tick
                assert d.q >= c.min_order_size
                assert abs(round(d.px / tick) * tick - d.px) < 1e-9
            elif d.why.isupper():
                assert d.why in cls.gates
        if cls.pure:  # same inputs, same answer
            assert strat.quote(c) == q
    # it runs end to end and its gates appear in the results
    result = run_backtest([random_session(7, n_frames=3000)], RunConfig(name))
    for g in cls.gates:
        assert f"gate_{g}" in result.aggregate


def test_get_strategy_by_dotted_path() -> None:
    assert get_strategy("pk8opt.strategies.fixed:FixedStrategy") is STRATEGIES["fixed"]
    assert get_strategy("pk8opt.strategies.fixed.FixedStrategy") is STRATEGIES["fixed"]
    with pytest.raises(ConfigError, match="unknown strategy"):
        get_strategy("nope")
    with pytest.raises(ConfigError, match="cannot import"):
        get_strategy("no_such_pkg.mod:X")


class UserStrategy(Strategy):
    name = "user"

    def quote(self, ctx: StrategyContext) -> StrategyQuote:
        return StrategyQuote(Desired(ctx.by, 5.0, "join"), Desired(None))


def test_user_strategy_runs_without_shortcut() -> None:
    config = RunConfig(f"{__name__}:UserStrategy")
    result = run_backtest([random_session(8, n_frames=2000)], config)
    assert result.sessions[0].strategy_calls > 1000


def test_balanced_arb_gates() -> None:
    s = get_strategy("balanced_arb")(edge=0.02, max_imbalance=10.0)
    assert s.quote(ctx(tau_seconds=30.0)).up.why == "ZONE"
    assert s.quote(ctx(by=None)).down.why == "BOOK"
    assert s.quote(ctx(by=0.49, bn=0.50)).up.why == "EDGE"  # 0.49 + 0.50 > 0.98
    q = s.quote(ctx(by=0.45, ay=0.47, bn=0.45, an=0.47))
    assert q.up.px == 0.45 and q.down.px == 0.45
    q = s.quote(ctx(by=0.45, ay=0.47, bn=0.45, an=0.47, qy=20.0, cost_y=0.45))
    assert q.up.why == "IMBALANCE" and q.down.px == 0.46  # lagging leg bids a tick more
    q = s.quote(ctx(by=0.45, ay=0.47, bn=0.52, an=0.54, qy=5.0, cost_y=0.50))
    assert q.down.px is not None and q.down.px <= 1 - 0.02 - 0.50 + 1e-9
    assert s.quote(ctx(ay=0.60)).up.why == "SPREAD"
    assert s.quote(ctx(by=0.5, ay=0.5)).up.why == "CROSSED"


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(sorted(STRATEGIES), 2)))
def test_env_vars_distinct_between_strategies(a: str, b: str) -> None:
    ea = {p.env for p in get_strategy(a).params}
    eb = {p.env for p in get_strategy(b).params}
    assert not ea & eb
