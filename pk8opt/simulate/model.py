"""The simulator's parameters: one frozen object, every field documented in docs/simulator.md.

`SimModel` holds what is common to all symbols; `SymbolModel` what differs per symbol
(price level, volatility, price decimals). `model_for(symbol, **overrides)` gives the
defaults with overrides applied; an unknown override name is an error, not ignored.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from pk8opt.errors import ConfigError

SECONDS_PER_YEAR = 365.0 * 86400.0


@dataclass(frozen=True)
class SymbolModel:
    symbol: str  # "BTC"
    binance_symbol: str  # "btcusdt" (crypto_prices)
    chainlink_symbol: str  # "btc/usd" (crypto_prices_chainlink)
    name: str  # "Bitcoin" (Gamma question)
    base_price: float  # long-run price level the daily walk reverts to
    annual_vol: float  # annualised volatility of the underlying (0.50 = 50 %)
    binance_decimals: int  # Binance ticker decimals (2 for BTC, 4 for XRP)


SYMBOLS: dict[str, SymbolModel] = {
    "BTC": SymbolModel("BTC", "btcusdt", "btc/usd", "Bitcoin", 90_000.0, 0.50, 2),
    "ETH": SymbolModel("ETH", "ethusdt", "eth/usd", "Ethereum", 3_000.0, 0.65, 2),
    "SOL": SymbolModel("SOL", "solusdt", "sol/usd", "Solana", 150.0, 0.80, 2),
    "XRP": SymbolModel("XRP", "xrpusdt", "xrp/usd", "XRP", 2.3, 0.80, 4),
}


@dataclass(frozen=True)
class SimModel:
    # --- underlying -------------------------------------------------------------------
    annual_vol: float | None = None  # None: the symbol's own (SYMBOLS)
    base_price: float | None = None  # None: the symbol's own
    day_reversion: float = 1 / 30  # daily pull of log price towards log(base_price)
    regime_vol_of_vol: float = 0.35  # std of log vol multiplier between windows
    regime_persistence: float = 0.9  # AR(1) coefficient of that multiplier window to window
    intra_vol_of_vol: float = 0.5  # std of the intra-window log vol (OU)
    intra_vol_halflife_s: float = 120.0  # half-life of the intra-window OU
    symbol_correlation: float = 0.7  # correlation of the symbols' returns (one common factor)
    jumps_per_hour: float = 0.5  # Poisson rate of price jumps
    jump_size_sd: float = 0.5  # jump sd as a multiple of the window's sd
    binance_noise_bp: float = 0.3  # Binance print noise around the latent price (bp)
    chainlink_lag_s: float = 0.7  # Chainlink lags the latent price by this much
    chainlink_noise_bp: float = 0.1  # Chainlink noise (bp)
    # --- market makers ----------------------------------------------------------------
    mm_noise: float = 0.003  # sd of the makers' view of fair value (probability units)
    mm_inertia_ticks: float = 1.0  # makers requote when the target best moves this far
    mm_react_s: float = 0.8  # mean delay before makers react to a move (exponential)
    spread_ticks_p: tuple[float, float, float] = (0.7, 0.22, 0.08)  # P(spread=1,2,3 ticks)
    spread_end_extra_ticks: float = 2.0  # extra spread in the last minute
    spread_redraw_rate: float = 0.1  # per second: makers pick a new spread
    extreme_band: float = 0.1  # fair value within this of 0 or 1: one tick wider
    fine_tick_spread_mult: int = 3  # on the 0.001 grid the spread is this many times wider
    levels_min: int = 10  # levels per side are drawn in [levels_min, levels_max]
    levels_max: int = 30
    level_fill_p: float = 0.55  # chance a tick away from the top holds a level
    level_size_median: float = 600.0  # median shares at a level (lognormal)
    level_size_sigma: float = 1.0  # lognormal sigma of level sizes
    far_size_median: float = 20_000.0  # resting size at the outermost prices (0.01 / 0.99)
    # --- message rates (per second) ----------------------------------------------------
    quote_rate: float = 0.6  # level add/cancel/resize away from a requote, when quiet
    trade_rate: float = 0.15  # taker arrivals when quiet
    busy_end_mult: float = 10.0  # extra intensity at the window end (decays over busy_end_s)
    busy_end_s: float = 60.0
    busy_move_mult: float = 6.0  # extra intensity per unit of |fair move| / 0.05 in 5 s
    after_end_decay_s: float = 40.0  # activity decays after the window end
    trade_size_median: float = 40.0  # taker size median (lognormal body)
    trade_size_sigma: float = 1.3
    trade_size_min: float = 5.0
    trade_size_max: float = 5_000.0
    informed_beta: float = 1.5  # taker lean towards fair value (logistic slope per 0.01)
    # --- uninformed sellers (a planted edge; off by default, see "A market with a known edge")
    dump_rate: float = 0.0  # sellers per second per token during the window, blind to value
    dump_size_median: float = 400.0  # their size median (shares, lognormal)
    dump_size_sigma: float = 0.5
    # --- venue ---------------------------------------------------------------------------
    tick_extreme: float = 0.04  # best price within this of 0 or 1: tick goes to 0.001
    fee_rate: float = 0.07
    fee_rate_bps: int = 1000  # `fee_rate_bps` on last_trade_price frames
    latency_ms: float = 35.0  # mean one-way latency of market frames
    latency_jitter_ms: float = 15.0
    pong_every_s: float = 10.0  # recorder pings the market socket; PONG comes back
    trading_after_end_s: tuple[float, float] = (80.0, 100.0)  # trading stops U(a,b) after end
    resolve_after_end_s: tuple[float, float] = (60.0, 120.0)  # market_resolved + closed Gamma
    preroll_s: tuple[float, float] = (1.0, 3.0)  # session starts U(a,b) s before the window
    backfill_s: int = 60  # seconds of live-data backfill in the subscribe frames


# Each parameter is a finite number >= 0; these must be > 0 or at most the bound given.
_POSITIVE = frozenset(
    {
        "annual_vol",
        "base_price",
        "intra_vol_halflife_s",
        "mm_react_s",
        "level_size_median",
        "far_size_median",
        "busy_end_s",
        "after_end_decay_s",
        "trade_size_median",
        "trade_size_min",
        "trade_size_max",
        "dump_size_median",
        "pong_every_s",
    }
)
_AT_MOST = {
    "regime_persistence": 1.0,
    "symbol_correlation": 1.0,
    "level_fill_p": 1.0,
    "extreme_band": 0.5,
    "tick_extreme": 0.5,
    "fee_rate": 1.0,
}


def allowed(name: str) -> str:
    """The range a parameter must lie in, as a message says it: `[0, 1]`, `(0, inf)`."""
    low = "(0" if name in _POSITIVE else "[0"
    high = f"{_AT_MOST[name]:g}]" if name in _AT_MOST else "inf)"
    return f"{low}, {high}"


def _in_range(name: str, value: float) -> bool:
    if not math.isfinite(value) or value < 0 or (value == 0 and name in _POSITIVE):
        return False
    return value <= _AT_MOST.get(name, math.inf)


def check_values(model: SimModel) -> None:
    """One `ConfigError` naming the first parameter outside its range, its value and the range."""
    for f in dataclasses.fields(SimModel):
        value = getattr(model, f.name)
        values = value if isinstance(value, tuple) else (value,)
        if value is None or all(_in_range(f.name, float(v)) for v in values):
            continue
        shown = ",".join(str(v) for v in values)
        raise ConfigError(
            f"simulator parameter {f.name}={shown}: each value must be in {allowed(f.name)} "
            f"(the default is {','.join(map(str, f.default)) if isinstance(f.default, tuple) else f.default})"
        )
    for name in ("trading_after_end_s", "resolve_after_end_s", "preroll_s"):
        low, high = getattr(model, name)
        if low > high:
            raise ConfigError(
                f"simulator parameter {name}={low},{high}: the first must be <= the second"
            )


def model_for(symbol: str, **overrides: object) -> tuple[SymbolModel, SimModel]:
    """Defaults for `symbol` with `overrides` (names of SimModel fields) applied."""
    try:
        sym = SYMBOLS[symbol.upper()]
    except KeyError:
        raise ConfigError(f"symbol {symbol!r} is not one of {', '.join(SYMBOLS)}") from None
    names = {f.name for f in dataclasses.fields(SimModel)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"unknown simulator parameter(s): {', '.join(unknown)}")
    model = SimModel(**overrides)  # type: ignore[arg-type]
    if model.annual_vol is not None:
        sym = dataclasses.replace(sym, annual_vol=model.annual_vol)
    if model.base_price is not None:
        sym = dataclasses.replace(sym, base_price=model.base_price)
    if model.levels_min < 1 or model.levels_max < model.levels_min:
        raise ConfigError("levels_min must be >= 1 and <= levels_max")
    if not 0.0 <= model.symbol_correlation <= 1.0:
        raise ConfigError(
            f"symbol_correlation: {model.symbol_correlation} is not in [0, 1] "
            "(e.g. --param symbol_correlation=0.7; 0 draws each symbol on its own)"
        )
    if model.dump_rate < 0 or model.dump_size_median <= 0 or model.dump_size_sigma < 0:
        raise ConfigError(
            "dump_rate must be >= 0, dump_size_median > 0 and dump_size_sigma >= 0 "
            "(e.g. --param dump_rate=0.05)"
        )
    check_values(model)
    return sym, model
