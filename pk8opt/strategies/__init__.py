"""Strategies by name (`PM_STRATEGY`) or by dotted path to a user's own class: the
`Strategy` base class and its parameter declarations (`base`), the built-ins, and the
registry (`registry`)."""

from pk8opt.strategies.balanced_arb import BalancedArbStrategy
from pk8opt.strategies.base import Desired, Strategy, StrategyContext, StrategyQuote
from pk8opt.strategies.fixed import FixedStrategy
from pk8opt.strategies.join import JoinStrategy
from pk8opt.strategies.noop import NoopStrategy
from pk8opt.strategies.registry import STRATEGIES, get_strategy

__all__ = [
    "STRATEGIES",
    "BalancedArbStrategy",
    "Desired",
    "FixedStrategy",
    "JoinStrategy",
    "NoopStrategy",
    "Strategy",
    "StrategyContext",
    "StrategyQuote",
    "get_strategy",
]
