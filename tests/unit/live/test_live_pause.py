"""Pausing a live window cancels its resting orders through the engine's cancel path,
and resuming quotes again."""

from __future__ import annotations

import json
from pathlib import Path

from pk8opt.live import EngineStepper, RunLog
from pk8opt.recordings.schema import ASK, BID, DOWN, NO_SIDE, UP, Kind
from pk8opt.recordings.synthetic import make_manifest, make_session
from pk8opt.trading.run_config import RunConfig

S = 1_000_000_000


def book_frame(t_ns: int, frame: int) -> list[tuple]:
    rows = []
    for tok in (UP, DOWN):
        rows.append((t_ns, frame, int(Kind.BOOK_RESET), tok, NO_SIDE, -1, 0.0))
        rows.append((t_ns, frame, int(Kind.LEVEL), tok, BID, 400, 100.0))
        rows.append((t_ns, frame, int(Kind.LEVEL), tok, ASK, 600, 100.0))
    return rows


def test_pause_cancels_resting_orders_and_resume_requotes(tmp_path: Path) -> None:
    manifest = make_manifest()
    t0 = manifest.window_start_s * S + 10 * S
    config = RunConfig.resolve(
        "fixed",
        {
            "warmup_seconds": 0,
            "PM_PAPER_POST_LATENCY_MS": 0,
            "PM_PAPER_CANCEL_REQ_LATENCY_MS": 0,
            "PM_PAPER_CANCEL_CLEAR_LATENCY_MS": 0,
        },
    )
    log = RunLog(tmp_path / "events.jsonl")
    stepper = EngineStepper(manifest, config, log, traded=True)

    def frame(k: int) -> None:
        stepper.on_frame(make_session(book_frame(t0 + k * S, k), manifest).events)

    frame(1)
    frame(2)  # the posts are open now
    resting = [o for o in stepper.engine.orders.values() if o.live]
    assert len(resting) == 2 and all(not o.cancel_requested for o in resting)

    stepper.set_paused(True)
    assert all(o.cancel_requested for o in resting)
    for k in range(3, 6):
        frame(k)
    assert not [o for o in stepper.engine.orders.values() if o.live]
    assert stepper.engine.account.reserved == 0.0
    n_orders = len(stepper.engine.orders)

    stepper.set_paused(False)
    frame(6)
    frame(7)
    assert len(stepper.engine.orders) == n_orders + 2
    assert len([o for o in stepper.engine.orders.values() if o.live]) == 2
    log.close()
    names = [json.loads(x)["event"] for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert names.count("paper_order_cancelled") == 2
    assert names.count("paper_order_submit") == 4


def test_portfolio_view_of_an_open_then_a_settled_window(tmp_path: Path) -> None:
    from pk8opt.engine.fees import maker_rebate_usdc
    from pk8opt.live.dashboard import combine_portfolios

    manifest = make_manifest(fee_rate=0.07)
    t0 = manifest.window_start_s * S + 10 * S
    config = RunConfig.resolve("fixed", {"warmup_seconds": 0, "PM_PAPER_POST_LATENCY_MS": 0})
    log = RunLog(tmp_path / "events.jsonl")
    stepper = EngineStepper(manifest, config, log, traded=True)
    stepper.on_frame(make_session(book_frame(t0 + S, 1), manifest).events)
    stepper.on_frame(make_session(book_frame(t0 + 2 * S, 2), manifest).events)
    # sellers hit both 0.45 bids: 5 shares each, filled as maker
    trades = [(t0 + 3 * S, 3, int(Kind.TRADE), tok, ASK, 450, 10.0) for tok in (UP, DOWN)]
    stepper.on_frame(make_session(trades, manifest).events)
    rebate = 2 * maker_rebate_usdc(5.0, 0.45, manifest.fee_schedule)
    assert rebate > 0.0
    open_view = stepper.portfolio_view()
    assert [(p.label, p.shares) for p in open_view.positions] == [
        ("BTC UP", 5.0),
        ("BTC DOWN", 5.0),
    ]
    assert open_view.realized_pnl == 0.0  # nothing is realized before the settlement
    assert abs(open_view.cash + open_view.reserved - (10_000 - 2 * 5 * 0.45)) < 1e-9
    assert abs(open_view.rebates_est - rebate) < 1e-12

    stepper.settle("Up", t0 + 4 * S)
    settled = stepper.portfolio_view()
    assert settled.positions == [] and settled.cash == 0.0 and settled.reserved == 0.0
    assert abs(settled.realized_pnl - (5 * 1.0 - 2 * 5 * 0.45)) < 1e-9
    both = combine_portfolios([settled, open_view])
    assert both.realized_pnl == settled.realized_pnl and len(both.positions) == 2
    assert abs(both.rebates_est - 2 * rebate) < 1e-12
    log.close()
