"""Reading a run's orders and fills (`calibrate.reallog`): the minimal format another
program can write, the live runner's extra events, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pk8opt.calibrate.reallog import read_real_log
from pk8opt.errors import ConfigError

SLUG = "btc-updown-15m-1767225600"
T = 1_767_225_600_000_000_000


def _write(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def _submit(oid, t, outcome="Up", price=0.5, size=10.0, **more) -> dict:
    return {"event": "real_order_submit", "slug": SLUG, "ts_ns": t, "order_id": oid,
            "outcome": outcome, "price": price, "size": size, **more}  # fmt: skip


def test_the_minimal_format(tmp_path: Path) -> None:
    log = _write(
        tmp_path / "fills.jsonl",
        [
            _submit("a", T),
            _submit("b", T + 5, outcome="Down", price=0.41, size=20.0),
            {"event": "real_order_cancel_req", "slug": SLUG, "ts_ns": T + 900, "order_id": "b"},
            {
                "event": "real_fill",
                "slug": SLUG,
                "ts_ns": T + 300,
                "order_id": "a",
                "price": 0.5,
                "qty": 4.0,
            },  # fmt: skip
            {
                "event": "real_fill",
                "slug": SLUG,
                "ts_ns": T + 200,
                "order_id": "a",
                "price": 0.5,
                "qty": 6.0,
                "fee": 0.01,
                "liquidity": "taker",
            },  # fmt: skip
        ],
    )
    got = read_real_log(log)
    (win,) = got.windows.values()
    a, b = win.orders
    assert (a.plan.token, a.plan.price_milli, a.plan.size, a.plan.submit_ns) == (0, 500, 10.0, T)
    assert a.plan.cancel_ns is None and b.plan.cancel_ns == T + 900
    assert (b.plan.token, b.plan.price_milli) == (1, 410)
    assert a.filled == 10.0 and a.fraction == 1.0 and a.first_fill_ns == T + 200
    assert a.cost_usdc == pytest.approx(5.01) and a.liquidity == "taker"
    assert b.filled == 0.0 and b.first_fill_ns is None
    assert got.run_env == {} and got.n_orders == 2


def test_the_live_runners_log_folder(tmp_path: Path) -> None:
    """Refusals, dry runs and orders the venue never acknowledged are left out; a fill
    may name only the venue's order id; a failed trade is taken back; the run's settings
    and the winner are read."""
    events = [
        {"event": "live_started", "ts_ns": T - 10, "config": {"PM_PAPER_FEED_CLOCK": "local"}},
        _submit(1, T),
        {
            "event": "real_order_open",
            "slug": SLUG,
            "ts_ns": T + 50,
            "order_id": 1,
            "venue_order_id": "0xv1",
        },  # fmt: skip
        _submit(2, T + 1),
        {"event": "real_order_rejected", "slug": SLUG, "ts_ns": T + 1, "order_id": 2},
        _submit(4, T + 3),  # cancelled before it was sent: never acknowledged
        {"event": "real_order_cancel_req", "slug": SLUG, "ts_ns": T + 4, "order_id": 4},
        _submit(3, T + 2),
        {"event": "real_order_dry_run", "slug": SLUG, "ts_ns": T + 2, "order_id": 3},
        {
            "event": "real_fill",
            "slug": SLUG,
            "ts_ns": T + 400,
            "venue_order_id": "0xv1",
            "trade_id": "t1",
            "price": 0.5,
            "qty": 3.0,
        },  # fmt: skip
        {
            "event": "real_fill",
            "slug": SLUG,
            "ts_ns": T + 500,
            "order_id": 1,
            "trade_id": "t2",
            "price": 0.5,
            "qty": 2.0,
        },  # fmt: skip
        {
            "event": "real_trade_failed",
            "slug": SLUG,
            "ts_ns": T + 600,
            "order_id": 1,
            "venue_order_id": "0xv1",
            "trade_id": "t1",
        },  # fmt: skip
        {
            "event": "real_fill",
            "slug": SLUG,
            "ts_ns": T + 700,
            "order_id": 99,
            "price": 0.5,
            "qty": 1.0,
        },  # fmt: skip
        {"event": "market_resolved", "slug": SLUG, "ts_ns": T + 10**12, "winner": "Down"},
        {"event": "paper_fill", "slug": SLUG, "ts_ns": T, "order_id": 1},  # not ours
    ]
    (tmp_path / "logs").mkdir()
    _write(tmp_path / "logs" / "live_console_events.jsonl", events)
    got = read_real_log(tmp_path / "logs")
    win = got.windows[SLUG]
    assert [o.plan.order_id for o in win.orders] == ["1"]
    (o,) = win.orders
    assert o.filled == 2.0 and o.first_fill_ns == T + 500  # t1 failed: taken back
    assert win.excluded == {
        "rejected": 1,
        "dry run": 1,
        "never acknowledged by the venue": 1,
        "fill of an order not in the log": 1,
    }
    assert win.winner == "Down" and got.run_env == {"PM_PAPER_FEED_CLOCK": "local"}


def test_an_order_is_replayed_from_when_it_left_and_cancelled_from_when_the_cancel_left(
    tmp_path: Path,
) -> None:
    """`real_order_sent` moves the post to when the order left signed (the run's own delay
    from deciding is kept apart); `real_order_cancel_sent` moves the cancel to when it
    left: a cancel asked while its post was on its way leaves after the post's answer."""
    from pk8opt.calibrate.run import client_delay

    sent = [{"event": "real_order_sent", "slug": SLUG, "ts_ns": T + 9, "order_id": o,
             "sent_ns": T + d} for o, d in (("a", 150), ("b", 250), ("c", 350))]  # fmt: skip
    log = _write(
        tmp_path / "run.jsonl",
        [
            _submit("a", T + 100),
            _submit("b", T + 200),
            _submit("c", T + 300),
            {"event": "real_order_cancel_req", "slug": SLUG, "ts_ns": T + 210, "order_id": "b"},
            *sent,
            {"event": "real_order_cancel_sent", "slug": SLUG, "ts_ns": T + 900, "order_id": "b"},
            {"event": "real_order_cancel_req", "slug": SLUG, "ts_ns": T + 950, "order_id": "c"},
        ],
    )
    a, b, c = read_real_log(log).windows[SLUG].orders
    assert (a.plan.submit_ns, a.decided_ns, a.client_delay_ns) == (T + 150, T + 100, 50)
    assert (b.plan.submit_ns, b.plan.cancel_ns) == (T + 250, T + 900)  # not T + 210
    assert c.plan.cancel_ns == T + 950  # no cancel_sent: when it was asked
    delay = client_delay(read_real_log(log))
    assert delay["median"] == pytest.approx(50e-6) and delay["orders"] == 3


def test_a_log_without_sent_times_posts_at_the_decision(tmp_path: Path) -> None:
    from pk8opt.calibrate.run import client_delay

    log = _write(tmp_path / "run.jsonl", [_submit("a", T + 100)])
    (a,) = read_real_log(log).windows[SLUG].orders
    assert a.plan.submit_ns == T + 100 and a.client_delay_ns == 0
    assert client_delay(read_real_log(log)) == {}


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (
            {
                "event": "real_order_submit",
                "slug": SLUG,
                "ts_ns": T,
                "order_id": 1,
                "outcome": "Up",
                "size": 5.0,
            },
            r"fills.jsonl:1: real_order_submit: no `price`",
        ),  # fmt: skip
        (_submit(1, T, outcome="Yes"), "outcome 'Yes' is neither Up nor Down"),
        (_submit(1, T, side="SELL"), "only buy orders"),
        (
            {"event": "real_fill", "slug": SLUG, "order_id": 1, "price": 0.5, "qty": 1.0},
            "real_fill: no `ts_ns`",
        ),  # fmt: skip
    ],
)
def test_a_bad_line_is_one_error_naming_the_line_and_field(tmp_path, line, says) -> None:
    log = _write(tmp_path / "fills.jsonl", [line])
    with pytest.raises(ConfigError, match=says):
        read_real_log(log)


def test_a_damaged_line_and_a_missing_log(tmp_path: Path) -> None:
    bad = tmp_path / "fills.jsonl"
    bad.write_text(json.dumps(_submit(1, T)) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"fills.jsonl:2: not a JSON line"):
        read_real_log(bad)
    with pytest.raises(ConfigError, match="no such log"):
        read_real_log(tmp_path / "nowhere")
