"""The compiled replay gives the Python engine's results and event log, byte for byte:
every built-in strategy, maker flow on and off, both feed clocks, response latency,
on synthetic sessions and on the shipped sample."""

from __future__ import annotations

import io
import math
import random

import pytest
from numba import njit
from support.paths import SAMPLE
from support.trader_cases import CASES

from pk8opt.backtest.compiled import quote_function
from pk8opt.backtest.compiled.context import C_BY, C_QY, OUT_PX, OUT_Q, OUT_WHY, OUT_WIDTH
from pk8opt.backtest.compiled.jit import nopython_noref
from pk8opt.backtest.compiled.numeric import round5
from pk8opt.backtest.replay import run_backtest, run_session
from pk8opt.engine.eventlog import EventLog
from pk8opt.errors import ConfigError
from pk8opt.params import Param, ParamSet
from pk8opt.recordings.synthetic import random_session
from pk8opt.strategies import STRATEGIES, get_strategy
from pk8opt.strategies.base import Desired, Strategy, StrategyContext, StrategyQuote
from pk8opt.trading.run_config import RunConfig

MORE = [
    ("join", {"token": "both", "requote_min_ticks": 1}),
    ("join", {"token": "down", "maker_flow": True, "take_depletes": False}),
    ("noop", {}),
    ("fixed", {"up_price": 0.55, "down_price": 0.0, "size": 50.0, "take_depletes": False}),
    ("balanced_arb", {"edge": 0.0, "trade_enabled": False}),
    ("balanced_arb", {"edge": 0.01, "lag_boost_ticks": 3, "warmup_seconds": 0.0}),
]


@pytest.fixture(scope="module")
def sessions():  # type: ignore[no-untyped-def]
    return [random_session(s, n_frames=4000, feed_delay_ms=45.0) for s in (5, 6)]


def _run(session, strategy, config, mode):  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    r = run_session(
        session,
        get_strategy(strategy)(**config.strategy_params),
        config,
        log=EventLog(buf),
        mode=mode,
    )
    d = r.to_dict()
    d.pop("strategy_calls")  # the fast driver skips calls the others make: same answers
    return d, r.equity_t, r.equity_v, r.fill_list, buf.getvalue()


@pytest.mark.parametrize(("strategy", "overrides"), CASES + MORE)
def test_compiled_equals_python(sessions, strategy, overrides) -> None:  # type: ignore[no-untyped-def]
    config = RunConfig.resolve(strategy, overrides)
    for session in sessions:
        compiled = _run(session, strategy, config, "compiled")
        events = _run(session, strategy, config, "events")
        assert compiled[0] == events[0]
        assert compiled[1:4] == events[1:4]
        assert compiled[4] == events[4]  # the event log, byte for byte


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="no sample recordings")
@pytest.mark.parametrize(
    ("strategy", "overrides"),
    [
        ("balanced_arb", {}),
        ("balanced_arb", {"edge": 0.0, "maker_flow": True}),
        ("join", {"token": "both", "requote_min_ticks": 1}),
        ("fixed", {"maker_flow": True}),
    ],
)
def test_compiled_equals_python_on_the_sample(strategy, overrides) -> None:  # type: ignore[no-untyped-def]
    from pk8opt.recordings.load import load_sessions

    sessions = load_sessions([SAMPLE])[:6]
    config = RunConfig.resolve(strategy, overrides)
    compiled = run_backtest(sessions, config, mode="compiled")
    fast = run_backtest(sessions, config, mode="fast")
    assert len(compiled.sessions) == len(fast.sessions) > 0
    for a, b in zip(compiled.sessions, fast.sessions, strict=True):
        da, db = a.to_dict(), b.to_dict()
        da.pop("strategy_calls")
        db.pop("strategy_calls")
        assert da == db
        assert (a.equity_t, a.equity_v, a.fill_list) == (b.equity_t, b.equity_v, b.fill_list)
    assert sum(s.fills for s in fast.sessions) > 0


def test_round5_is_pythons_round() -> None:
    rng = random.Random(7)
    values = [rng.random() * rng.choice([1e-6, 1e-3, 1.0, 50.0]) for _ in range(20000)]
    for _ in range(20000):  # halves at the 6th decimal and their neighbours
        k = rng.randint(0, 10**8)
        half = (k + 0.5) / 1e5
        values += [half, half * (1 + 1e-16), half * (1 - 1e-16)]
    values += [0.0, 0.000005, 0.000015, 0.125, 2.5e-6, 1.000005]
    assert [round5(v) for v in values] == [round(v, 5) for v in values]


def test_every_built_in_strategy_is_compiled() -> None:
    for name, cls in STRATEGIES.items():
        assert quote_function(cls) is not None, name
        assert cls.whys, name
        assert set(cls.gates) <= set(cls.whys), name


class _PlainPython(Strategy):
    name = "plain"
    pure = True

    def quote(self, ctx: StrategyContext) -> StrategyQuote:
        d = Desired(ctx.by, 5.0, "plain") if ctx.by is not None else Desired(None)
        return StrategyQuote(d, Desired(None))


def test_a_python_strategy_runs_on_the_python_engine(sessions, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(STRATEGIES, "plain", _PlainPython)
    config = RunConfig("plain")
    auto = run_session(sessions[0], _PlainPython(), config)
    fast = run_session(sessions[0], _PlainPython(), config, mode="fast")
    assert auto.to_dict() == fast.to_dict()
    assert auto.orders > 0
    with pytest.raises(ConfigError, match="no compiled quote"):
        run_session(sessions[0], _PlainPython(), config, mode="compiled")


def test_pk8opt_compiled_0_turns_it_off(sessions, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = RunConfig.resolve("balanced_arb", {"edge": 0.0})
    strategy = get_strategy("balanced_arb")
    monkeypatch.setenv("PK8OPT_COMPILED", "0")
    assert quote_function(strategy) is None
    off = run_session(sessions[0], strategy(**config.strategy_params), config)
    fast = run_session(sessions[0], strategy(**config.strategy_params), config, mode="fast")
    assert off.strategy_calls == fast.strategy_calls  # the Python fast driver ran
    monkeypatch.delenv("PK8OPT_COMPILED")
    on = run_session(sessions[0], strategy(**config.strategy_params), config)
    assert on.to_dict() | {"strategy_calls": 0} == off.to_dict() | {"strategy_calls": 0}


# A strategy of the user's own with a compiled twin (docs/strategies.md "Compiled
# strategies"): the quote is found by "module:function" like any strategy.
@nopython_noref
def _user_quote(p, ctx, out):  # type: ignore[no-untyped-def]
    by = ctx[C_BY]
    if by != by or ctx[C_QY] >= p[1]:  # no best bid (NaN), or enough held
        out[OUT_PX], out[OUT_Q], out[OUT_WHY] = math.nan, 0.0, 1  # "WAIT"
    else:
        out[OUT_PX], out[OUT_Q], out[OUT_WHY] = by, p[0], 2  # "bid"
    down = OUT_WIDTH  # no Down order: "off"
    out[down + OUT_PX], out[down + OUT_Q], out[down + OUT_WHY] = math.nan, 0.0, 0


@njit(cache=False)
def _user_quote_counted(p, ctx, out):  # type: ignore[no-untyped-def]
    _user_quote(p, ctx, out)


class _UserBid(Strategy):
    name = "user_bid"
    pure = True
    gates = ("WAIT",)
    whys = ("off", "WAIT", "bid")
    compiled = "test_compiled_replay:_user_quote"
    params = ParamSet(
        [
            Param("size", float, 5.0, "PM_USER_SIZE", "Shares", low=1.0, high=100.0),
            Param("most", float, 40.0, "PM_USER_MOST", "Most held", low=0.0, high=1e4),
        ]
    )
    size: float
    most: float

    def compiled_params(self) -> list[float]:
        return [self.size, self.most]

    def quote(self, ctx: StrategyContext) -> StrategyQuote:
        off = Desired(None, 0.0, "off")
        if ctx.by is None or ctx.qy >= self.most:
            return StrategyQuote(Desired(None, 0.0, "WAIT"), off)
        return StrategyQuote(Desired(ctx.by, self.size, "bid"), off)


class _UserBidCounted(_UserBid):
    compiled = "test_compiled_replay:_user_quote_counted"  # plain njit, counting on


@pytest.mark.parametrize("cls", [_UserBid, _UserBidCounted])
def test_a_users_compiled_strategy(sessions, monkeypatch, cls) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(STRATEGIES, "user_bid", cls)
    config = RunConfig.resolve("user_bid", {"maker_flow": True})
    assert quote_function(cls) is not None
    for session in sessions:
        compiled = _run(session, "user_bid", config, "compiled")
        events = _run(session, "user_bid", config, "events")
        assert compiled == events
        assert compiled[0]["orders"] > 0 and compiled[0]["gate_WAIT"] > 0


# Property check: random settings of every built-in strategy, the engine and the trade
# loop (drawn near the defaults, where trading happens), on random sessions.
_NEAR = {
    "post_latency_ms": (0.0, 300.0),
    "cancel_req_latency_ms": (0.0, 300.0),
    "cancel_clear_latency_ms": (0.0, 300.0),
    "response_latency_ms": (0.0, 300.0),
    "feed_latency_ms": (0.0, 400.0),
    "flow_base": (0.0, 8.0),
    "flow_depth_scale": (0.0, 1.0),
    "flow_noise": (0.0, 1.5),
    "queue_ahead_frac": (0.0, 1.0),
    "queue_add_ahead_frac": (0.0, 1.0),
    "warmup_seconds": (0.0, 10.0),
    "min_requote_seconds": (0.0, 3.0),
    "requote_min_ticks": (0, 4),
    "requote_max_age_seconds": (0.0, 20.0),
    "edge": (-0.01, 0.05),
    "size": (5.0, 60.0),
    "max_inventory": (10.0, 400.0),
    "max_imbalance": (5.0, 60.0),
    "max_exposure_usdc": (50.0, 2000.0),
    "stop_before_end_seconds": (0.0, 120.0),
    "start_after_seconds": (0.0, 60.0),
    "join_ticks": (-3, 2),
    "lag_boost_ticks": (0, 3),
    "up_price": (0.0, 0.7),
    "down_price": (0.0, 0.7),
}
_FIXED = {"starting_cash_usdc", "seed", "trade_enabled"}


def _draw(rng: random.Random, strategy: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for ps in RunConfig.param_sets(strategy):
        for p in ps:
            if p.name in _FIXED:
                continue
            if p.choices:
                values[p.name] = rng.choice(p.choices)
            elif p.type is bool:
                values[p.name] = rng.random() < 0.5
            elif p.name in _NEAR:
                lo, hi = _NEAR[p.name]
                v = rng.uniform(lo, hi) if p.type is float else rng.randint(int(lo), int(hi))
                values[p.name] = max(v, p.low) if p.low is not None else v
    return values


@pytest.mark.parametrize("seed", range(16))
def test_compiled_equals_python_for_random_settings(seed: int) -> None:
    rng = random.Random(seed)
    strategy = ["balanced_arb", "balanced_arb", "fixed", "join"][seed % 4]
    config = RunConfig.resolve(strategy, _draw(rng, strategy))
    session = random_session(100 + seed, n_frames=2500, feed_delay_ms=rng.uniform(0, 90))
    compiled = _run(session, strategy, config, "compiled")
    events = _run(session, strategy, config, "events")
    assert compiled == events, config
