"""The markets a study was validated on: written by deploy, checked by live."""

from __future__ import annotations

from types import SimpleNamespace

from pk8opt.live.markets import market_list, unvalidated_markets
from pk8opt.live.settings import settings_from_env

BASE = {"PM_STRATEGY": "noop", "PM_VALIDATED_MARKETS": "BTC:15m,ETH:15m"}


def test_market_list_is_each_symbol_and_timeframe_once_in_order() -> None:
    sessions = [SimpleNamespace(symbol=s, timeframe=t) for s, t in
                [("eth", "15m"), ("BTC", "15m"), ("ETH", "15m"), ("BTC", "5m")]]  # fmt: skip
    assert market_list(sessions) == "BTC:15m,BTC:5m,ETH:15m"


def test_trading_a_market_the_study_never_saw_is_warned_about() -> None:
    same = settings_from_env({**BASE, "PM_WATCHLIST": "BTC:15m,ETH:15m"}, ".env")
    assert unvalidated_markets(same) is None
    fewer = settings_from_env({**BASE, "PM_WATCHLIST": "ETH:15m"}, ".env")
    assert unvalidated_markets(fewer) is None
    other = settings_from_env({**BASE, "PM_WATCHLIST": "BTC:15m,SOL:15m,BTC:5m"}, ".env")
    warning = unvalidated_markets(other)
    assert warning is not None and "SOL:15m, BTC:5m" in warning and ".env" in warning
    watched = {**BASE, "PM_WATCHLIST": "SOL:15m,BTC:15m", "PM_TRADELIST": "BTC:15m"}
    assert unvalidated_markets(settings_from_env(watched, ".env")) is None  # watched only
    unknown = settings_from_env({"PM_STRATEGY": "noop", "PM_WATCHLIST": "SOL:15m"}, ".env")
    assert unvalidated_markets(unknown) is None  # a hand-written .env: nothing to compare
