"""The trade loop shared by replay and the live runner.

At every market update (a frame boundary) the driver calls `Trader.on_frame` with the
top of book. The trader builds the strategy context, asks the strategy for its quote,
and turns the quote into posts and cancels on the paper engine under the requote rules:

- nothing happens before `warmup_seconds` after the first update;
- a token is (re)posted at most once per `min_requote_seconds` (cancels are immediate);
- a working order is replaced when the wanted price moved by `requote_min_ticks` ticks
  or more, or when the wanted size is below what is left of it; a smaller change is
  applied once the order is `requote_max_age_seconds` old.

The trade loop reads its own orders and positions as it last heard of them: fills,
acknowledgements and cancel confirmations reach it `PM_PAPER_RESPONSE_LATENCY_MS` after
the engine made them (`engine.responses`), at the first update at or after that time.

Shortcut: with a `pure` strategy, the strategy is called only when something it reads
changed (book tops, ticks, a fill, or tau crossing one of its breakpoints); otherwise the
previous quote is reused. This gives the same results as calling it on every update
(tested). `next_wake_ns` tells a driver the earliest time at which the trader could act
without any input changing.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pk8opt.engine.orders import Order
from pk8opt.params import Param, ParamSet
from pk8opt.strategies.base import Desired, Strategy, StrategyContext, StrategyQuote
from pk8opt.venue.base import Venue

TRADER_PARAMS = ParamSet(
    [
        Param(
            "warmup_seconds",
            float,
            5.0,
            "PM_WARMUP_SECONDS",
            "Wait this long after the first market update before trading",
            low=0.0,
            high=3600.0,
            unit="s",
        ),
        Param(
            "min_requote_seconds",
            float,
            1.0,
            "PM_MIN_REQUOTE_SECONDS",
            "Least time between two posts on one token",
            low=0.0,
            high=600.0,
            unit="s",
        ),
        Param(
            "requote_min_ticks",
            int,
            3,
            "PM_REQUOTE_MIN_TICKS",
            "Price move (ticks) that replaces a working order at once",
            low=0,
            high=1000,
        ),
        Param(
            "requote_max_age_seconds",
            float,
            10.0,
            "PM_REQUOTE_MAX_AGE_SECONDS",
            "Age after which any difference replaces a working order",
            low=0.0,
            high=86400.0,
            unit="s",
        ),
        Param(
            "trade_enabled", bool, True, "PM_TRADE_ENABLED", "Send orders at all (0: watch only)"
        ),
    ]
)

NEVER = 1 << 62
EPS = 1e-9
_NONE_TOP = (-1, -1, -1, -1)


class Trader:
    def __init__(
        self,
        engine: Venue,
        strategy: Strategy,
        params: Mapping[str, Any],
        *,
        skip_unchanged: bool = True,
    ) -> None:
        self.engine = engine
        self.strategy = strategy
        m = engine.market
        self.market = m
        self.warmup_ns = int(round(float(params["warmup_seconds"]) * 1e9))
        self.min_requote_ns = int(round(float(params["min_requote_seconds"]) * 1e9))
        self.min_ticks = int(params["requote_min_ticks"])
        self.max_age_ns = int(round(float(params["requote_max_age_seconds"]) * 1e9))
        self.enabled = bool(params["trade_enabled"])
        self.skip = skip_unchanged and type(strategy).pure
        self.window_s = (m.window_end_ns - m.window_start_ns) / 1e9
        bps = strategy.tau_breakpoints(self.window_s)
        self._bp_times = sorted({m.window_end_ns - int(round(b * 1e9)) for b in bps})
        self._gate_names = frozenset(type(strategy).gates)
        self.start_ns = -1
        self.working: list[Order | None] = [None, None]
        self.last_action = [-NEVER, -NEVER]
        self.quote: StrategyQuote | None = None
        self._key: tuple[Any, ...] | None = None
        self._last_gate = ["", ""]
        self.gate_counts: Counter[str] = Counter()
        self.strategy_calls = 0
        self.next_wake_ns = 0
        # equity sampling (mark-to-market at mids; last valid mid kept through gaps)
        self._mids: list[float | None] = [None, None]
        self._eq_key: tuple[Any, ...] | None = None
        self.equity_t: list[int] = []
        self.equity_v: list[float] = []

    # ------------------------------------------------------------------
    def on_frame(self, t_ns: int, top: tuple[int, int, int, int], ticks: tuple[int, int]) -> None:
        """One market update: top = (Up bid, Up ask, Down bid, Down ask) in milli, -1 none.

        Compiled twin: pk8opt.backtest.compiled.trader.same_inputs.
        Compiled twin: pk8opt.backtest.compiled.trader.trader_pre.
        Compiled twin: pk8opt.backtest.compiled.trader.trader_act.
        Compiled twin: pk8opt.backtest.compiled.trader.quiet.
        """
        known = self.engine.responses
        if known.latency_ns:
            # receive() applies what is due by now; skipped when nothing is (a no-op)
            due, acks = known._queue, known._acks
            if (due and due[0][0] <= t_ns) or (acks and acks[0][0] <= t_ns):
                known.receive(t_ns)
        seq = known.seq
        k = self._key
        if (
            self.skip
            and t_ns < self.next_wake_ns
            and k is not None
            and k[0] == top
            and k[1] == ticks
            and k[2] == seq
        ):
            # nothing the strategy or the requote rules read has changed: a no-op update
            bp = self._bp_times
            if k[3] == (bisect_left(bp, t_ns), bisect_right(bp, t_ns)):
                return
        eq_key = self._eq_key
        if eq_key is None or eq_key[0] != top or eq_key[1] != seq:
            self._sample_equity(t_ns, top)
            self._eq_key = (top, seq)
        if self.start_ns < 0:
            self.start_ns = t_ns
        wake = NEVER
        if not self.enabled:
            self.next_wake_ns = NEVER
            return
        if t_ns < self.start_ns + self.warmup_ns:
            self.next_wake_ns = self.start_ns + self.warmup_ns
            return
        bp = self._bp_times
        bucket = (bisect_left(bp, t_ns), bisect_right(bp, t_ns))
        key = (top, ticks, seq, bucket)
        if not self.skip or key != k or self.quote is None:
            self.quote = self.strategy.quote(self._context(t_ns, top, ticks))
            self.strategy_calls += 1
            self._key = key
            self._count_gates(self.quote)
        q = self.quote
        wake = min(self._act(0, q.up, t_ns, ticks[0]), self._act(1, q.down, t_ns, ticks[1]))
        i = bucket[0]
        if i < len(bp):
            wake = min(wake, bp[i] if bp[i] > t_ns else bp[i] + 1)
        self.next_wake_ns = wake

    def cancel_all(self, t_ns: int) -> None:
        """Cancel every live order (quoting paused); nothing is reposted while the
        trader is disabled. Cancels go through the engine's latency like any other."""
        engine = self.engine
        for o in sorted(engine.orders.values(), key=lambda o: o.id):
            if o.seen_live:
                engine.cancel(t_ns, o)
        self.working = [None, None]
        self.next_wake_ns = 0

    def finish(self, t_ns: int) -> None:
        """After settlement: the final equity sample.

        Compiled twin: pk8opt.backtest.compiled.trader.finish.
        """
        self.equity_t.append(t_ns)
        self.equity_v.append(self.engine.account.equity(None, None))

    # ------------------------------------------------------------------
    def _context(
        self, t_ns: int, top: tuple[int, int, int, int], ticks: tuple[int, int]
    ) -> StrategyContext:
        """Compiled twin: pk8opt.backtest.compiled.trader.context."""
        m = self.market
        known = self.engine.responses  # its own state as the trade loop last heard it
        b_up, a_up, b_dn, a_dn = top
        by = b_up / 1000.0 if b_up >= 0 else None
        ay = a_up / 1000.0 if a_up >= 0 else None
        bn = b_dn / 1000.0 if b_dn >= 0 else None
        an = a_dn / 1000.0 if a_dn >= 0 else None
        qy, qn = known.pos
        cy, cn = known.cost
        return StrategyContext(
            m.symbol,
            m.timeframe,
            (m.window_end_ns - t_ns) / 1e9,
            self.window_s,
            m.condition_id,
            m.token_up,
            m.token_down,
            by,
            ay,
            bn,
            an,
            (b_up + a_up) / 2000.0 if by is not None and ay is not None else None,
            (b_dn + a_dn) / 2000.0 if bn is not None and an is not None else None,
            m.min_order_size,
            max(ticks) / 1000.0,
            ticks[0] / 1000.0,
            ticks[1] / 1000.0,
            qy,
            qn,
            cy / qy if qy > 0.0 else 0.0,
            cn / qn if qn > 0.0 else 0.0,
            cy + cn,
            t_ns,
        )

    def _count_gates(self, quote: StrategyQuote) -> None:
        """Compiled twin: pk8opt.backtest.compiled.trader.trader_quoted."""
        last = self._last_gate
        d = quote.up
        gate = d.why if d.px is None and d.why in self._gate_names else ""
        if gate != last[0]:
            if gate:
                self.gate_counts[gate] += 1
            last[0] = gate
        d = quote.down
        gate = d.why if d.px is None and d.why in self._gate_names else ""
        if gate != last[1]:
            if gate:
                self.gate_counts[gate] += 1
            last[1] = gate

    def _act(self, leg: int, d: Desired, t_ns: int, tick: int) -> int:
        """Apply the requote rules to one token; returns the next wake-up time.

        Compiled twin: pk8opt.backtest.compiled.trader.act.
        """
        engine = self.engine
        o = self.working[leg]
        if o is not None and (not o.seen_live or o.cancel_requested):
            o = self.working[leg] = None
        if d.px is None or d.q <= 0.0:
            if o is not None:
                engine.cancel(t_ns, o)
                self.working[leg] = None
            return NEVER
        ready_at = self.last_action[leg] + self.min_requote_ns
        price = int(round(d.px * 1000))
        if o is None:
            if t_ns >= ready_at:
                return self._place(leg, t_ns, price, d)
            return ready_at
        diff = abs(price - o.price)
        differs = diff > 0 or abs(d.q - o.size) > EPS
        if not differs:
            return NEVER
        must = (diff > 0 and diff >= self.min_ticks * tick) or d.q < o.seen_remaining - EPS
        aged_at = o.submit_ns + self.max_age_ns
        if must or t_ns >= aged_at:
            if t_ns >= ready_at:
                engine.cancel(t_ns, o)
                self.working[leg] = None
                return self._place(leg, t_ns, price, d)
            return ready_at
        return aged_at

    def _place(self, leg: int, t_ns: int, price: int, d: Desired) -> int:
        """Post; a rejected post is retried once `min_requote_seconds` have passed.

        Compiled twin: pk8opt.backtest.compiled.trader.place.
        """
        o = self.engine.submit(t_ns, leg, price, d.q, d.why)
        self.last_action[leg] = t_ns
        if o.live:
            self.working[leg] = o
            return NEVER
        self.working[leg] = None
        return t_ns + self.min_requote_ns

    def _sample_equity(self, t_ns: int, top: tuple[int, int, int, int]) -> None:
        """Compiled twin: pk8opt.backtest.compiled.trader.sample_equity."""
        for tok in (0, 1):
            bid, ask = top[2 * tok], top[2 * tok + 1]
            if bid >= 0 and ask >= 0:
                self._mids[tok] = (bid + ask) / 2000.0
        self.equity_t.append(t_ns)
        self.equity_v.append(self.engine.account.equity(self._mids[0], self._mids[1]))
