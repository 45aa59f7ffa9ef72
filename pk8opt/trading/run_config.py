"""What a run needs besides its data: the strategy's name and its three value sets
(strategy, engine, trade loop), each resolved against its `ParamSet` declaration.

Backtest, the live runner, `deploy` and the sweep build one from defaults, a `.env`
(`from_env`) or overrides (`resolve`/`updated`), and write it back as `PM_*` (`to_env`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pk8opt.engine.config import ENGINE_PARAMS, EngineSettings
from pk8opt.errors import ConfigError
from pk8opt.params import ParamSet
from pk8opt.strategies import get_strategy
from pk8opt.trading.trader import TRADER_PARAMS


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs besides the data: strategy name and three value sets."""

    strategy: str = "noop"
    strategy_params: dict[str, Any] = field(default_factory=dict)
    engine_params: dict[str, Any] = field(default_factory=dict)
    trader_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cls = get_strategy(self.strategy)
        where = f"strategy {self.strategy}"
        object.__setattr__(self, "strategy_params", cls.params.resolve(self.strategy_params, where))
        object.__setattr__(
            self, "engine_params", ENGINE_PARAMS.resolve(self.engine_params, "engine")
        )
        object.__setattr__(
            self, "trader_params", TRADER_PARAMS.resolve(self.trader_params, "trader")
        )

    @cached_property
    def engine_settings(self) -> EngineSettings:
        """`engine_params` as the engines read them (made once per config)."""
        return EngineSettings.from_params(self.engine_params)

    @staticmethod
    def param_sets(strategy: str) -> tuple[ParamSet, ParamSet, ParamSet]:
        cls = get_strategy(strategy)
        try:
            cls.params + ENGINE_PARAMS + TRADER_PARAMS
        except ValueError:
            raise ConfigError(
                f"strategy {strategy}: a parameter name or PM_* variable clashes with the "
                "engine's or the trade loop's; rename it"
            ) from None
        return cls.params, ENGINE_PARAMS, TRADER_PARAMS

    @classmethod
    def from_env(cls, env: Mapping[str, str], where: str = ".env") -> RunConfig:
        """`PM_STRATEGY` (default noop) and every `PM_*` of the three parameter sets."""
        name = env.get("PM_STRATEGY", "noop").strip() or "noop"
        sp, ep, tp = cls.param_sets(name)
        return cls(name, sp.from_env(env, where), ep.from_env(env, where), tp.from_env(env, where))

    @classmethod
    def resolve(cls, strategy: str, overrides: Mapping[str, Any]) -> RunConfig:
        """Defaults plus overrides keyed by any parameter name (or its PM_* variable)."""
        return cls(strategy).updated(overrides)

    def updated(self, overrides: Mapping[str, Any]) -> RunConfig:
        """A copy with some values changed (keys: param names or PM_* variables)."""
        sets = self.param_sets(self.strategy)
        values = [dict(self.strategy_params), dict(self.engine_params), dict(self.trader_params)]
        for key, raw in overrides.items():
            for ps, vals in zip(sets, values, strict=True):
                p = ps.by_name.get(key) or ps.by_env.get(key)
                if p is not None:
                    vals[p.name] = p.parse(raw, f"{key}")
                    break
            else:
                known = [p.name for ps in sets for p in ps]
                raise ConfigError(
                    f"unknown parameter {key!r} for strategy {self.strategy}; known: "
                    + ", ".join(known)
                )
        return RunConfig(self.strategy, *values)

    def to_env(self) -> dict[str, str]:
        sp, ep, tp = self.param_sets(self.strategy)
        return {
            "PM_STRATEGY": self.strategy,
            **sp.to_env(self.strategy_params),
            **ep.to_env(self.engine_params),
            **tp.to_env(self.trader_params),
        }
