"""Risk limits every real order is checked against before it leaves.

Read from the `.env` mapping (`Limits.from_env`), each with a safe default:

| variable | default | meaning |
|---|---|---|
| `PM_MAX_ORDER_SIZE` | 10 | largest order, in shares |
| `PM_MAX_WINDOW_NOTIONAL` | 25 | USDC bought per market window (fills plus what live orders can still buy) |
| `PM_MAX_EXPOSURE` | 50 | USDC at risk across markets: open buy orders' price x size plus the cost of held positions |
| `PM_DAILY_LOSS_LIMIT` | 20 | USDC; once the UTC day's realized + marked loss reaches it, every order is cancelled and quoting stops |
| `PM_POST_ONLY` | 1 | post orders as maker-only: one that would take liquidity is refused by the venue |

`Limits.check(order, state)` returns why an order is refused (a short reason string),
or None. `state` (`LimitState`) is what the broker knows at that moment: what this
window has bought and has working, what all windows hold and have working, and the
USDC the account can still spend (the balance minus what open orders reserve). The
balance check is part of it: an order the free balance cannot cover is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from pk8opt.engine.orders import Order
from pk8opt.errors import ConfigError

EPS = 1e-9

LIMIT_VARS: dict[str, tuple[str, float, str]] = {
    # field: (variable, default, meaning)
    "max_order_size": ("PM_MAX_ORDER_SIZE", 10.0, "largest order, in shares"),
    "max_window_notional": (
        "PM_MAX_WINDOW_NOTIONAL",
        25.0,
        "USDC bought per market window (fills plus live orders)",
    ),
    "max_exposure": (
        "PM_MAX_EXPOSURE",
        50.0,
        "USDC at risk across markets: open buy orders plus the cost of held positions",
    ),
    "daily_loss_limit": (
        "PM_DAILY_LOSS_LIMIT",
        20.0,
        "USDC lost in the UTC day (realized + marked) at which everything is cancelled",
    ),
}
POST_ONLY_VAR = "PM_POST_ONLY"


@dataclass(frozen=True)
class LimitState:
    """What the limits are checked against, as the broker knows it now (USDC)."""

    window_notional: float  # this window: cost of fills + price x remaining of live orders
    exposure: float  # all windows: cost of held positions + price x remaining of live buys
    available_usdc: float | None  # balance minus what open orders reserve; None: unknown
    halted: str | None = None  # why quoting stopped (the daily loss limit), else None


@dataclass(frozen=True)
class Limits:
    max_order_size: float = 10.0
    max_window_notional: float = 25.0
    max_exposure: float = 50.0
    daily_loss_limit: float = 20.0
    post_only: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        """The limits of a `.env` mapping; unset or empty variables take the defaults.
        A bad value is one `ConfigError` naming the variable and the fix."""
        values: dict[str, float] = {}
        for field, (var, default, meaning) in LIMIT_VARS.items():
            raw = env.get(var, "").strip()
            if not raw:
                values[field] = default
                continue
            try:
                v = float(raw)
            except ValueError:
                v = math.nan
            if not math.isfinite(v) or v <= 0:
                raise ConfigError(
                    f"{var}={raw}: must be a number above 0 ({meaning}); "
                    f"fix it in the .env or remove it for the default {default:g}"
                )
            values[field] = v
        raw = env.get(POST_ONLY_VAR, "").strip().lower()
        if raw in ("", "1", "true", "yes", "on"):
            post_only = True
        elif raw in ("0", "false", "no", "off"):
            post_only = False
        else:
            raise ConfigError(
                f"{POST_ONLY_VAR}={raw}: must be 1 (maker-only orders) or 0 (orders may "
                "take liquidity)"
            )
        return cls(post_only=post_only, **values)

    def check(self, order: Order, state: LimitState) -> str | None:
        """Why `order` (a buy of `order.size` at `order.price` milli) may not be sent,
        or None when every limit allows it."""
        if state.halted:
            return f"halted: {state.halted}"
        notional = order.size * order.price / 1000.0
        if order.size > self.max_order_size + EPS:
            return (
                f"max_order_size: {order.size:g} shares > PM_MAX_ORDER_SIZE={self.max_order_size:g}"
            )
        if state.window_notional + notional > self.max_window_notional + EPS:
            return (
                f"max_window_notional: {state.window_notional:.2f} + {notional:.2f} USDC > "
                f"PM_MAX_WINDOW_NOTIONAL={self.max_window_notional:g}"
            )
        if state.exposure + notional > self.max_exposure + EPS:
            return (
                f"max_exposure: {state.exposure:.2f} + {notional:.2f} USDC > "
                f"PM_MAX_EXPOSURE={self.max_exposure:g}"
            )
        if state.available_usdc is not None and notional > state.available_usdc + EPS:
            return (
                f"balance: {notional:.2f} USDC needed, {max(state.available_usdc, 0.0):.2f} "
                "free (balance minus open orders)"
            )
        return None

    def describe(self) -> dict[str, float | bool]:
        """The limits by variable name, for a log line or the dashboard."""
        out: dict[str, float | bool] = {
            var: getattr(self, field) for field, (var, _, _) in LIMIT_VARS.items()
        }
        out[POST_ONLY_VAR] = self.post_only
        return out
