"""RealVenue: one market window's orders on Polymarket's CLOB, behind the `Venue` face.

The trade loop calls `submit` and `cancel` exactly as it does on the paper engine, and
reads the same things back (`responses`, `orders`, each order's `seen_*`, `account`).
What differs is where the answers come from:

- `submit` never blocks. It checks the order (size, price, tick) and the risk limits
  with the balance (`pk8opt.venue.limits`), creates the local `Order` (PENDING), holds
  its price x size, and hands the post to the broker's worker. Refused, it comes back
  `REJECTED` with a `reason` at once (`real_order_rejected`).
- The broker calls back here, on the event loop, with what the venue said: the post's
  answer (`posted`: the venue's order id, mapped to the local id; or `post_failed`:
  REJECTED with the venue's message), a cancel's answer, and every user-socket event
  (`apply`). Events for an id not yet known (the socket can beat the post's answer)
  wait until the post's answer names it.
- A trade counts as a fill when first seen (MATCHED, or later states after a gap) and
  is taken back if it ends FAILED (`real_trade_failed`): position, cost, fees and the
  order's filled size all return. Fills move `responses` the way the paper engine's do
  (position and cost per token, `seen_filled`, `seq`), with no delay: the venue's
  message *is* the response.
- `reconcile` takes the venue's REST view (open orders, trades) after a socket gap or
  on a timer; where it differs from ours the venue wins, and each difference is logged
  (`real_reconcile`).

With `dry_run` the order is signed by the client but never sent (`real_order_dry_run`);
it then rests locally (seen open, never fills) until cancelled.

Event log names (the paper engine's, with `real_`; all of them in `REAL_EVENTS`):
real_order_submit, real_order_sent (signed and on its way: `sent_ns`, its signing time),
real_order_rejected, real_order_dry_run, real_order_open, real_fill,
real_order_cancel_req, real_order_cancel_sent (the cancel leaves: after the post's answer), real_order_cancelled, real_order_cancel_failed,
real_trade_failed, real_reconcile, real_settlement.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.fees import round5, taker_fee_usdc
from pk8opt.engine.market import MarketSpec
from pk8opt.engine.orders import Order, Status
from pk8opt.engine.responses import DONE, FILL, OPEN, Responses
from pk8opt.polymarket.endpoints import VenueClock
from pk8opt.venue.account import RealAccount
from pk8opt.venue.limits import Limits, LimitState
from pk8opt.venue.userws import Leg, OrderEvent, TradeEvent, UserEvent

EPS = 1e-9
TOKEN_NAMES = ("Up", "Down")
# every event a real run writes: a window's (slug set), then the broker's (slug "")
REAL_EVENTS = (
    "real_order_submit",
    "real_order_sent",
    "real_order_rejected",
    "real_order_dry_run",
    "real_order_open",
    "real_fill",
    "real_order_cancel_req",
    "real_order_cancel_sent",
    "real_order_cancelled",
    "real_order_cancel_failed",
    "real_trade_failed",
    "real_reconcile",
    "real_settlement",
    "real_start",
    "real_socket",
    "real_balance",
    "real_halt",
    "real_error",
    "real_stop",
)
POST, CANCEL = "post", "cancel"


class Desk(Protocol):
    """What a window needs of the broker (tests give a stand-in)."""

    limits: Limits
    dry_run: bool

    def limit_state(self, venue: RealVenue) -> LimitState: ...
    def send(self, venue: RealVenue, action: str, order: Order) -> None: ...
    def bind(self, venue_order_id: str, venue: RealVenue) -> None: ...
    def money_moved(self, venue: RealVenue, usdc: float) -> None: ...


@dataclass
class _Fill:
    order: Order
    qty: float
    price: float
    fee: float
    maker: bool
    failed: bool = False


class RealVenue:
    """One market window on the real venue (see the module's docstring)."""

    def __init__(
        self,
        market: MarketSpec,
        desk: Desk,
        *,
        log: EventLog | None = None,
        clock: VenueClock | None = None,
        starting_cash_usdc: float = 0.0,
    ) -> None:
        self.market = market
        self.desk = desk
        self.log = log
        self.clock = clock or VenueClock()
        self.dry_run = desk.dry_run
        self.responses = Responses(0)
        self.orders: dict[int, Order] = {}
        self.account = RealAccount(starting_cash_usdc)
        self.tick_milli = [market.tick_milli, market.tick_milli]
        self.min_order_size = market.min_order_size
        self.venue_ids: dict[int, str] = {}  # local id -> venue order id
        self.by_venue_id: dict[str, Order] = {}
        self.posted_ns: dict[int, int] = {}  # when the venue acknowledged each post
        self.done_ns: dict[int, int] = {}  # when each order was known to have ended
        self.in_flight = 0  # posts sent, not yet answered
        self.fills: dict[tuple[str, str], _Fill] = {}  # (trade id, venue order id)
        self._early: dict[str, list[UserEvent]] = defaultdict(list)
        self._position_diff: dict[int, float] = {}  # a difference seen at the last check
        self._seq = 0
        self.rejections: dict[str, int] = defaultdict(int)
        self.closed = False

    @property
    def now_ns(self) -> int:
        return self.clock.now_ns()

    # ------------------------------------------------------------------ trader API
    def submit(self, t_ns: int, token: int, price: int, size: float, why: str = "") -> Order:
        """Post a buy of `size` shares of `token` (0 Up, 1 Down) at `price` milli."""
        self._seq += 1
        o = Order(self._seq, token, price, size, t_ns, why)
        reason = self._refusal(o)  # before it is one of `orders`: the limits count those
        self.orders[o.id] = o
        self.write_event(
            "real_order_submit",
            t_ns,
            symbol=self.market.symbol,
            order_id=o.id,
            outcome=TOKEN_NAMES[token] if token in (0, 1) else str(token),
            side="BUY",
            price=price / 1000.0,
            size=size,
            why=why,
            dry_run=self.dry_run,
        )
        if reason:
            self.reject(o, reason, t_ns, notify=False)  # the caller sees it returned
            return o
        self.account.reserve(o, size * price / 1000.0)
        self.in_flight += 1
        self.desk.send(self, POST, o)
        return o

    def cancel(self, t_ns: int, o: Order) -> None:
        """Ask to cancel `o`; it stays live until the venue confirms (at once in a dry
        run, where nothing rests at the venue)."""
        if not o.live or o.cancel_requested:
            return
        o.cancel_requested = True
        vid = self.venue_ids.get(o.id)
        self.write_event("real_order_cancel_req", t_ns, order_id=o.id, venue_order_id=vid)
        if self.dry_run:
            self._finish(o, Status.CANCELLED, t_ns, "dry run")
        elif vid is not None:
            self.desk.send(self, CANCEL, o)
        # else: the post is on its way; `posted` sends the cancel once the id is known

    def _refusal(self, o: Order) -> str:
        if self.closed:
            return "closed"
        state = self.desk.limit_state(self)
        if state.halted:  # before the order's own faults: nothing leaves after a halt
            return f"halted: {state.halted}"
        if o.token not in (0, 1):
            return "token"
        if not o.size >= self.min_order_size - EPS:
            return "min_size"
        tick = self.tick_milli[o.token]
        if o.price % tick != 0:
            return "tick_size"
        if o.price < tick or o.price > 1000 - tick:
            return "price_bounds"
        return self.desk.limits.check(o, state) or ""

    # ------------------------------------------------------------------ the post's answer
    def reject(
        self, o: Order, reason: str, t_ns: int | None = None, *, notify: bool = True
    ) -> None:
        """Refused before it rested (by a limit here, or by the venue). `notify`: the
        refusal comes after `submit` returned, so the trade loop hears of it as of an
        order that ended (`responses`)."""
        t_ns = self.now_ns if t_ns is None else t_ns
        o.status = Status.REJECTED
        o.reason = reason
        self.account.release(o)
        self.rejections[reason.split(":")[0]] += 1
        self.write_event(
            "real_order_rejected",
            t_ns,
            order_id=o.id,
            reason=reason,
            tick=self.tick_milli[o.token if o.token in (0, 1) else 0] / 1000.0,
            min_order_size=self.min_order_size,
        )
        if notify:
            self.responses.send(t_ns, DONE, o)

    def post_failed(self, o: Order, message: str) -> None:
        self.in_flight -= 1
        self.reject(o, f"venue: {message}")
        self._drop_early()

    def sent(self, o: Order, sent_ns: int) -> None:
        """The order is signed (at `sent_ns`, the venue clock) and on its way."""
        self.write_event("real_order_sent", self.now_ns, order_id=o.id, sent_ns=sent_ns)

    def posted(self, o: Order, venue_order_id: str, status: str = "live") -> None:
        """The venue took the order under `venue_order_id`."""
        self.in_flight -= 1
        t_ns = self.now_ns
        self.venue_ids[o.id] = venue_order_id
        self.by_venue_id[venue_order_id] = o
        self.posted_ns[o.id] = t_ns
        self.desk.bind(venue_order_id, self)
        self._open(o, t_ns, status)
        if o.cancel_requested and o.live:
            self.desk.send(self, CANCEL, o)
        for ev in self._early.pop(venue_order_id, []):
            self.apply(ev)
        self._drop_early()

    def post_skipped(self, o: Order, why: str) -> None:
        """The post was never sent (cancelled while it waited its turn)."""
        self.in_flight -= 1
        self._finish(o, Status.CANCELLED, self.now_ns, why)
        self._drop_early()

    def dry_posted(self, o: Order, fields: dict[str, Any]) -> None:
        """A dry run's order was signed (never sent): it rests locally from now on."""
        self.in_flight -= 1
        t_ns = self.now_ns
        self.write_event("real_order_dry_run", t_ns, order_id=o.id, **fields)
        self._open(o, t_ns, "dry_run")

    def _open(self, o: Order, t_ns: int, status: str) -> None:
        if o.status != Status.PENDING:
            return
        o.status = Status.OPEN
        o.open_ns = t_ns
        self.responses.send(t_ns, OPEN, o)
        self.write_event(
            "real_order_open",
            t_ns,
            order_id=o.id,
            venue_order_id=self.venue_ids.get(o.id),
            price=o.price / 1000.0,
            size=o.size,
            venue_status=status,
        )

    def _drop_early(self) -> None:
        if self.in_flight <= 0:
            self.in_flight = 0
            self._early.clear()  # no post can still name these ids: not ours

    # ------------------------------------------------------------------ cancel's answer
    def cancel_done(self, o: Order, why: str = "cancelled") -> None:
        self._finish(o, Status.CANCELLED, self.now_ns, why)

    def _finish(self, o: Order, status: Status, t_ns: int, why: str) -> None:
        if not o.live:
            return
        o.status = status
        self.done_ns[o.id] = t_ns
        self.account.release(o)
        self.responses.send(t_ns, DONE, o)
        if status == Status.CANCELLED:
            self.write_event(
                "real_order_cancelled",
                t_ns,
                order_id=o.id,
                venue_order_id=self.venue_ids.get(o.id),
                filled=o.filled,
                why=why,
            )

    # ------------------------------------------------------------------ user socket
    def apply(self, ev: UserEvent) -> None:
        """One user-socket (or REST) event of this market."""
        if isinstance(ev, TradeEvent):
            self._trade(ev, "socket")
            return
        o = self.by_venue_id.get(ev.venue_order_id)
        if o is None:
            if self.in_flight > 0:
                self._early[ev.venue_order_id].append(ev)
            return
        t_ns = self.now_ns
        if ev.done:
            if o.remaining <= EPS:
                self._finish(o, Status.FILLED, t_ns, ev.status)
            else:
                self._finish(o, Status.CANCELLED, t_ns, ev.status)
        else:
            self._open(o, t_ns, ev.status.lower())

    def _trade(self, ev: TradeEvent, source: str) -> list[dict[str, Any]]:
        changed: list[dict[str, Any]] = []
        for leg in ev.legs:
            o = self.by_venue_id.get(leg.venue_order_id)
            if o is None:
                if self.in_flight > 0 and not ev.failed:
                    self._early[leg.venue_order_id].append(ev)
                continue
            key = (ev.trade_id, leg.venue_order_id)
            rec = self.fills.get(key)
            if ev.failed:
                if rec is not None and not rec.failed:
                    self._unfill(ev, leg, rec, source)
                    changed.append({"what": "trade_failed", "trade_id": ev.trade_id})
                elif rec is None:
                    self.fills[key] = _Fill(o, 0.0, leg.price, 0.0, leg.maker, failed=True)
                    self._log_failed(ev, leg, o, 0.0, source)
            elif rec is None:
                self._fill(o, ev, leg, source)
                changed.append({"what": "missed_fill", "trade_id": ev.trade_id, "qty": leg.size})
        return changed

    def _fill(self, o: Order, ev: TradeEvent, leg: Leg, source: str) -> None:
        qty = min(leg.size, o.remaining)
        px = leg.price
        fee = 0.0 if leg.maker else self._taker_fee(qty, px, ev.fee_rate_bps)
        self.fills[(ev.trade_id, leg.venue_order_id)] = _Fill(o, qty, px, fee, leg.maker)
        if qty <= EPS:
            return
        t_ns = self.now_ns
        self.account.fill(o, qty, px, fee, leg.maker)
        o.filled += qty
        self.responses.send(t_ns, FILL, o, qty, px)
        self.write_event(
            "real_fill",
            t_ns,
            symbol=self.market.symbol,
            order_id=o.id,
            venue_order_id=leg.venue_order_id,
            trade_id=ev.trade_id,
            outcome=TOKEN_NAMES[o.token],
            side="BUY",
            price=px,
            qty=qty,  # the paper engine's field names, so one reader reads both
            fee=fee,
            liquidity="maker" if leg.maker else "taker",
            why="venue",
            venue_ts=ev.venue_ms,
            status=ev.status,
            remaining=o.remaining,
            source=source,
        )
        self.desk.money_moved(self, qty * px + fee)
        if o.remaining <= EPS:
            o.filled = o.size
            self._finish(o, Status.FILLED, t_ns, "filled")

    def _unfill(self, ev: TradeEvent, leg: Leg, rec: _Fill, source: str) -> None:
        o = rec.order
        rec.failed = True
        self.account.unfill(o, rec.qty, rec.price, rec.fee, rec.maker)
        o.filled = max(0.0, o.filled - rec.qty)
        self.responses.send(self.now_ns, FILL, o, -rec.qty, rec.price)
        self._log_failed(ev, leg, o, rec.qty, source)
        self.desk.money_moved(self, -(rec.qty * rec.price + rec.fee))

    def _log_failed(
        self, ev: TradeEvent, leg: Leg, o: Order, reversed_qty: float, source: str
    ) -> None:
        self.write_event(
            "real_trade_failed",
            self.now_ns,
            order_id=o.id,
            venue_order_id=leg.venue_order_id,
            trade_id=ev.trade_id,
            price=leg.price,
            size=leg.size,
            reversed=reversed_qty,
            venue_ts=ev.venue_ms,
            source=source,
        )

    def _taker_fee(self, qty: float, px: float, fee_rate_bps: float) -> float:
        """The market's schedule (PROTOCOL.md "Fees"); without one, the trade's own
        `fee_rate_bps` on the same curve."""
        if self.market.fee_schedule is not None:
            return taker_fee_usdc(qty, px, self.market.fee_schedule)
        if fee_rate_bps > 0:
            return round5(qty * fee_rate_bps / 10_000 * px * (1.0 - px))
        return 0.0

    # ------------------------------------------------------------------ reconcile
    def reconcile(
        self,
        open_orders: list[OrderEvent],
        trades: list[TradeEvent],
        asof_ns: int,
        grace_ns: int = 3_000_000_000,
    ) -> list[dict[str, Any]]:
        """Bring local state to the venue's REST view, taken at `asof_ns`; the venue
        wins. Orders posted less than `grace_ns` before it are left alone (the view
        may not show them yet). Returns the differences (each logged `real_reconcile`),
        with `what` = missed_fill | trade_failed | order_gone (we had it live; the
        venue does not) | order_still_open (we had it done; the venue lists it: the
        broker cancels it again). Resting orders no window knows are the broker's."""
        diffs: list[dict[str, Any]] = []
        for tr in trades:
            diffs.extend(self._trade(tr, "reconcile"))
        listed = {e.venue_order_id: e for e in open_orders}
        for o in sorted(self.orders.values(), key=lambda o: o.id):
            vid = self.venue_ids.get(o.id)
            if vid is None:
                continue
            if (
                o.live
                and vid not in listed
                and self.posted_ns.get(o.id, asof_ns) < asof_ns - grace_ns
            ):
                status = Status.FILLED if o.remaining <= EPS else Status.CANCELLED
                self._finish(o, status, self.now_ns, "not open at the venue")
                diffs.append({"what": "order_gone", "order_id": o.id, "venue_order_id": vid})
            elif (
                not o.live
                and vid in listed
                and self.done_ns.get(o.id, asof_ns) < asof_ns - grace_ns
            ):
                diffs.append({"what": "order_still_open", "order_id": o.id, "venue_order_id": vid})
        for d in diffs:
            self.write_event("real_reconcile", self.now_ns, **d)
        return diffs

    def check_positions(self, held: dict[int, float]) -> list[dict[str, Any]]:
        """Compare positions with the venue's token balances (`held`: shares by token).
        A difference seen twice in a row (not a fill still settling) is taken: the venue
        wins, at the average cost (or the last mark) a share."""
        diffs = []
        for token, venue_qty in held.items():
            diff = venue_qty - self.account.pos[token]
            if abs(diff) < 1e-6:
                self._position_diff.pop(token, None)
                continue
            seen = self._position_diff.get(token)
            self._position_diff[token] = diff
            if seen is None or abs(seen - diff) > 1e-6:
                continue
            acct = self.account
            price = acct.avg_cost(token) or acct.marks[token] or 0.0
            acct.adjust(token, diff, price)
            self.responses.pos[token] += diff
            self.responses.cost[token] += diff * price
            self.responses.seq += 1
            self._position_diff.pop(token, None)
            d = {
                "what": "position",
                "outcome": TOKEN_NAMES[token],
                "local": venue_qty - diff,
                "venue": venue_qty,
            }
            self.write_event("real_reconcile", self.now_ns, **d)
            diffs.append(d)
        return diffs

    # ------------------------------------------------------------------ window end
    def close(self, t_ns: int, winner: int | None) -> None:
        """End of the window: what is still live is gone with the market; winning
        shares pay 1 each (redeemed on chain, outside this venue)."""
        for o in sorted(self.orders.values(), key=lambda o: o.id):
            if o.live and not self.dry_run and o.id in self.venue_ids:
                o.cancel_requested = True
                self.desk.send(self, CANCEL, o)  # the venue drops them too; be sure
            self._finish(o, Status.CANCELLED, t_ns, "window closed")
        if winner is not None:
            acct = self.account
            held = list(acct.pos)
            payout = acct.settle(winner)
            self.responses.settle()
            self.write_event(
                "real_settlement",
                t_ns,
                symbol=self.market.symbol,
                winner=TOKEN_NAMES[winner],
                up_shares=held[0],
                down_shares=held[1],
                payout=payout,
                fees=acct.fees,
            )
        self.closed = True

    # ------------------------------------------------------------------ views
    def live_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.live]

    def open_notional(self) -> float:
        """USDC the live orders of this window can still buy for."""
        return sum(o.remaining * o.price / 1000.0 for o in self.orders.values() if o.live)

    def held_cost(self) -> float:
        return self.account.cost[0] + self.account.cost[1]

    def write_event(self, event: str, t_ns: int, **fields: Any) -> None:
        """One line in this window's event log (none without a log)."""
        if self.log is not None:
            self.log.write(event, t_ns, self.market.slug, **fields)
