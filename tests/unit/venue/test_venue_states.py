"""RealVenue's state machine, driven by fixture-shaped user-socket events: posts, fills
(whole and partial, each trade counted once through MATCHED -> MINED -> CONFIRMED), a
FAILED trade taken back, cancels, events that beat the post's answer, the REST
reconcile where the venue wins, a dry run, and the trade loop on top of it."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.market import MarketSpec
from pk8opt.engine.orders import Order, Status
from pk8opt.polymarket.endpoints import VenueClock
from pk8opt.venue.limits import Limits, LimitState
from pk8opt.venue.real import CANCEL, POST, RealVenue
from pk8opt.venue.userws import OrderEvent, TradeEvent, parse_user_event

S = 1_000_000_000
T0 = 1_767_225_600 * S
COND = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917"
UP, DOWN = "71321045679252212594626385532706912750332728571942532289631379312455583992563", "2222"
SPEC = MarketSpec("btc-updown-15m-1767225600", "BTC", "15m", COND, UP, DOWN, T0, T0 + 900 * S)


class FakeClock(VenueClock):
    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "_now", T0)

    def now_ns(self) -> int:
        return self._now  # type: ignore[attr-defined,no-any-return]

    def advance(self, seconds: float) -> None:
        object.__setattr__(self, "_now", self._now + int(seconds * S))  # type: ignore[attr-defined]


class Desk:
    """The broker's side, recorded."""

    def __init__(
        self, limits: Limits | None = None, dry_run: bool = False, available: float = 100.0
    ) -> None:
        self.limits = limits or Limits()
        self.dry_run = dry_run
        self.available = available
        self.sent: list[tuple[str, int]] = []
        self.bound: dict[str, RealVenue] = {}
        self.moved = 0.0

    def limit_state(self, venue: RealVenue) -> LimitState:
        return LimitState(
            venue.held_cost() + venue.open_notional(),
            venue.held_cost() + venue.open_notional(),
            self.available - venue.open_notional(),
        )

    def send(self, venue: RealVenue, action: str, order: Order) -> None:
        self.sent.append((action, order.id))

    def bind(self, venue_order_id: str, venue: RealVenue) -> None:
        self.bound[venue_order_id] = venue

    def money_moved(self, venue: RealVenue, usdc: float) -> None:
        self.moved += usdc


def make(**desk: Any) -> tuple[RealVenue, Desk, FakeClock, io.StringIO]:
    d = Desk(**desk)
    clock = FakeClock()
    out = io.StringIO()
    venue = RealVenue(SPEC, d, log=EventLog(out), clock=clock, starting_cash_usdc=100.0)
    return venue, d, clock, out


def events(out: io.StringIO, name: str | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    return [r for r in rows if name is None or r["event"] == name]


def fixture(fixtures_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((fixtures_dir / "user_ws" / name).read_text())


def trade(
    fixtures_dir: Path,
    trade_id: str,
    order_vid: str,
    size: float,
    price: float,
    status: str = "MATCHED",
    maker: bool = False,
) -> TradeEvent:
    """`ws_user_trade.json` with our order as its taker, or as its one maker."""
    obj = copy.deepcopy(fixture(fixtures_dir, "ws_user_trade.json"))
    obj.update(
        id=trade_id, status=status, market=COND, asset_id=UP, price=str(price), size=str(size)
    )
    if maker:
        obj["taker_order_id"] = "0xsomeone-else"
        obj["trader_side"] = "MAKER"
        obj["maker_orders"][0].update(
            order_id=order_vid, matched_amount=str(size), price=str(price), asset_id=UP
        )
    else:
        obj["taker_order_id"] = order_vid
        obj["maker_orders"] = []
    ev = parse_user_event(obj)
    assert isinstance(ev, TradeEvent)
    return ev


def order_event(fixtures_dir: Path, name: str, vid: str, **over: Any) -> OrderEvent:
    obj = fixture(fixtures_dir, name)
    obj.update(id=vid, market=COND, **over)
    ev = parse_user_event(obj)
    assert isinstance(ev, OrderEvent)
    return ev


def posted(venue: RealVenue, price: int = 500, size: float = 10.0, vid: str = "0xv1") -> Order:
    o = venue.submit(T0, 0, price, size, "entry")
    venue.posted(o, vid)
    return o


def test_submit_queues_the_post_and_the_answer_opens_it() -> None:
    venue, desk, _, out = make()
    o = venue.submit(T0, 0, 450, 10.0, "entry")
    assert o.status == Status.PENDING and o.live and desk.sent == [(POST, o.id)]
    assert venue.account.reserved == pytest.approx(4.5) and venue.account.cash == pytest.approx(
        95.5
    )
    assert not o.seen_open
    seq = venue.responses.seq
    venue.posted(o, "0xv1")
    assert o.status == Status.OPEN and o.seen_open and venue.responses.seq == seq  # an ack
    assert desk.bound == {"0xv1": venue} and venue.by_venue_id["0xv1"] is o
    (submit,) = events(out, "real_order_submit")
    assert submit["order_id"] == o.id and submit["price"] == 0.45 and submit["size"] == 10.0
    (opened,) = events(out, "real_order_open")
    assert opened["venue_order_id"] == "0xv1"


def test_a_fill_counts_once_through_matched_mined_confirmed(fixtures_dir: Path) -> None:
    venue, desk, _, out = make()
    o = posted(venue)
    seq = venue.responses.seq
    for status in ("MATCHED", "MINED", "CONFIRMED"):
        venue.apply(trade(fixtures_dir, "t1", "0xv1", 4.0, 0.5, status))
    assert o.filled == 4.0 and o.status == Status.OPEN and o.seen_filled == 4.0
    assert venue.responses.pos == [4.0, 0.0] and venue.responses.cost == [2.0, 0.0]
    assert venue.responses.seq == seq + 1
    assert venue.account.pos == [4.0, 0.0] and venue.account.avg_cost(0) == 0.5
    assert desk.moved == pytest.approx(2.0)
    (fill,) = events(out, "real_fill")
    assert (
        fill["order_id"] == o.id and fill["venue_order_id"] == "0xv1" and fill["trade_id"] == "t1"
    )
    assert fill["price"] == 0.5 and fill["qty"] == 4.0 and fill["liquidity"] == "taker"
    assert fill["fee"] == 0.0 and fill["venue_ts"] == 1703875200000


def test_partial_fills_then_filled(fixtures_dir: Path) -> None:
    venue, _, _, _ = make()
    o = posted(venue, 500, 10.0)
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 2.5, 0.5, maker=True))
    assert o.filled == 2.5 and o.live
    venue.apply(order_event(fixtures_dir, "ws_user_order_update.json", "0xv1", size_matched="2.5"))
    assert o.status == Status.OPEN
    venue.apply(trade(fixtures_dir, "t2", "0xv1", 7.5, 0.5, maker=True))
    assert o.status == Status.FILLED and o.filled == 10.0 and o.seen_done
    assert venue.account.reserved == 0.0 and venue.account.cash == pytest.approx(95.0)
    assert venue.account.maker_volume == pytest.approx(5.0) and venue.account.fees == 0.0


def test_a_taker_fill_pays_the_markets_fee(fixtures_dir: Path) -> None:
    from pk8opt.recordings.manifest import FeeSchedule

    spec = MarketSpec(
        **{
            **SPEC.__dict__,
            "fee_schedule": FeeSchedule(rate=0.07, exponent=1.0, taker_only=True, rebate_rate=0.2),
        }
    )
    desk = Desk()
    venue = RealVenue(spec, desk, clock=FakeClock(), starting_cash_usdc=100.0)
    o = venue.submit(T0, 0, 500, 10.0)
    venue.posted(o, "0xv1")
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 10.0, 0.5))
    assert venue.account.fees == pytest.approx(10 * 0.07 * 0.25)


def test_a_failed_trade_is_taken_back(fixtures_dir: Path) -> None:
    venue, desk, _, out = make()
    o = posted(venue, 500, 10.0)
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 10.0, 0.5))
    assert o.status == Status.FILLED and venue.account.pos[0] == 10.0
    seq = venue.responses.seq
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 10.0, 0.5, "RETRYING"))
    assert venue.account.pos[0] == 10.0  # still counted while the chain retries
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 10.0, 0.5, "FAILED"))
    assert venue.account.pos == [0.0, 0.0] and venue.account.cost == [0.0, 0.0]
    assert venue.responses.pos == [0.0, 0.0] and venue.responses.seq == seq + 1
    assert o.filled == 0.0 and o.seen_filled == 0.0
    assert venue.account.cash == pytest.approx(100.0) and desk.moved == pytest.approx(0.0)
    (failed,) = events(out, "real_trade_failed")
    assert failed["trade_id"] == "t1" and failed["reversed"] == 10.0
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 10.0, 0.5, "FAILED"))
    assert len(events(out, "real_trade_failed")) == 1  # once


def test_cancel_before_the_posts_answer_waits_for_the_id(fixtures_dir: Path) -> None:
    venue, desk, _, out = make()
    o = venue.submit(T0, 0, 500, 10.0)
    venue.cancel(T0 + 1, o)
    assert o.cancel_requested and o.live and desk.sent == [(POST, o.id)]
    venue.posted(o, "0xv1")
    assert desk.sent == [(POST, o.id), (CANCEL, o.id)]
    seq = venue.responses.seq
    venue.cancel_done(o)
    assert o.status == Status.CANCELLED and o.seen_done and venue.responses.seq == seq
    assert venue.account.reserved == 0.0 and venue.account.cash == pytest.approx(100.0)
    (cancelled,) = events(out, "real_order_cancelled")
    assert cancelled["venue_order_id"] == "0xv1" and cancelled["filled"] == 0.0
    assert len(events(out, "real_order_cancel_req")) == 1
    venue.apply(order_event(fixtures_dir, "ws_user_order_cancellation.json", "0xv1"))
    assert len(events(out, "real_order_cancelled")) == 1  # the socket's word changes nothing


def test_the_venue_cancelling_an_order_wakes_the_trade_loop(fixtures_dir: Path) -> None:
    venue, _, _, _ = make()
    o = posted(venue, vid="0x0e")
    seq = venue.responses.seq
    venue.apply(order_event(fixtures_dir, "ws_user_order_venue_cancel.json", "0x0e"))
    assert o.status == Status.CANCELLED and not o.seen_live and venue.responses.seq == seq + 1


def test_events_that_beat_the_posts_answer_wait_for_it(fixtures_dir: Path) -> None:
    venue, _, _, _ = make()
    o = venue.submit(T0, 0, 500, 10.0)
    venue.apply(order_event(fixtures_dir, "ws_user_order_placement.json", "0xv1"))
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 3.0, 0.5, maker=True))
    assert o.status == Status.PENDING and o.filled == 0.0
    venue.posted(o, "0xv1")
    assert o.status == Status.OPEN and o.filled == 3.0 and venue.account.pos[0] == 3.0
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 3.0, 0.5, "MINED", maker=True))
    assert o.filled == 3.0


def test_refused_by_a_limit_or_by_the_venue() -> None:
    venue, desk, _, out = make(limits=Limits(max_order_size=5.0))
    o = venue.submit(T0, 0, 500, 6.0)
    assert o.status == Status.REJECTED and o.reason.startswith("max_order_size") and not desk.sent
    assert not o.seen_live and venue.account.reserved == 0.0
    (rej,) = events(out, "real_order_rejected")
    assert rej["order_id"] == o.id and rej["reason"].startswith("max_order_size")
    for price, size, reason in (
        (505, 5.0, "tick_size"),
        (0, 5.0, "price_bounds"),
        (500, 4.0, "min_size"),
    ):
        assert venue.submit(T0, 0, price, size).reason == reason
    o = venue.submit(T0, 1, 500, 5.0)
    seq = venue.responses.seq
    venue.post_failed(o, "not enough balance / allowance")
    assert o.status == Status.REJECTED and o.reason == "venue: not enough balance / allowance"
    assert o.seen_done and venue.responses.seq == seq + 1 and venue.account.reserved == 0.0


def test_the_balance_refuses_what_it_cannot_cover() -> None:
    venue, _, _, _ = make(available=6.0)
    assert venue.submit(T0, 0, 500, 10.0).live  # 5 USDC
    o = venue.submit(T0, 1, 500, 10.0)  # 5 more; 1 free
    assert o.status == Status.REJECTED and o.reason.startswith("balance")


def test_reconcile_the_venue_wins(fixtures_dir: Path) -> None:
    venue, _, clock, out = make()
    gone = posted(venue, 500, 10.0, "0xgone")
    kept = posted(venue, 400, 10.0, "0xkept")
    done = posted(venue, 300, 10.0, "0xdone")
    venue.cancel_done(done)
    clock.advance(10)
    listed = [
        order_event(fixtures_dir, "ws_user_order_update.json", "0xkept", size_matched="4"),
        order_event(fixtures_dir, "ws_user_order_placement.json", "0xdone"),
    ]
    missed = trade(fixtures_dir, "t9", "0xkept", 4.0, 0.4, "CONFIRMED", maker=True)
    diffs = venue.reconcile(listed, [missed], clock.now_ns())
    whats = sorted(d["what"] for d in diffs)
    assert whats == ["missed_fill", "order_gone", "order_still_open"]
    assert gone.status == Status.CANCELLED and gone.seen_done
    assert kept.filled == 4.0 and kept.live and venue.account.pos[0] == 4.0
    assert len(events(out, "real_reconcile")) == 3
    # once in step, nothing differs
    listed = [order_event(fixtures_dir, "ws_user_order_update.json", "0xkept", size_matched="4")]
    assert venue.reconcile(listed, [missed], clock.now_ns()) == []


def test_reconcile_leaves_a_fresh_post_alone() -> None:
    venue, _, clock, _ = make()
    o = posted(venue)
    clock.advance(1)
    assert venue.reconcile([], [], clock.now_ns()) == [] and o.live


def test_positions_follow_the_venue_after_two_checks(fixtures_dir: Path) -> None:
    venue, _, _, out = make()
    posted(venue, 500, 10.0)
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 4.0, 0.5))
    assert venue.check_positions({0: 4.0, 1: 0.0}) == []
    assert venue.check_positions({0: 6.0, 1: 0.0}) == []  # first sight: may be settling
    (d,) = venue.check_positions({0: 6.0, 1: 0.0})
    assert d["what"] == "position" and d["local"] == 4.0 and d["venue"] == 6.0
    assert venue.account.pos[0] == 6.0 and venue.responses.pos[0] == 6.0
    assert venue.account.avg_cost(0) == pytest.approx(0.5)
    assert events(out, "real_reconcile")[-1]["what"] == "position"


def test_dry_run_signs_logs_rests_and_never_fills() -> None:
    venue, desk, _, out = make(dry_run=True)
    o = venue.submit(T0, 0, 450, 10.0)
    assert desk.sent == [(POST, o.id)]
    venue.dry_posted(o, {"tokenId": UP, "makerAmount": "4500000", "takerAmount": "10000000"})
    assert o.status == Status.OPEN and o.seen_open
    (dry,) = events(out, "real_order_dry_run")
    assert dry["order_id"] == o.id and dry["makerAmount"] == "4500000" and "signature" not in dry
    venue.cancel(T0 + S, o)
    assert o.status == Status.CANCELLED and o.seen_done and desk.sent == [(POST, o.id)]


def test_close_settles_and_ends_whats_live(fixtures_dir: Path) -> None:
    venue, desk, _, out = make()
    o = posted(venue, 500, 10.0)
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 4.0, 0.5))
    venue.close(T0 + 900 * S, winner=0)
    assert o.status == Status.CANCELLED and (CANCEL, o.id) in desk.sent
    assert venue.account.pos == [0.0, 0.0] and venue.account.cash == pytest.approx(102.0)
    (settle,) = events(out, "real_settlement")
    assert settle["payout"] == 4.0 and settle["winner"] == "Up"
    assert venue.submit(T0 + 901 * S, 0, 500, 5.0).reason == "closed"


def test_the_trade_loop_runs_on_it(fixtures_dir: Path) -> None:
    from pk8opt.strategies.base import Desired, Strategy, StrategyContext, StrategyQuote
    from pk8opt.trading.trader import TRADER_PARAMS, Trader

    class Bid(Strategy):
        name = "bid"

        def quote(self, ctx: StrategyContext) -> StrategyQuote:
            return StrategyQuote(
                Desired(0.45, 5.0, "bid") if ctx.qy < 5 else Desired(None), Desired(None)
            )

    venue, desk, _, _ = make()
    trader = Trader(venue, Bid(), TRADER_PARAMS.resolve({"warmup_seconds": 0.0}, "t"))
    top = (440, 460, 530, 550)
    trader.on_frame(T0, top, (10, 10))
    (o,) = venue.orders.values()
    assert desk.sent == [(POST, o.id)] and o.price == 450
    venue.posted(o, "0xv1")
    venue.apply(trade(fixtures_dir, "t1", "0xv1", 5.0, 0.45, maker=True))
    trader.on_frame(T0 + S, top, (10, 10))
    assert len(venue.orders) == 1 and venue.responses.pos == [5.0, 0.0]
    assert venue.account.marks == [0.45, 0.54]  # the trade loop's equity samples
    assert venue.account.pnl() == pytest.approx(0.0)
