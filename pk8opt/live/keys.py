"""Which `PM_*` variables pk8opt knows, and reading a `.env` against them.

The registry: each strategy's parameters, the paper engine's, the trade loop's (among
them `PM_TRADE_ENABLED`) and the few only a live run reads (`LIVE_ONLY_VARS`). A `PM_*`
key outside it (a typo would otherwise be ignored silently) is warned about with the
nearest known name. The file itself is read by `live.envfile`.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.live.envfile import read_env_values
from pk8opt.strategies import STRATEGIES
from pk8opt.trading.trader import TRADER_PARAMS
from pk8opt.venue.limits import LIMIT_VARS, POST_ONLY_VAR

LIVE_ONLY_VARS = (
    "PM_STRATEGY",
    "PM_WATCHLIST",
    "PM_TRADELIST",
    "PM_VALIDATED_MARKETS",  # the markets the deployed study was validated on
    "PM_PAPER_TRADING",
    "PM_DRY_RUN",
)
# a dry or real run's credentials: never logged, never in MLflow, never printed
SECRET_VARS = frozenset(
    {
        "PM_PRIVATE_KEY",
        "PM_API_KEY",
        "PM_API_SECRET",
        "PM_API_PASSPHRASE",
    }
)
# where the credentials and the wallet are (not secret themselves)
VENUE_VARS = ("PM_FUNDER", "PM_SIGNATURE_TYPE", "PM_CREDENTIALS_FILE")


def known_pm_keys() -> set[str]:
    """Every `PM_*` variable pk8opt reads: each strategy's, the engine's, the trade
    loop's parameters, and the live runner's own."""
    keys = set(LIVE_ONLY_VARS) | SECRET_VARS | set(VENUE_VARS)
    keys.update(var for var, _, _ in LIMIT_VARS.values())
    keys.add(POST_ONLY_VAR)
    keys.update(p.env for p in ENGINE_PARAMS)
    keys.update(p.env for p in TRADER_PARAMS)
    for cls in STRATEGIES.values():
        keys.update(p.env for p in cls.params)
    return keys


def unknown_pm_keys(env: Iterable[str], known: set[str] | None = None) -> list[str]:
    """One line per `PM_*` key that is no setting, with the nearest known name."""
    pm = [k for k in env if k.startswith("PM_")]
    if not pm:
        return []
    known = known_pm_keys() if known is None else known
    out = []
    for key in pm:
        if key in known:
            continue
        near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]}?" if near else "; it is ignored"
        out.append(f"{key} is not a pk8opt setting{hint}")
    return out


def read_env_file(path: Path | str, *, warn: Callable[[str], None] | None = None) -> dict[str, str]:
    """`KEY=value` lines as a dict; a missing, unreadable or binary file is an error.
    Unknown `PM_*` keys are passed to `warn` (default: a `warning:` line on stderr)."""
    env = read_env_values(path)
    for line in unknown_pm_keys(env):
        (warn or _stderr)(f"{Path(path)}: {line}")
    return env


def _stderr(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)
