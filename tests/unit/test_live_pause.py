"""Pausing a live window cancels its resting orders through the engine's cancel path,
and resuming quotes again."""

from __future__ import annotations

import json
from pathlib import Path

from pk8opt.engine.synthetic import make_manifest, make_session
from pk8opt.live import EngineStepper, EventLog
from pk8opt.recordings.schema import ASK, BID, DOWN, NO_SIDE, UP, Kind
from pk8opt.replay import RunConfig

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
    log = EventLog(tmp_path / "events.jsonl")
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
