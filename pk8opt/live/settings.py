"""The settings of a live paper run, read from the `.env` that `deploy --best` writes.

The live runner reads the same `PM_*` variables as the backtest (the strategy's, the
trade loop's and the paper engine's parameters, through `RunConfig.from_env`) plus the
few that only a live run has:

    PM_STRATEGY        which strategy to run (required: a live run never guesses it)
    PM_WATCHLIST       markets to watch, e.g. `BTC:15m,ETH:15m` (default `BTC:15m`)
    PM_TRADELIST       markets to trade, each also watched (default: the watchlist)
    PM_TRADE_ENABLED   1 quotes on the trade list, 0 only watches (default 1; the trade
                       loop's own parameter, `TRADER_PARAMS`, read here too)
    PM_PAPER_TRADING   1 trades on the paper engine (default); 0 on the venue, see below
    PM_DRY_RUN         with PM_PAPER_TRADING=0: 1 builds, checks and logs signed orders
                       and sends none (default); 0 sends them, with `--real` only

Three modes, from these two and the command line's `--real`:

    paper    PM_PAPER_TRADING=1 (the default)                      the paper engine
    dry run  PM_PAPER_TRADING=0, PM_DRY_RUN=1                      signed, never sent
    real     PM_PAPER_TRADING=0, PM_DRY_RUN=0 and `live --real`    real orders

Any other combination is an error naming what to change: real orders never start from
a file alone, and `--real` never turns a paper `.env` into a real run.

Values come from the `.env` file; a `PM_*` variable set in the process environment
overrides the file's value (the usual dotenv rule), so `PM_TRADE_ENABLED=0 pk8opt live`
works without editing the file. Every wrong or missing value is one `ConfigError` line
that names the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pk8opt.errors import ConfigError
from pk8opt.live.keys import SECRET_VARS, read_env_file
from pk8opt.params import Param
from pk8opt.polymarket.slugs import SYMBOLS, TIMEFRAME_SECONDS
from pk8opt.trading.run_config import RunConfig
from pk8opt.trading.trader import TRADER_PARAMS
from pk8opt.venue.limits import Limits

DEFAULT_WATCHLIST = "BTC:15m"
PAPER, DRY_RUN, REAL = "paper", "dry run", "real"

_TRADE_ENABLED = TRADER_PARAMS.by_name["trade_enabled"]  # the trade loop's own setting
_PAPER_TRADING = Param("paper_trading", bool, True, "PM_PAPER_TRADING", "paper mode")
_DRY_RUN = Param("dry_run", bool, True, "PM_DRY_RUN", "no real orders")


def trading_mode(env: Mapping[str, str], where: str, real_flag: bool) -> str:
    """`paper`, `dry run` or `real`, from PM_PAPER_TRADING, PM_DRY_RUN and `--real`."""
    paper = (
        _PAPER_TRADING.parse(env[_PAPER_TRADING.env], f"{where}: PM_PAPER_TRADING")
        if (_PAPER_TRADING.env in env)
        else True
    )
    dry = _DRY_RUN.parse(env[_DRY_RUN.env], f"{where}: PM_DRY_RUN") if _DRY_RUN.env in env else True
    if paper:
        if not dry:
            raise ConfigError(
                f"{where}: PM_DRY_RUN=0 with PM_PAPER_TRADING=1: a paper run sends no order. "
                "For real orders set PM_PAPER_TRADING=0 too and run `pk8opt live --real`; "
                "for paper remove PM_DRY_RUN=0"
            )
        if real_flag:
            raise ConfigError(
                f"{where}: --real needs PM_PAPER_TRADING=0 and PM_DRY_RUN=0 (this file trades "
                "on paper); set both in the .env, or run without --real for paper"
            )
        return PAPER
    if dry:
        if real_flag:
            raise ConfigError(
                f"{where}: --real with PM_DRY_RUN=1 (or unset) would send nothing; set "
                "PM_DRY_RUN=0 for real orders, or run without --real for a dry run"
            )
        return DRY_RUN
    if not real_flag:
        raise ConfigError(
            f"{where}: PM_PAPER_TRADING=0 and PM_DRY_RUN=0 send real orders with your money; "
            "confirm on the command line with `pk8opt live --real`"
        )
    return REAL


@dataclass(frozen=True, order=True)
class Series:
    """One series of markets: a symbol and a timeframe, e.g. `BTC:15m`."""

    symbol: str
    timeframe: str

    def __str__(self) -> str:
        return f"{self.symbol}:{self.timeframe}"

    @property
    def window_s(self) -> int:
        return TIMEFRAME_SECONDS[self.timeframe]


@dataclass(frozen=True)
class LiveSettings:
    strategy: str
    watchlist: tuple[Series, ...]
    tradelist: tuple[Series, ...]
    trade_enabled: bool
    env: dict[str, str] = field(repr=False)  # every PM_* value the run used
    source: str = ".env"  # where the values came from, for messages
    run_config: Any = None  # replay.RunConfig: strategy, trader and paper-engine values
    mode: str = PAPER  # PAPER, DRY_RUN or REAL
    limits: Any = None  # venue.limits.Limits of a dry or real run
    # the credentials' source (never logged): the merged `.env` and process variables
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def on_venue(self) -> bool:
        """A dry or a real run: orders are built for the venue, not the paper engine."""
        return self.mode != PAPER

    def is_traded(self, spec: Series) -> bool:
        return self.trade_enabled and spec in self.tradelist


def parse_market_list(text: str, var: str, where: str = ".env") -> tuple[Series, ...]:
    """`"BTC:15m, eth:15m"` -> `(Series("BTC","15m"), Series("ETH","15m"))`."""
    specs: list[Series] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        symbol, sep, timeframe = item.partition(":")
        symbol = symbol.strip().upper()
        timeframe = timeframe.strip().lower() if sep else "15m"
        if symbol not in SYMBOLS:
            raise ConfigError(
                f"{where}: {var}: {item!r} has unknown symbol {symbol!r}; "
                f"use one of {', '.join(SYMBOLS)}, e.g. {var}=BTC:15m,ETH:15m"
            )
        if timeframe not in TIMEFRAME_SECONDS:
            raise ConfigError(
                f"{where}: {var}: {item!r} has unknown timeframe {timeframe!r}; "
                f"use one of {', '.join(TIMEFRAME_SECONDS)}, e.g. {var}=BTC:15m"
            )
        spec = Series(symbol, timeframe)
        if spec not in specs:
            specs.append(spec)
    if not specs:
        raise ConfigError(f"{where}: {var} is empty; give at least one market, e.g. {var}=BTC:15m")
    return tuple(specs)


def merge_env(file_env: Mapping[str, str], process_env: Mapping[str, str]) -> dict[str, str]:
    """The file's values, with `PM_*` variables of the process environment on top."""
    merged = dict(file_env)
    merged.update({k: v for k, v in process_env.items() if k.startswith("PM_")})
    return merged


def settings_from_env(
    env: Mapping[str, str],
    where: str = ".env",
    *,
    with_run_config: bool = True,
    real_flag: bool = False,
) -> LiveSettings:
    """Check the live-only variables and, through `RunConfig.from_env`, all the others."""
    mode = trading_mode(env, where, real_flag)
    strategy = env.get("PM_STRATEGY", "").strip()
    if not strategy:
        raise ConfigError(
            f"{where}: PM_STRATEGY is not set; write the .env with `pk8opt deploy --best` "
            "or add a line such as PM_STRATEGY=balanced_arb"
        )
    watchlist = parse_market_list(env.get("PM_WATCHLIST", DEFAULT_WATCHLIST), "PM_WATCHLIST", where)
    if "PM_TRADELIST" in env:
        tradelist = parse_market_list(env["PM_TRADELIST"], "PM_TRADELIST", where)
        missing = [str(s) for s in tradelist if s not in watchlist]
        if missing:
            raise ConfigError(
                f"{where}: PM_TRADELIST has {', '.join(missing)} which PM_WATCHLIST lacks; "
                "a traded market must be watched: add it to PM_WATCHLIST"
            )
    else:
        tradelist = watchlist
    trade_enabled = True
    if _TRADE_ENABLED.env in env:
        trade_enabled = _TRADE_ENABLED.parse(env[_TRADE_ENABLED.env], f"{where}: PM_TRADE_ENABLED")
    run_config = build_run_config(env, where) if with_run_config else None
    limits = None
    if mode != PAPER:
        try:
            limits = Limits.from_env(env)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return LiveSettings(
        strategy=strategy,
        watchlist=watchlist,
        tradelist=tradelist,
        trade_enabled=trade_enabled,
        env={k: v for k, v in env.items() if k.startswith("PM_") and k not in SECRET_VARS},
        source=where,
        run_config=run_config,
        mode=mode,
        limits=limits,
        secrets={k: v for k, v in env.items() if k in SECRET_VARS},
    )


def build_run_config(env: Mapping[str, str], where: str) -> Any:
    """The backtest's own reading of the strategy, trade-loop and paper-engine values."""
    try:
        return RunConfig.from_env(dict(env), where=where)
    except TypeError:  # a from_env without the `where` keyword
        return RunConfig.from_env(dict(env))


def load_live_settings(
    env_file: Path | None,
    process_env: Mapping[str, str] | None = None,
    *,
    real_flag: bool = False,
) -> LiveSettings:
    """Read `env_file` (the `.env` from `deploy`), overlay the process's `PM_*`, check all.

    A credential (`SECRET_VARS`) may come from the process environment, or from the file
    when only its owner can read it."""
    process_env = os.environ if process_env is None else process_env
    file_env: dict[str, str] = {}
    where = "environment"
    if env_file is not None:
        path = Path(env_file)
        if not path.is_file():
            raise ConfigError(
                f"{path}: no such .env file; write one with `pk8opt deploy --best` "
                "or pass --env-file PATH"
            )
        file_env = dict(read_env_file(path))
        where = str(path)
        held = sorted(k for k in file_env if k in SECRET_VARS)
        if held and path.stat().st_mode & 0o077:
            raise ConfigError(
                f"{where} holds {', '.join(held)} but others can read it; "
                f"`chmod 600 {where}`, or give the credentials in the environment"
            )
    return settings_from_env(merge_env(file_env, process_env), where, real_flag=real_flag)
