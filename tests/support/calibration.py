"""A planted truth for `pk8opt calibrate`: a fixed order timeline (a paper backtest's
own orders), replayed open loop under hidden engine parameters, written as a real run's
log (`real_*` events), so that a calibration should find the hidden parameters again."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pk8opt.backtest.openloop import PlannedOrder, replay_orders
from pk8opt.backtest.replay import run_session
from pk8opt.engine.eventlog import EventLog
from pk8opt.strategies import get_strategy
from pk8opt.trading.run_config import RunConfig

TOKEN = {"Up": 0, "Down": 1}


def paper_orders(session: Any, strategy: str, overrides: Mapping[str, Any]) -> list[PlannedOrder]:
    """The orders a paper backtest of `strategy` posts on `session`, and when it asked
    to cancel each (the order timeline of the planted run)."""
    return paper_run(session, strategy, overrides)[0]


def paper_run(
    session: Any, strategy: str, overrides: Mapping[str, Any]
) -> tuple[list[PlannedOrder], dict[str, float]]:
    """`paper_orders`, and the shares the backtest filled of each (by order id)."""
    config = RunConfig.resolve(strategy, dict(overrides))
    buf = io.StringIO()
    run_session(
        session,
        get_strategy(strategy)(**config.strategy_params),
        config,
        log=EventLog(buf),
        mode="fast",
    )
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    cancels = {
        e["order_id"]: e["requested_ns"] for e in events if e["event"] == "paper_order_cancel_req"
    }
    rejected = {e["order_id"] for e in events if e["event"] == "paper_order_rejected"}
    filled: dict[str, float] = {}
    for e in events:
        if e["event"] == "paper_fill":
            filled[str(e["order_id"])] = filled.get(str(e["order_id"]), 0.0) + e["qty"]
    plans = [
        PlannedOrder(
            order_id=str(e["order_id"]),
            token=TOKEN[e["outcome"]],
            price_milli=round(e["price"] * 1000),
            size=e["size"],
            submit_ns=e["ts_ns"],
            cancel_ns=cancels.get(e["order_id"]),
        )
        for e in events
        if e["event"] == "paper_order_submit" and e["order_id"] not in rejected
    ]
    return plans, filled


def real_events(
    session: Any, orders: Sequence[PlannedOrder], hidden: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The `real_*` lines a run would have logged if the venue behaved as the engine
    with the `hidden` parameters: each fill heard a response latency after it happened."""
    buf = io.StringIO()
    replay_orders(session, orders, hidden, log=EventLog(buf))
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    plan_of = {e["order_id"]: e["why"] for e in events if e["event"] == "paper_order_submit"}
    heard_ns = round(float(hidden.get("response_latency_ms", 43.0)) * 1e6)
    slug = session.slug
    out: list[dict[str, Any]] = []
    for o in orders:
        out.append(
            _line(
                "real_order_submit",
                o.submit_ns,
                slug,
                order_id=o.order_id,
                outcome=("Up", "Down")[o.token],
                side="BUY",
                price=o.price_milli / 1000.0,
                size=o.size,
            )
        )
        if o.cancel_ns is not None:
            out.append(_line("real_order_cancel_req", o.cancel_ns, slug, order_id=o.order_id))
    for n, e in enumerate(e for e in events if e["event"] == "paper_fill"):
        out.append(
            _line(
                "real_fill",
                e["ts_ns"] + heard_ns,
                slug,
                order_id=plan_of[e["order_id"]],
                trade_id=f"t{n}",
                outcome=e["outcome"],
                side="BUY",
                price=e["price"],
                qty=e["qty"],
                fee=e["fee"],
                liquidity=e["liquidity"],
            )
        )
    return sorted(out, key=lambda e: e["ts_ns"])


def _line(event: str, ts_ns: int, slug: str, **fields: Any) -> dict[str, Any]:
    return {"event": event, "ts_ns": ts_ns, "slug": slug, **fields}


def write_planted_log(
    path: Path,
    sessions: Sequence[Any],
    strategy: str,
    overrides: Mapping[str, Any],
    hidden: Mapping[str, Any],
) -> int:
    """The planted run's log at `path` (JSON Lines); the number of orders in it."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for s in sessions:
            orders = paper_orders(s, strategy, overrides)
            n += len(orders)
            for e in real_events(s, orders, hidden):
                fh.write(json.dumps(e) + "\n")
    return n
