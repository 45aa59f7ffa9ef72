"""Results, run configuration from .env, and the backtest driver's contracts."""

from __future__ import annotations

import json
import math

import pytest

from pk8opt.backtest.replay import run_backtest
from pk8opt.backtest.results import AGGREGATE_KEYS, max_drawdown, sharpe, sortino
from pk8opt.errors import ConfigError
from pk8opt.live.keys import read_env_file
from pk8opt.recordings.synthetic import random_session
from pk8opt.trading.run_config import RunConfig


def test_config_env_round_trip_exactly() -> None:
    config = RunConfig.resolve(
        "balanced_arb",
        {"edge": 0.0123456789, "PM_PAPER_SEED": "7", "warmup_seconds": 0.1, "maker_flow": True},
    )
    env = config.to_env()
    assert env["PM_STRATEGY"] == "balanced_arb" and env["PM_ARB_EDGE"] == "0.0123456789"
    assert {"PM_PAPER_STARTING_CASH", "PM_WARMUP_SECONDS", "PM_TRADE_ENABLED"} <= env.keys()
    back = RunConfig.from_env(env)
    assert back == config and back.to_env() == env


def test_config_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="PM_ARB_EDGE"):
        RunConfig.from_env({"PM_STRATEGY": "balanced_arb", "PM_ARB_EDGE": "lots"})
    with pytest.raises(ConfigError, match="PM_PAPER_POST_LATENCY_MS"):
        RunConfig.from_env({"PM_PAPER_POST_LATENCY_MS": "-3"})
    with pytest.raises(ConfigError, match="unknown parameter 'edgy'"):
        RunConfig.resolve("balanced_arb", {"edgy": 1})
    with pytest.raises(ConfigError, match="unknown strategy"):
        RunConfig.from_env({"PM_STRATEGY": "nope"})
    assert RunConfig.from_env({}).strategy == "noop"


def test_read_env_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / ".env"
    path.write_text("# deployed\nPM_STRATEGY=fixed\nPM_FIXED_SIZE=12\nexport PM_PAPER_SEED='3'\n")
    env = read_env_file(path)
    assert env == {"PM_STRATEGY": "fixed", "PM_FIXED_SIZE": "12", "PM_PAPER_SEED": "3"}
    assert RunConfig.from_env(env).strategy_params["size"] == 12.0
    with pytest.raises(ConfigError, match="missing.env"):
        read_env_file(tmp_path / "missing.env")


def test_ratios() -> None:
    assert max_drawdown([0, 5, 2, 6, 1, 3]) == 5
    assert sharpe([1.0]) == 0.0 and sharpe([1.0, 1.0]) == 0.0
    assert sharpe([1.0, 3.0]) == pytest.approx(2.0 / math.sqrt(2.0))
    assert sortino([2.0, -1.0]) == pytest.approx(0.5 / math.sqrt(0.5))
    assert sortino([1.0, 2.0]) == 0.0


def test_unknown_resolution_is_skipped_and_reported() -> None:
    sessions = [
        random_session(1, n_frames=1500),
        random_session(2, n_frames=1500, outcome="unknown"),
    ]
    seen: list[int] = []
    result = run_backtest(sessions, RunConfig("fixed"), on_session=lambda i, r: seen.append(i))
    assert seen == [0] and len(result.sessions) == 1
    assert result.skipped == [(sessions[1].slug, "resolution: not recorded")]
    assert result.aggregate["sessions"] == 1


def test_aggregate_keys_and_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sessions = [random_session(s, n_frames=2000) for s in (1, 2)]
    config = RunConfig.resolve("balanced_arb", {"edge": 0.0})
    log = tmp_path / "events.jsonl"
    result = run_backtest(sessions, config, event_log=log)
    agg = result.aggregate
    assert set(AGGREGATE_KEYS) <= agg.keys()
    assert {k for k in agg if k.startswith("gate_")} == {
        f"gate_{g}"
        for g in (
            "ZONE",
            "BOOK",
            "CROSSED",
            "SPREAD",
            "CAP",
            "IMBALANCE",
            "EDGE",
            "PRICE",
            "EXPOSURE",
        )
    }
    assert agg["pnl_usdc"] == pytest.approx(sum(s.pnl_usdc for s in result.sessions), abs=1e-6)
    assert json.loads(result.to_json())["aggregate"] == agg
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    events = [e["event"] for e in lines]
    assert {"paper_order_submit", "paper_order_open", "paper_settlement"} <= set(events)
    # maker rebates: the estimate of every maker fill, apart from the P&L
    fills = [e for e in lines if e["event"] == "paper_fill"]
    makers = [e for e in fills if e["liquidity"] == "maker"]
    assert makers and agg["rebate_est_usdc"] > 0.0
    assert agg["rebate_est_usdc"] == pytest.approx(sum(e["rebate_est"] for e in fills), abs=1e-6)
    assert all(e["rebate_est"] == 0.0 for e in fills if e["liquidity"] == "taker")
    assert agg["maker_volume_usdc"] == pytest.approx(
        sum(e["qty"] * e["price"] for e in makers), abs=1e-6
    )
    assert agg["pnl_with_rebates_usdc"] == pytest.approx(
        agg["pnl_usdc"] + agg["rebate_est_usdc"], abs=1e-6
    )
    ts, vs = result.equity_curve()
    assert len(ts) == len(vs) > 2 and ts == sorted(ts)
    assert vs[-1] == pytest.approx(agg["pnl_usdc"], abs=1e-6)


def test_on_session_exceptions_propagate() -> None:
    class Pruned(Exception):
        pass

    def stop(i: int, r: object) -> None:
        raise Pruned

    with pytest.raises(Pruned):
        run_backtest([random_session(1, n_frames=500)], RunConfig("noop"), on_session=stop)


def test_plot_equity(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pk8opt.backtest.plots import plot_equity

    result = run_backtest([random_session(1, n_frames=1000)], RunConfig.resolve("fixed", {}))
    out = plot_equity(result, tmp_path / "eq.png")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_equity_draws_each_symbol_and_the_drawdown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from support.paths import SAMPLE

    from pk8opt.backtest.plots import plot_equity
    from pk8opt.recordings.load import load_sessions

    folders = [SAMPLE / f"{sym}-updown-15m-1791986400" for sym in ("btc", "eth")]
    result = run_backtest(load_sessions(folders), RunConfig.resolve("fixed", {}))
    by_symbol = result.equity_by_symbol()
    total = result.equity_curve()
    assert list(by_symbol) == ["BTC", "ETH"]
    # the symbols' curves add up to the portfolio's last value
    assert sum(v[-1] for _, v in by_symbol.values()) == pytest.approx(total[1][-1])
    made = []
    real_savefig = plt.Figure.savefig

    def keep(fig, *a, **k):  # type: ignore[no-untyped-def]
        made.append(fig)
        return real_savefig(fig, *a, **k)

    plt.Figure.savefig = keep  # type: ignore[method-assign]
    try:
        plot_equity(result, tmp_path / "eq.png")
    finally:
        plt.Figure.savefig = real_savefig  # type: ignore[method-assign]
    (fig,) = made
    top, below = fig.axes[:2]
    assert below.get_ylabel() == "drawdown (USDC)" and "UTC" in below.get_xlabel()
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert labels[0] == "all symbols" and labels[1:] == (
        list(by_symbol) if len(by_symbol) > 1 else []
    )
    assert all(y <= 1e-9 for y in below.collections[0].get_paths()[0].vertices[:, 1])
