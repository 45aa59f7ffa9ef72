"""Slugs of the crypto Up/Down series: `{symbol}-updown-{timeframe}-{window start}`."""

from __future__ import annotations

from pk8opt.errors import ConfigError

SYMBOLS = ("BTC", "ETH", "SOL", "XRP")
TIMEFRAME_SECONDS = {"5m": 300, "15m": 900, "4h": 14400}


def timeframe_seconds(timeframe: str) -> int:
    try:
        return TIMEFRAME_SECONDS[timeframe]
    except KeyError:
        raise ConfigError(
            f"timeframe {timeframe!r} is not one of {', '.join(TIMEFRAME_SECONDS)}"
        ) from None


def window_start(t_s: float, timeframe: str = "15m") -> int:
    """Start (Unix s) of the window containing `t_s`."""
    step = timeframe_seconds(timeframe)
    return int(t_s) // step * step


def slug_for(symbol: str, timeframe: str, start_s: int) -> str:
    step = timeframe_seconds(timeframe)
    if start_s % step:
        raise ValueError(f"window start {start_s} is not a multiple of {step}")
    return f"{symbol.lower()}-updown-{timeframe}-{start_s}"


def parse_slug(slug: str) -> tuple[str, str, int]:
    """`btc-updown-15m-1767200400` -> `("BTC", "15m", 1767200400)`."""
    parts = slug.split("-")
    if len(parts) != 4 or parts[1] != "updown" or parts[2] not in TIMEFRAME_SECONDS:
        raise ValueError(f"not an Up/Down slug: {slug!r}")
    return parts[0].upper(), parts[2], int(parts[3])


def parse_symbols(text: str) -> list[str]:
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    for s in symbols:
        if s not in SYMBOLS:
            raise ConfigError(f"--symbols: {s!r} is not one of {','.join(SYMBOLS)}")
    if not symbols:
        raise ConfigError("--symbols: give at least one, e.g. --symbols BTC,ETH")
    return symbols
