"""A strategy context (ctx) with every field set, to change one at a time."""

from __future__ import annotations

from pk8opt.strategies import StrategyContext


def ctx(**over: object) -> StrategyContext:
    base = dict(
        symbol="BTC",
        timeframe="15m",
        tau_seconds=400.0,
        window_seconds=900.0,
        market="0xc",
        tok_up="1",
        tok_dn="2",
        by=0.48,
        ay=0.50,
        bn=0.49,
        an=0.51,
        up_mid=0.49,
        down_mid=0.50,
        min_order_size=5.0,
        tick_size=0.01,
        tick_up=0.01,
        tick_dn=0.01,
        qy=0.0,
        qn=0.0,
        cost_y=0.0,
        cost_n=0.0,
        current_exposure=0.0,
        t_ns=0,
    )
    base.update(over)
    return StrategyContext(**base)  # type: ignore[arg-type]
