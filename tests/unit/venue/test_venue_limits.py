"""Risk limits: defaults, each limit on its own, the balance check, bad values."""

from __future__ import annotations

import pytest

from pk8opt.engine.orders import Order
from pk8opt.errors import ConfigError
from pk8opt.venue.limits import Limits, LimitState

FREE = LimitState(window_notional=0.0, exposure=0.0, available_usdc=1000.0)


def order(price_milli: int, size: float) -> Order:
    return Order(1, 0, price_milli, size, 0)


def test_defaults_when_nothing_is_set() -> None:
    lim = Limits.from_env({})
    assert lim == Limits(10.0, 25.0, 50.0, 20.0, True)
    assert Limits.from_env({"PM_MAX_ORDER_SIZE": "", "PM_POST_ONLY": ""}) == lim
    assert lim.describe()["PM_MAX_EXPOSURE"] == 50.0


def test_values_from_the_env() -> None:
    lim = Limits.from_env(
        {
            "PM_MAX_ORDER_SIZE": "20",
            "PM_MAX_WINDOW_NOTIONAL": "30.5",
            "PM_MAX_EXPOSURE": "100",
            "PM_DAILY_LOSS_LIMIT": "5",
            "PM_POST_ONLY": "0",
        }
    )
    assert lim == Limits(20.0, 30.5, 100.0, 5.0, False)


def test_max_order_size() -> None:
    lim = Limits()
    assert lim.check(order(500, 10), FREE) is None
    reason = lim.check(order(500, 10.5), FREE)
    assert (
        reason is not None and reason.startswith("max_order_size") and "PM_MAX_ORDER_SIZE" in reason
    )


def test_max_window_notional_counts_what_the_window_has() -> None:
    lim = Limits()
    state = LimitState(window_notional=21.0, exposure=21.0, available_usdc=1000.0)
    assert lim.check(order(400, 10), state) is None  # 21 + 4 = 25
    reason = lim.check(order(410, 10), state)
    assert reason is not None and reason.startswith("max_window_notional")


def test_max_exposure_counts_every_window() -> None:
    lim = Limits()
    state = LimitState(window_notional=0.0, exposure=47.0, available_usdc=1000.0)
    assert lim.check(order(300, 10), state) is None
    reason = lim.check(order(310, 10), state)
    assert reason is not None and reason.startswith("max_exposure")


def test_the_free_balance_must_cover_the_order() -> None:
    lim = Limits()
    assert lim.check(order(500, 10), LimitState(0.0, 0.0, 5.0)) is None
    reason = lim.check(order(500, 10), LimitState(0.0, 0.0, 4.99))
    assert reason is not None and reason.startswith("balance")
    assert lim.check(order(500, 10), LimitState(0.0, 0.0, None)) is None  # not read yet


def test_halted_refuses_everything() -> None:
    reason = Limits().check(order(100, 5), LimitState(0.0, 0.0, 1000.0, halted="daily loss"))
    assert reason == "halted: daily loss"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("PM_MAX_ORDER_SIZE", "ten"),
        ("PM_MAX_WINDOW_NOTIONAL", "-1"),
        ("PM_MAX_EXPOSURE", "0"),
        ("PM_DAILY_LOSS_LIMIT", "nan"),
        ("PM_DAILY_LOSS_LIMIT", "inf"),
        ("PM_POST_ONLY", "maybe"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Limits.from_env({var: value})
    text = str(err.value)
    assert text.startswith(f"{var}={value}:") and "\n" not in text
