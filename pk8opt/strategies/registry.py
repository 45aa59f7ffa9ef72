"""The strategies by name (`PM_STRATEGY`), and the lookup of a user's own class by its
dotted path. A new built-in strategy is registered here (docs/architecture.md)."""

from __future__ import annotations

import importlib

from pk8opt.errors import ConfigError
from pk8opt.strategies.balanced_arb import BalancedArbStrategy
from pk8opt.strategies.base import Strategy
from pk8opt.strategies.fixed import FixedStrategy
from pk8opt.strategies.join import JoinStrategy
from pk8opt.strategies.noop import NoopStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    "noop": NoopStrategy,
    "fixed": FixedStrategy,
    "balanced_arb": BalancedArbStrategy,
    "join": JoinStrategy,
}


def get_strategy(name: str) -> type[Strategy]:
    """`"balanced_arb"`, or `"my_pkg.mod:MyStrategy"` / `"my_pkg.mod.MyStrategy"`."""
    if name in STRATEGIES:
        return STRATEGIES[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
    elif "." in name:
        module_name, _, attr = name.rpartition(".")
    else:
        raise ConfigError(
            f"PM_STRATEGY: unknown strategy {name!r}; known: {', '.join(STRATEGIES)} "
            "(or a dotted path such as my_pkg.mod:MyStrategy)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"PM_STRATEGY: cannot import {module_name!r} for {name!r}: {exc}"
        ) from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type) or not callable(getattr(cls, "quote", None)):
        raise ConfigError(f"PM_STRATEGY: {name!r} is not a strategy class (needs a quote method)")
    if not hasattr(cls, "params"):
        raise ConfigError(f"PM_STRATEGY: {name!r} has no `params` ParamSet declaration")
    return cls
