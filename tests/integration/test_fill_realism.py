"""The sample sessions under the fill-realism settings.

With the feed on the local clock, no response latency and takes that leave the book as
it is, the engine is the one before those settings existed: its results on the sample
are pinned here (computed by that engine). The defaults move them, each in the
direction the setting is meant to. They are the sample's first five windows (20
sessions), the sample the figures were pinned on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.paths import SAMPLE_FIRST_FIVE_END_S

from pk8opt.backtest.replay import run_backtest
from pk8opt.trading.run_config import RunConfig

BEFORE = {"feed_clock": "local", "response_latency_ms": 0.0, "take_depletes": False}
# strategy, overrides -> pnl_usdc, fills, orders, fees_usdc of the engine before
PINNED = [
    ("balanced_arb", {}, -36.31263, 370, 3401, 3.40263),
    ("balanced_arb", {"edge": 0.0}, -65.6797, 456, 1597, 2.0797),
    ("balanced_arb", {"edge": 0.0, "maker_flow": True}, -33.049181206, 541, 1218, 2.25729),
    ("fixed", {"up_price": 0.6, "down_price": 0.6, "size": 20.0}, -99.11587, 201, 200, 69.58777),
    ("fixed", {"up_price": 0.45, "down_price": 0.45, "size": 10.0}, -76.41998, 342, 346, 39.75998),
]


@pytest.fixture(scope="module")
def samples(sample_dir: Path):  # type: ignore[no-untyped-def]
    if not sample_dir.is_dir():
        pytest.skip("no recordings/sample")
    from pk8opt.recordings.load import load_sessions

    return [
        s
        for s in load_sessions([sample_dir])
        if s.manifest.resolution.outcome != "unknown"
        and s.manifest.window_start_s < SAMPLE_FIRST_FIVE_END_S  # the windows pinned here
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "overrides", "pnl", "fills", "orders", "fees"), PINNED)
def test_local_clock_no_response_latency_gives_the_results_of_before(  # type: ignore[no-untyped-def]
    samples, strategy, overrides, pnl, fills, orders, fees
) -> None:
    agg = run_backtest(samples, RunConfig.resolve(strategy, {**overrides, **BEFORE})).aggregate
    assert (agg["pnl_usdc"], agg["fills"], agg["orders"], agg["fees_usdc"]) == (
        pnl,
        fills,
        orders,
        fees,
    )


@pytest.mark.slow
def test_each_setting_moves_the_results_of_a_quoting_strategy(samples) -> None:  # type: ignore[no-untyped-def]
    def run(**over: object) -> dict[str, float]:
        return run_backtest(
            samples, RunConfig.resolve("balanced_arb", {**BEFORE, **over})
        ).aggregate

    before = run()
    # deciding one feed delay late on the venue's clock: staler quotes, more taken
    venue = run(feed_clock="venue", feed_latency_ms=43.0)
    assert venue["fees_usdc"] > before["fees_usdc"] and venue["pnl_usdc"] < before["pnl_usdc"]
    # hearing of fills late: reposts on stale positions
    late = run(response_latency_ms=43.0)
    assert late["orders"] != before["orders"] and late["pnl_usdc"] < before["pnl_usdc"]
    # what filled the orders adds up, and quoting here pays for adverse selection
    assert (
        sum(before[f"fills_{r}"] for r in ("queue", "trade_through", "book_through"))
        + before["fills_taker"]
        + before["fills_maker_flow"]
        == before["fills"]
    )
    assert before["markout_10s"] < 0 and 0 < before["fills_after_cancel"] < before["fills"]
