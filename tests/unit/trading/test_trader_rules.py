"""The requote rules of the trade loop, with a scripted strategy."""

from __future__ import annotations

from pk8opt.engine import ENGINE_PARAMS, MarketSpec, PaperEngine, Status
from pk8opt.strategies.base import Desired, Strategy, StrategyContext, StrategyQuote
from pk8opt.trading.trader import TRADER_PARAMS, Trader

S = 1_000_000_000
T0 = 1_767_225_600 * S
TOP = (480, 500, 480, 500)
TICKS = (10, 10)


class Scripted(Strategy):
    name = "scripted"

    def __init__(self) -> None:
        super().__init__()
        self.up: Desired = Desired(None)
        self.contexts: list[StrategyContext] = []

    def quote(self, ctx: StrategyContext) -> StrategyQuote:
        self.contexts.append(ctx)
        return StrategyQuote(self.up, Desired(None, 0.0, "off"))


def make(**over: object) -> tuple[PaperEngine, Trader, Scripted]:
    spec = MarketSpec("btc-updown-15m-1767225600", "BTC", "15m", "0xc", "1", "2", T0, T0 + 900 * S)
    engine = PaperEngine(spec, ENGINE_PARAMS.defaults())
    strat = Scripted()
    trader = Trader(engine, strat, TRADER_PARAMS.resolve(over, "t"))
    return engine, trader, strat


def live_orders(engine: PaperEngine) -> list[int]:
    return [o.price for o in engine.orders.values() if o.live and not o.cancel_requested]


def test_warmup_then_post() -> None:
    engine, trader, strat = make(warmup_seconds=5.0)
    strat.up = Desired(0.45, 5.0, "x")
    trader.on_frame(T0, TOP, TICKS)
    trader.on_frame(T0 + 4 * S, TOP, TICKS)
    assert not engine.orders and not strat.contexts
    assert trader.next_wake_ns == T0 + 5 * S
    trader.on_frame(T0 + 5 * S, TOP, TICKS)
    assert live_orders(engine) == [450]
    ctx = strat.contexts[-1]
    assert ctx.by == 0.48 and ctx.ay == 0.50 and ctx.up_mid == 0.49 and ctx.tau_seconds == 895.0


def test_small_moves_wait_for_max_age_big_moves_wait_for_min_requote() -> None:
    engine, trader, strat = make(
        warmup_seconds=0.0,
        requote_min_ticks=3,
        requote_max_age_seconds=10.0,
        min_requote_seconds=1.0,
    )
    strat.up = Desired(0.45, 5.0, "x")
    trader.on_frame(T0, TOP, TICKS)
    strat.up = Desired(0.46, 5.0, "x")  # 1 tick: kept until the order is 10 s old
    trader.on_frame(T0 + S // 2, (470, 500, 480, 500), TICKS)
    assert live_orders(engine) == [450] and trader.next_wake_ns == T0 + 10 * S
    trader.on_frame(T0 + 10 * S, (470, 500, 480, 500), TICKS)
    assert live_orders(engine) == [460]
    strat.up = Desired(0.40, 5.0, "x")  # 6 ticks, but only 0.5 s after the last post
    trader.on_frame(T0 + 10 * S + S // 2, (460, 500, 480, 500), TICKS)
    assert live_orders(engine) == [460] and trader.next_wake_ns == T0 + 11 * S
    trader.on_frame(T0 + 11 * S, (460, 500, 480, 500), TICKS)
    assert live_orders(engine) == [400]


def test_cancel_is_immediate_and_rejections_are_retried_after_min_requote() -> None:
    engine, trader, strat = make(warmup_seconds=0.0, min_requote_seconds=2.0)
    strat.up = Desired(0.45, 5.0, "x")
    trader.on_frame(T0, TOP, TICKS)
    strat.up = Desired(None, 0.0, "off")
    trader.on_frame(T0 + S // 10, (470, 500, 480, 500), TICKS)
    assert live_orders(engine) == []
    strat.up = Desired(0.45, 1.0, "x")  # below the minimum size: rejected
    trader.on_frame(T0 + 3 * S, (460, 500, 480, 500), TICKS)
    rejected = [o for o in engine.orders.values() if o.status == Status.REJECTED]
    assert [o.reason for o in rejected] == ["min_size"]
    assert trader.next_wake_ns == T0 + 5 * S


def test_trading_disabled_sends_nothing() -> None:
    engine, trader, strat = make(warmup_seconds=0.0, trade_enabled=False)
    strat.up = Desired(0.45, 5.0, "x")
    trader.on_frame(T0, TOP, TICKS)
    assert not engine.orders
