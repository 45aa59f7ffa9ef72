"""The strategy interface: a context in, a desired buy order per token out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from pk8opt.params import ParamSet


@dataclass(slots=True)
class StrategyContext:
    """What a strategy sees at a market update. Prices in USDC (None: no such level).
    Treat it as read-only (it is not frozen only because building it is on the hot path).
    """

    symbol: str  # "BTC"
    timeframe: str  # "15m"
    tau_seconds: float  # seconds left until the window's end (negative after it)
    window_seconds: float  # length of the window
    market: str  # condition id
    tok_up: str
    tok_dn: str
    by: float | None  # best bid Up
    ay: float | None  # best ask Up
    bn: float | None  # best bid Down
    an: float | None  # best ask Down
    up_mid: float | None
    down_mid: float | None
    min_order_size: float
    tick_size: float  # the coarser of the two tokens' ticks
    tick_up: float
    tick_dn: float
    # positions as the trade loop last heard of them (PM_PAPER_RESPONSE_LATENCY_MS)
    qy: float  # Up shares held
    qn: float  # Down shares held
    cost_y: float  # average cost of the Up shares (0 when none)
    cost_n: float
    current_exposure: float  # USDC paid for the shares held (fees excluded)
    t_ns: int  # the update's timestamp


@dataclass(frozen=True, slots=True)
class Desired:
    """A buy order wanted on one token: price (None: no order), shares, reason or gate."""

    px: float | None
    q: float = 0.0
    why: str = ""


@dataclass(frozen=True, slots=True)
class StrategyQuote:
    up: Desired
    down: Desired


class Strategy(ABC):
    """Base class. Subclasses set `name`, `params`, `gates` and implement `quote` (an
    abstract method: a subclass without it cannot be instantiated).

    `pure = True` promises that `quote` depends only on the context's fields other than
    `tau_seconds`/`t_ns`, plus on tau only through `tau_breakpoints`: the answer may change
    only where tau crosses one of them. The trade loop then skips calls whose inputs
    did not change. Leave it False (the default) for anything else.
    """

    name: ClassVar[str] = ""
    params: ClassVar[ParamSet] = ParamSet([])
    gates: ClassVar[tuple[str, ...]] = ()
    pure: ClassVar[bool] = False
    # a compiled twin of `quote` for the compiled replay (docs/strategies.md "Compiled
    # strategies"): "module:function" of a numba function quote(p, ctx, out), the reason
    # strings its out codes index, and the values it reads as p
    compiled: ClassVar[str] = ""
    whys: ClassVar[tuple[str, ...]] = ()

    def compiled_params(self) -> list[float]:
        """The numbers the compiled quote reads as `p` (in its own order)."""
        return []

    def __init__(self, **values: Any) -> None:
        self.values = type(self).params.resolve(
            values, f"strategy {self.name or type(self).__name__}"
        )
        for key, value in self.values.items():
            setattr(self, key, value)

    @abstractmethod
    def quote(self, ctx: StrategyContext) -> StrategyQuote:
        """The desired buy order per token at this market update."""

    def tau_breakpoints(self, window_seconds: float) -> tuple[float, ...]:
        return ()
