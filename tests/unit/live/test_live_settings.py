"""Live settings: the live-only PM_* variables, refusals and one-line errors."""

from __future__ import annotations

import pytest

from pk8opt.errors import ConfigError
from pk8opt.live.settings import (
    Series,
    merge_env,
    parse_market_list,
    settings_from_env,
)


def settings(**env: str):
    return settings_from_env(env, ".env", with_run_config=False)


def test_market_list_parses_and_normalizes() -> None:
    assert parse_market_list(" btc:15m, ETH:15M ,BTC:15m,", "PM_WATCHLIST") == (
        Series("BTC", "15m"),
        Series("ETH", "15m"),
    )
    assert str(Series("SOL", "5m")) == "SOL:5m"
    assert Series("SOL", "5m").window_s == 300


@pytest.mark.parametrize(
    ("text", "needle"),
    [("DOGE:15m", "unknown symbol 'DOGE'"), ("BTC:1h", "unknown timeframe '1h'"), (" , ", "empty")],
)
def test_market_list_errors_name_the_variable(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_market_list(text, "PM_TRADELIST")
    assert "PM_TRADELIST" in str(err.value) and needle in str(err.value)
    assert "\n" not in str(err.value)


def test_defaults_watch_and_trade_btc() -> None:
    s = settings(PM_STRATEGY="balanced_arb")
    assert s.strategy == "balanced_arb"
    assert s.watchlist == s.tradelist == (Series("BTC", "15m"),)
    assert s.trade_enabled and s.is_traded(Series("BTC", "15m"))


def test_tradelist_subset_of_watchlist() -> None:
    s = settings(PM_STRATEGY="noop", PM_WATCHLIST="BTC:15m,ETH:15m", PM_TRADELIST="ETH:15m")
    assert not s.is_traded(Series("BTC", "15m"))
    assert s.is_traded(Series("ETH", "15m"))
    with pytest.raises(ConfigError, match="PM_TRADELIST has SOL:15m which PM_WATCHLIST lacks"):
        settings(PM_STRATEGY="noop", PM_WATCHLIST="BTC:15m", PM_TRADELIST="SOL:15m")


def test_trade_disabled_watches_only() -> None:
    s = settings(PM_STRATEGY="noop", PM_TRADE_ENABLED="0")
    assert not s.trade_enabled and not s.is_traded(Series("BTC", "15m"))
    with pytest.raises(ConfigError, match="PM_TRADE_ENABLED"):
        settings(PM_STRATEGY="noop", PM_TRADE_ENABLED="maybe")


def test_missing_strategy_is_one_line_naming_it() -> None:
    with pytest.raises(ConfigError) as err:
        settings(PM_WATCHLIST="BTC:15m")
    msg = str(err.value)
    assert "PM_STRATEGY" in msg and "deploy --best" in msg and "\n" not in msg


@pytest.mark.parametrize(
    ("env", "real_flag", "mode"),
    [
        ({}, False, "paper"),
        ({"PM_PAPER_TRADING": "1", "PM_DRY_RUN": "1"}, False, "paper"),
        ({"PM_PAPER_TRADING": "0"}, False, "dry run"),
        ({"PM_PAPER_TRADING": "0", "PM_DRY_RUN": "1"}, False, "dry run"),
        ({"PM_PAPER_TRADING": "0", "PM_DRY_RUN": "0"}, True, "real"),
    ],
)
def test_the_mode_comes_from_both_variables_and_the_flag(
    env: dict[str, str], real_flag: bool, mode: str
) -> None:
    got = settings_from_env(
        {"PM_STRATEGY": "noop", **env}, ".env", with_run_config=False, real_flag=real_flag
    )
    assert got.mode == mode
    assert (got.limits is None) == (mode == "paper")


@pytest.mark.parametrize(
    ("env", "real_flag", "needles"),
    [
        # real orders never start from the file alone
        ({"PM_PAPER_TRADING": "0", "PM_DRY_RUN": "0"}, False, ("--real", "real orders")),
        # --real never turns a paper file into a real run
        ({}, True, ("--real", "PM_PAPER_TRADING=0")),
        ({"PM_PAPER_TRADING": "0"}, True, ("--real", "PM_DRY_RUN=0")),
        # a half-set file is named, not guessed
        ({"PM_DRY_RUN": "0"}, False, ("PM_DRY_RUN=0", "PM_PAPER_TRADING=0")),
        ({"PM_PAPER_TRADING": "sure"}, False, ("PM_PAPER_TRADING",)),
        ({"PM_PAPER_TRADING": "0", "PM_DRY_RUN": "perhaps"}, False, ("PM_DRY_RUN",)),
    ],
)
def test_real_orders_need_both_variables_and_the_flag(
    env: dict[str, str], real_flag: bool, needles: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_env(
            {"PM_STRATEGY": "noop", **env}, ".env", with_run_config=False, real_flag=real_flag
        )
    msg = str(err.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg


def test_credentials_never_reach_the_logged_settings() -> None:
    got = settings_from_env(
        {"PM_STRATEGY": "noop", "PM_PAPER_TRADING": "0", "PM_PRIVATE_KEY": "0xabc123"},
        ".env",
        with_run_config=False,
    )
    assert "PM_PRIVATE_KEY" not in got.env and "0xabc123" not in repr(got)
    assert got.secrets["PM_PRIVATE_KEY"] == "0xabc123"


def test_a_credential_in_a_file_others_can_read_is_refused(tmp_path) -> None:
    from pk8opt.live.settings import load_live_settings

    env_file = tmp_path / ".env"
    env_file.write_text("PM_STRATEGY=noop\nPM_PAPER_TRADING=0\nPM_PRIVATE_KEY=0xabc123\n")
    env_file.chmod(0o644)
    with pytest.raises(ConfigError) as err:
        load_live_settings(env_file, {})
    assert "chmod 600" in str(err.value) and "0xabc123" not in str(err.value)
    env_file.chmod(0o600)
    assert load_live_settings(env_file, {}).secrets == {"PM_PRIVATE_KEY": "0xabc123"}


def test_process_env_overrides_file_for_pm_vars_only() -> None:
    merged = merge_env(
        {"PM_STRATEGY": "balanced_arb", "PM_TRADE_ENABLED": "1"},
        {"PM_TRADE_ENABLED": "0", "HOME": "/root"},
    )
    assert merged == {"PM_STRATEGY": "balanced_arb", "PM_TRADE_ENABLED": "0"}
