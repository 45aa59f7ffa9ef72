"""Accounting properties of the paper engine under random order flow (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pk8opt.engine import ENGINE_PARAMS, MarketSpec, PaperEngine
from pk8opt.recordings.manifest import FeeSchedule
from pk8opt.recordings.schema import ASK, BID, NO_SIDE, Kind

MS = 1_000_000
T0 = 1_767_225_600 * 1_000_000_000

prices = st.integers(1, 99).map(lambda p: p * 10)
sizes = st.floats(1.0, 300.0, allow_nan=False).map(lambda x: round(x, 2))
tokens = st.integers(0, 1)
ops = st.one_of(
    st.tuples(st.just("submit"), tokens, prices, st.floats(5.0, 2000.0).map(lambda x: round(x, 2))),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("level"), tokens, st.integers(0, 1), prices, st.one_of(st.just(0.0), sizes)),
    st.tuples(st.just("trade"), tokens, prices, sizes),
    st.tuples(st.just("book"), tokens, prices, sizes, sizes),
    st.tuples(st.just("wait"), st.integers(1, 500)),
)


def check(e: PaperEngine) -> None:
    a = e.account
    assert a.cash >= -1e-9
    assert a.fees >= 0.0 and a.reserved >= -1e-9
    total = a.cash + a.reserved + a.fees + a.cost[0] + a.cost[1]
    assert abs(total - a.starting_cash) < 1e-6  # rebate estimates never enter cash
    assert -1e-9 <= a.maker_volume <= a.volume + 1e-9
    # a rebate is 20% of a fee of at most rate * 0.25 per share, and shares <= volume / 0.01
    assert 0.0 <= a.rebates <= 0.2 * 0.25 * 0.25 * a.maker_volume / 0.01 + 1e-9


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(ops, min_size=1, max_size=60),
    fee=st.sampled_from([0.0, 0.07, 0.25]),
    cash=st.sampled_from([50.0, 1000.0]),
    winner=tokens,
    flow=st.booleans(),
)
def test_money_is_conserved_and_cash_never_negative(steps, fee, cash, winner, flow) -> None:  # type: ignore[no-untyped-def]
    spec = MarketSpec(
        "btc-updown-15m-1767225600",
        "BTC",
        "15m",
        "0xc",
        "1",
        "2",
        T0,
        T0 + 900 * 10**9,
        fee_schedule=FeeSchedule(rate=fee, rebate_rate=0.2) if fee else None,
    )
    params = ENGINE_PARAMS.resolve(
        {
            "starting_cash_usdc": cash,
            "maker_flow": flow,
            "flow_base": 20.0,
            "queue_add_ahead_frac": 0.3,
        },
        "t",
    )
    e = PaperEngine(spec, params)
    t = T0
    orders = []
    for op in steps:
        t += 10 * MS
        if op[0] == "submit":
            orders.append(e.submit(t, op[1], op[2], op[3]))
        elif op[0] == "cancel" and orders:
            e.cancel(t, orders[op[1] % len(orders)])
        elif op[0] == "level":
            e.on_row(t, Kind.LEVEL, op[1], op[2], op[3], op[4])
            e.end_frame(t)
        elif op[0] == "trade":
            e.on_row(t, Kind.TRADE, op[1], ASK, op[2], op[3])
            e.end_frame(t)
        elif op[0] == "book":
            _, tok, p, bs, as_ = op
            e.on_row(t, Kind.BOOK_RESET, tok, NO_SIDE, -1, 0.0)
            e.on_row(t, Kind.LEVEL, tok, BID, max(p - 10, 10), bs)
            e.on_row(t, Kind.LEVEL, tok, ASK, p, as_)
            e.end_frame(t)
        else:
            t += op[1] * MS
            e.end_frame(t)
        check(e)
        for o in orders:
            assert -1e-9 <= o.filled <= o.size + 1e-9
    a = e.account
    e.advance_to(t + 1000 * MS)
    check(e)
    spent = a.cost[0] + a.cost[1]
    held = list(a.pos)
    e.close(t + 1000 * MS, winner)
    assert abs(a.cash - (a.starting_cash - spent - a.fees + held[winner])) < 1e-6
    assert a.reserved == 0.0 and a.pos == [0.0, 0.0]
    assert a.cash >= 0.0
