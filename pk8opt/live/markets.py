"""The markets a study was swept and validated on, in the live runner's `PM_WATCHLIST`
form, and the check that a live run trades no other.

The sweep keeps the markets of the sessions it selected (each session's symbol and
timeframe) in the study attr `pk8opt.markets`; `deploy` writes them as `PM_WATCHLIST`,
`PM_TRADELIST` and `PM_VALIDATED_MARKETS`, so the live run trades what was tested; a
`.env` (or the environment) that trades a market outside `PM_VALIDATED_MARKETS` is warned
about when the run starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pk8opt.live.settings import LiveSettings, Series, parse_market_list

MARKETS_ATTR = "pk8opt.markets"  # the study attr
VALIDATED_VAR = "PM_VALIDATED_MARKETS"  # the .env variable deploy writes


def market_list(manifests: Iterable[Any]) -> str:
    """`BTC:15m,ETH:15m`: the distinct symbol and timeframe of the sessions' manifests."""
    return ",".join(map(str, sorted({Series(m.symbol.upper(), m.timeframe) for m in manifests})))


def unvalidated_markets(settings: LiveSettings) -> str | None:
    """A warning line when the run trades a market its parameters were not validated on
    (`PM_VALIDATED_MARKETS`, as deploy wrote it); None when it does not or is unknown."""
    seen = settings.env.get(VALIDATED_VAR, "").strip()
    if not seen or not settings.trade_enabled:
        return None
    validated = parse_market_list(seen, VALIDATED_VAR, settings.source)
    new = [str(s) for s in settings.tradelist if s not in validated]
    if not new:
        return None
    return (
        f"{settings.source}: PM_TRADELIST trades {', '.join(new)}, which the deployed study "
        f"never saw (it was validated on {', '.join(map(str, validated))}); its parameters "
        "are untested there"
    )
