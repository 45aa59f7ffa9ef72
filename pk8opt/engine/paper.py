"""PaperEngine: latency, queue position, fills, fees, accounting and settlement.

Driven only by timestamps carried by events; it never reads the wall clock. See
docs/engine.md for the event API and the fill rules.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pk8opt.engine.accounting import Account
from pk8opt.engine.config import EngineSettings
from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.fees import maker_rebate_usdc, taker_fee_usdc
from pk8opt.engine.flow import MakerFlow
from pk8opt.engine.levels import NONE, REC_LEVEL, LevelTracker
from pk8opt.engine.market import MarketSpec
from pk8opt.engine.orders import Order, Status
from pk8opt.engine.responses import DONE, FILL, OPEN, Responses
from pk8opt.recordings.schema import ASK, BID

EPS = 1e-9
MIN_MARKETABLE_MILLI = 1000.0  # $1, in shares x milli
_OPEN, _CANCEL_ACK, _CANCEL_CLEAR = 0, 1, 2
TOKEN_NAMES = ("Up", "Down")


class BookView(Protocol):
    def best(self, token: int, side: int) -> int: ...
    def size(self, token: int, side: int, price: int) -> float: ...
    def tick_of(self, token: int) -> int: ...
    def level_stamp(self, token: int, side: int, price: int) -> int: ...


class PaperEngine:
    """One market window on paper. Buy orders on either token; see docs/engine.md."""

    def __init__(
        self,
        market: MarketSpec,
        params: Mapping[str, Any] | EngineSettings,
        *,
        log: EventLog | None = None,
        view: BookView | None = None,
    ) -> None:
        """`params`: resolved `ENGINE_PARAMS` values, or the `EngineSettings` made of them."""
        st = params if isinstance(params, EngineSettings) else EngineSettings.from_params(params)
        self.settings = st
        self.market = market
        self.log = log
        self.account = Account(st.starting_cash_usdc)
        self.post_ns = st.post_ns
        self.cancel_req_ns = st.cancel_req_ns
        self.cancel_clear_ns = st.cancel_clear_ns
        self.through_volume = st.trade_through_volume
        self.ahead_frac = st.queue_ahead_frac
        self.add_ahead = st.queue_add_ahead_frac
        self.responses = Responses(st.response_ns)
        self.flow: MakerFlow | None = None
        if st.maker_flow:
            self.flow = MakerFlow(st.seed, market.slug, st.flow_base)
        self.deplete = st.take_depletes
        # asks our takes consumed, by (token, price): (shares, the level's stamp then)
        self.depleted: dict[tuple[int, int], tuple[float, int]] = {}
        self.flow_scale = st.flow_depth_scale
        self.flow_noise = st.flow_noise
        self.tracker = LevelTracker(self._on_record, market.tick_milli)
        self.view: BookView = view if view is not None else self.tracker
        self.orders: dict[int, Order] = {}
        self.resting: list[list[Order]] = [[], []]
        self._timers: list[tuple[int, int, int, Order]] = []
        self._seq = 0
        self._flow_next = [(1 << 62, 0.0), (1 << 62, 0.0)]
        self.now_ns = 0
        self.fill_seq = 0  # bumps on every fill: the trader's inputs changed
        self.open_seq = 0  # bumps whenever an order starts resting
        self.orders_accepted = 0
        self.orders_with_fill = 0
        self.rejections: Counter[str] = Counter()
        # every fill: (t_ns, token, price_milli, qty, why, after its cancel was requested)
        self.fill_log: list[tuple[int, int, int, float, str, bool]] = []
        self.closed = False

    # ------------------------------------------------------------------ driver API
    def on_row(
        self, local_ns: int, kind: int, token: int, side: int, price: int, size: float
    ) -> None:
        """Feed one normalized event row (schema.EVENTS_SCHEMA order of time)."""
        self.advance_to(local_ns)
        self.tracker.row(kind, token, side, price, size)

    def on_rows(
        self,
        local_ns: int,
        kinds: Sequence[int],
        tokens: Sequence[int],
        sides: Sequence[int],
        prices: Sequence[int],
        sizes: Sequence[float],
        lo: int,
        hi: int,
    ) -> None:
        """`on_row(local_ns, ...)` for rows `lo:hi` of the columns, one call for a frame."""
        timers = self._timers
        flow = self.flow
        row = self.tracker.row
        for i in range(lo, hi):
            if flow is not None or (timers and timers[0][0] <= local_ns):
                self.advance_to(local_ns)
            elif local_ns > self.now_ns:  # nothing due: advance_to would only move the clock
                self.now_ns = local_ns
            row(kinds[i], tokens[i], sides[i], prices[i], sizes[i])

    def end_frame(self, local_ns: int) -> None:
        """The rows of one raw frame are all in: close snapshots, check crossed orders."""
        self.advance_to(local_ns)
        self.tracker.end_frame()
        resting = self.resting
        if resting[0] or resting[1]:  # check_cross looks at resting orders only
            self.check_cross()

    def advance_to(self, t_ns: int) -> None:
        """Run latency timers and maker-flow arrivals due at or before `t_ns`.

        Compiled twin: pk8opt.backtest.compiled.engine.advance.
        """
        timers = self._timers
        if self.flow is None and (not timers or timers[0][0] > t_ns):
            if t_ns > self.now_ns:  # nothing due: only the clock moves
                self.now_ns = t_ns
            return
        while True:
            due = timers[0][0] if timers else 1 << 62
            ftok = -1
            if self.flow is not None:
                for tok in (0, 1):
                    if self.resting[tok] and self._flow_next[tok][0] < due:
                        due = self._flow_next[tok][0]
                        ftok = tok
            if due > t_ns:
                break
            self.now_ns = due
            if ftok >= 0:
                z = self._flow_next[ftok][1]
                self._flow_next[ftok] = self.flow.next_after(ftok, due)  # type: ignore[union-attr]
                self._flow_arrival(ftok, z)
            else:
                _, _, action, order = heapq.heappop(timers)
                if action == _OPEN:
                    self._open(order)
                elif action == _CANCEL_ACK:
                    self._cancel_ack(order)
                else:
                    self._cancel_clear(order)
        if t_ns > self.now_ns:
            self.now_ns = t_ns

    def next_due_ns(self) -> int:
        """The time of the next timer, flow arrival or response that can change anything."""
        due = self._timers[0][0] if self._timers else 1 << 62
        if self.flow is not None:
            for tok in (0, 1):
                if self.resting[tok]:
                    due = min(due, self._flow_next[tok][0])
        q = self.responses._queue
        if q and q[0][0] < due:
            return q[0][0]
        return due

    def next_timer_ns(self) -> int:
        """The time of the next latency timer or maker-flow arrival.

        Compiled twin: pk8opt.backtest.compiled.engine.next_due.
        """
        due = self._timers[0][0] if self._timers else 1 << 62
        if self.flow is not None:
            for tok in (0, 1):
                if self.resting[tok]:
                    due = min(due, self._flow_next[tok][0])
        return due

    def _on_record(
        self, rec: int, token: int, side: int, price: int, old: float, new: float
    ) -> None:
        if rec == REC_LEVEL:
            if side == BID:
                if self.resting[token]:
                    self.on_level(token, price, old, new)
            elif self.depleted:  # the venue changed the level: what it shows is real again
                self.depleted.pop((token, price), None)
        elif self.resting[token]:
            self.on_trade(token, price, new)

    # ------------------------------------------------------------------ queue and fills
    def on_level(self, token: int, price: int, old: float, new: float) -> None:
        """The visible bid size at (token, price) went from `old` to `new`.

        Compiled twin: pk8opt.backtest.compiled.engine.on_level.
        """
        for o in self.resting[token]:
            if o.price != price:
                continue
            delta = new - old
            if delta > 0:
                o.ahead += self.add_ahead * delta
            elif delta < 0:
                removed = -delta
                traded = min(removed, o.trade_debt)
                o.trade_debt -= traded
                removed -= traded
                base = old - traded
                if removed > 0 and base > 0:
                    o.ahead *= max(0.0, base - removed) / base
            if o.ahead > new:
                o.ahead = new

    def on_trade(self, token: int, price: int, size: float) -> None:
        """A trade printed on `token` at `price`: queue at the price, through below (all
        of an order, or with `trade_through_volume` the trade's size, shared by the
        orders it went through in the order they rested).

        Compiled twin: pk8opt.backtest.compiled.engine.on_trade.
        """
        through = size
        for o in list(self.resting[token]):
            if price == o.price:
                o.trade_debt += size
                used = min(o.ahead, size)
                o.ahead -= used
                rest = size - used
                if rest > EPS:
                    self._fill(o, min(rest, o.remaining), o.price, maker=True, why="queue")
            elif price < o.price:
                qty = o.remaining
                if self.through_volume:
                    qty = min(qty, through)
                    through -= qty
                    if qty <= EPS:
                        continue
                self._fill(o, qty, o.price, maker=True, why="trade_through")

    def check_cross(self) -> None:
        """A best ask at or below a resting bid means the book traded through it.

        Compiled twin: pk8opt.backtest.compiled.engine.check_cross.
        """
        for tok in (0, 1):
            if not self.resting[tok]:
                continue
            ask = self.view.best(tok, ASK)
            if ask == NONE:
                continue
            for o in list(self.resting[tok]):
                if o.phantom:
                    if ask > o.price:
                        o.phantom = False
                    continue
                if o.price >= ask:
                    if self.depleted and not self._asks_left(tok, ask, o.price):
                        continue  # only asks our own takes consumed are at or below it
                    self._fill(o, o.remaining, o.price, maker=True, why="book_through")

    def _flow_arrival(self, token: int, z: float) -> None:
        """Compiled twin: pk8opt.backtest.compiled.engine.flow_arrival."""
        view = self.view
        best = view.best(token, BID)
        if best == NONE:
            return
        qty = self.flow_scale * view.size(token, BID, best)
        qty *= math.exp(self.flow_noise * z - 0.5 * self.flow_noise**2)
        used = 0.0
        for o in sorted(self.resting[token], key=lambda o: (-o.price, o.id)):
            above = used
            p = best
            while p > o.price and above < qty:
                above += view.size(token, BID, p)
                p -= 1
            reach = qty - above - o.ahead
            if reach > EPS:
                q = min(reach, o.remaining)
                used += q
                self._fill(o, q, o.price, maker=True, why="maker_flow")

    def _fill(self, o: Order, qty: float, price: int, *, maker: bool, why: str) -> None:
        """Compiled twin: pk8opt.backtest.compiled.engine.fill."""
        if qty <= EPS:
            return
        px = price / 1000.0
        schedule = self.market.fee_schedule
        if maker:
            fee, rebate = 0.0, maker_rebate_usdc(qty, px, schedule)
        else:
            fee, rebate = taker_fee_usdc(qty, px, schedule), 0.0
        if o.filled == 0.0:
            self.orders_with_fill += 1
        self.account.fill(o, qty, px, fee, rebate, maker)
        o.filled += qty
        self.fill_seq += 1
        self.fill_log.append((self.now_ns, o.token, price, qty, why, o.cancel_requested))
        self.responses.send(self.now_ns, FILL, o, qty, px)
        if self.log is not None:
            self.log.write(
                "paper_fill",
                self.now_ns,
                self.market.slug,
                symbol=self.market.symbol,
                order_id=o.id,
                outcome=TOKEN_NAMES[o.token],
                side="BUY",
                qty=qty,
                price=px,
                fee=fee,
                rebate_est=rebate,
                liquidity="maker" if maker else "taker",
                why=why,
                remaining=o.remaining,
            )
        if o.remaining <= EPS:
            o.filled = o.size
            o.status = Status.FILLED
            if o in self.resting[o.token]:
                self.resting[o.token].remove(o)
            self.account.release(o)
            self.responses.send(self.now_ns, DONE, o)

    # ------------------------------------------------------------------ trader API
    def submit(self, t_ns: int, token: int, price: int, size: float, why: str = "") -> Order:
        """Post a buy of `size` shares of `token` (0 Up, 1 Down) at `price` milli.

        Compiled twin: pk8opt.backtest.compiled.engine.submit.
        """
        self._seq += 1
        o = Order(self._seq, token, price, size, t_ns, why)
        self.orders[o.id] = o
        tick = self.view.tick_of(token)
        reason = ""
        if token not in (0, 1):
            reason = "token"
        elif not size >= self.market.min_order_size - EPS:
            reason = "min_size"
        elif price % tick != 0:
            reason = "tick_size"
        elif price < tick or price > 1000 - tick:
            reason = "price_bounds"
        elif size * price < MIN_MARKETABLE_MILLI and 0 <= self.view.best(token, ASK) <= price:
            reason = "min_notional"  # a marketable order must be worth at least $1
        else:
            px = price / 1000.0
            need = size * px + taker_fee_usdc(size, min(px, 0.5), self.market.fee_schedule)
            if self.market.fee_schedule is not None:
                need += 0.0001
            if not self.account.reserve(o, need):
                reason = "cash"
        if self.log is not None:
            self.log.write(
                "paper_order_submit",
                t_ns,
                self.market.slug,
                symbol=self.market.symbol,
                order_id=o.id,
                outcome=TOKEN_NAMES[token] if token in (0, 1) else str(token),
                side="BUY",
                price=price / 1000.0,
                size=size,
                why=why,
            )
        if reason:
            o.status = Status.REJECTED
            o.reason = reason
            self.rejections[reason] += 1
            if self.log is not None:
                self.log.write(
                    "paper_order_rejected",
                    t_ns,
                    self.market.slug,
                    order_id=o.id,
                    reason=reason,
                    tick=tick / 1000.0,
                    min_order_size=self.market.min_order_size,
                )
            return o
        self.orders_accepted += 1
        self._push(t_ns + self.post_ns, _OPEN, o)
        return o

    def cancel(self, t_ns: int, o: Order) -> None:
        """Request a cancel; the order can fill until the clear latency has passed.

        Compiled twin: pk8opt.backtest.compiled.engine.cancel.
        """
        if not o.live or o.cancel_requested:
            return
        o.cancel_requested = True
        self._push(t_ns + self.cancel_req_ns, _CANCEL_ACK, o)

    def close(self, t_ns: int, winner: int | None) -> None:
        """End of the window: remaining orders expire, winning shares pay 1 each.

        Compiled twin: pk8opt.backtest.compiled.engine.close_window.
        """
        self.advance_to(t_ns)
        for o in sorted(self.orders.values(), key=lambda o: o.id):
            if o.live:
                o.status = Status.CANCELLED
                if o in self.resting[o.token]:
                    self.resting[o.token].remove(o)
                self.account.release(o)
                self.responses.send(t_ns, DONE, o)
                if self.log is not None:
                    self.log.write("paper_order_expired", t_ns, self.market.slug, order_id=o.id)
        self._timers.clear()
        self.responses.receive(t_ns)
        if winner is not None:
            acct = self.account
            held = list(acct.pos)
            payout = acct.settle(winner)
            self.responses.settle()
            if self.log is not None:
                self.log.write(
                    "paper_settlement",
                    t_ns,
                    self.market.slug,
                    symbol=self.market.symbol,
                    winner=TOKEN_NAMES[winner],
                    up_shares=held[0],
                    down_shares=held[1],
                    payout=payout,
                    cash=acct.cash,
                    fees=acct.fees,
                )
        self.closed = True

    # ------------------------------------------------------------------ internals
    def _push(self, due: int, action: int, o: Order) -> None:
        """Compiled twin: pk8opt.backtest.compiled.engine.push."""
        self._seq += 1
        heapq.heappush(self._timers, (due, self._seq, action, o))

    def _open(self, o: Order) -> None:
        """Compiled twin: pk8opt.backtest.compiled.engine.open_order."""
        if o.status != Status.PENDING:
            return
        o.status = Status.OPEN
        o.open_ns = self.now_ns
        self.open_seq += 1
        self.responses.send(self.now_ns, OPEN, o)
        if self.log is not None:
            self.log.write(
                "paper_order_open",
                self.now_ns,
                self.market.slug,
                order_id=o.id,
                price=o.price / 1000.0,
                size=o.size,
            )
        ask = self.view.best(o.token, ASK)
        if ask != NONE and ask <= o.price:
            self._take(o, ask)
            o.phantom = o.status == Status.OPEN and not self.deplete
        if o.status == Status.OPEN:
            o.ahead = self.ahead_frac * self.view.size(o.token, BID, o.price)
            if not self.resting[o.token] and self.flow is not None:
                self._flow_next[o.token] = self.flow.next_after(o.token, self.now_ns)
            self.resting[o.token].append(o)

    def _take(self, o: Order, ask: int) -> None:
        """A marketable order fills against the visible asks up to its limit price.

        Compiled twin: pk8opt.backtest.compiled.engine.open_order.
        """
        for p in range(ask, o.price + 1):
            avail = self.view.size(o.token, ASK, p)
            if avail <= 0.0:
                continue
            if self.deplete:
                avail -= self._consumed(o.token, p)
                if avail <= EPS:
                    continue
            qty = min(avail, o.remaining)
            self._fill(o, qty, p, maker=False, why="taker")
            if self.deplete:
                got = self._consumed(o.token, p)
                stamp = self.view.level_stamp(o.token, ASK, p)
                self.depleted[(o.token, p)] = (got + qty, stamp)
            if o.status != Status.OPEN:
                return

    def _consumed(self, token: int, price: int) -> float:
        """Shares of the visible ask at `price` our takes consumed since it last changed.

        Compiled twin: pk8opt.backtest.compiled.engine.consumed.
        """
        got = self.depleted.get((token, price))
        if got is None:
            return 0.0
        if self.view.level_stamp(token, ASK, price) != got[1]:
            del self.depleted[(token, price)]  # the venue's book changed there since
            return 0.0
        return got[0]

    def _asks_left(self, token: int, low: int, high: int) -> bool:
        """Whether any visible ask from `low` to `high` is more than our takes consumed.

        Compiled twin: pk8opt.backtest.compiled.engine.asks_left.
        """
        view = self.view
        for p in range(low, high + 1):
            size = view.size(token, ASK, p)
            if size > 0.0 and size - self._consumed(token, p) > EPS:
                return True
        return False

    def _cancel_ack(self, o: Order) -> None:
        """Compiled twin: pk8opt.backtest.compiled.engine.advance."""
        if not o.live:
            return
        if self.log is not None:
            self.log.write(
                "paper_order_cancel_req",
                self.now_ns,
                self.market.slug,
                order_id=o.id,
                requested_ns=self.now_ns - self.cancel_req_ns,
            )
        self._push(self.now_ns + self.cancel_clear_ns, _CANCEL_CLEAR, o)

    def _cancel_clear(self, o: Order) -> None:
        """Compiled twin: pk8opt.backtest.compiled.engine.advance."""
        if not o.live:
            return
        o.status = Status.CANCELLED
        if o in self.resting[o.token]:
            self.resting[o.token].remove(o)
        self.account.release(o)
        self.responses.send(self.now_ns, DONE, o)
        if self.log is not None:
            self.log.write(
                "paper_order_cancelled",
                self.now_ns,
                self.market.slug,
                order_id=o.id,
                filled=o.filled,
            )
