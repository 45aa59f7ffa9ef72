"""Parameter declarations: each tunable setting is declared once, here-shaped.

A strategy (and the paper engine, and the trade loop) lists its `Param`s. That list is
the single source for backtest defaults, `--set key=value` parsing, the sweep's search
space validation, the `.env` that `deploy` writes, and what the live runner reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pk8opt.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    name: str  # python name, e.g. "edge"
    type: type  # float, int, bool or str
    default: Any
    env: str  # the `.env` variable, e.g. "PM_ARB_EDGE"
    help: str
    low: float | None = None  # inclusive bounds of the valid range (None: unbounded)
    high: float | None = None
    choices: tuple[Any, ...] | None = None  # for str (or other categorical) params
    log: bool = False  # a search over this param is naturally on a log scale
    unit: str = ""

    def parse(self, text: str | Any, where: str) -> Any:
        """Convert text (from a .env, --set, or YAML) to this param's type, validated."""
        value: Any
        try:
            if self.type is bool:
                if isinstance(text, bool):
                    value = text
                elif str(text).strip().lower() in _TRUE:
                    value = True
                elif str(text).strip().lower() in _FALSE:
                    value = False
                else:
                    raise ValueError
            elif self.type is int:
                if isinstance(text, float) and not text.is_integer():
                    raise ValueError
                value = int(text) if not isinstance(text, str) else int(text.strip())
            elif self.type is float:
                value = float(text)
            else:
                value = str(text)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{where}: {text!r} is not a valid {self.type.__name__} "
                f"(e.g. {self.env}={self.format(self.default)})"
            ) from None
        self.check(value, where)
        return value

    def check(self, value: Any, where: str) -> None:
        if self.choices is not None and value not in self.choices:
            raise ConfigError(
                f"{where}: {value!r} is not one of {', '.join(map(str, self.choices))}"
            )
        if self.type in (int, float):
            if not math.isfinite(value):
                raise ConfigError(
                    f"{where}: {value} is not a finite number "
                    f"(e.g. {self.env}={self.format(self.default)})"
                )
            if self.low is not None and value < self.low:
                raise ConfigError(f"{where}: {value} is below the minimum {self.low:g}")
            if self.high is not None and value > self.high:
                raise ConfigError(f"{where}: {value} is above the maximum {self.high:g}")

    def format(self, value: Any) -> str:
        """The `.env` text of a value; `parse(format(v)) == v` exactly (repr of floats)."""
        if self.type is bool:
            return "1" if value else "0"
        if self.type is float:
            return repr(float(value))
        return str(value)


class ParamSet:
    """An ordered, name-indexed collection of `Param`s."""

    def __init__(self, params: Iterable[Param]) -> None:
        self.params: tuple[Param, ...] = tuple(params)
        self.by_name = {p.name: p for p in self.params}
        self.by_env = {p.env: p for p in self.params}
        if len(self.by_name) != len(self.params) or len(self.by_env) != len(self.params):
            raise ValueError("duplicate parameter name or env variable")

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __add__(self, other: ParamSet) -> ParamSet:
        return ParamSet((*self.params, *other.params))

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def get(self, name: str, where: str) -> Param:
        try:
            return self.by_name[name]
        except KeyError:
            raise ConfigError(
                f"{where}: unknown parameter {name!r}; known: {', '.join(self.by_name)}"
            ) from None

    def resolve(self, overrides: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Defaults updated by `overrides` (by name), every value parsed and checked."""
        values = self.defaults()
        for name, raw in overrides.items():
            values[name] = self.get(name, where).parse(raw, f"{where}: {name}")
        return values

    def from_env(self, env: Mapping[str, str], where: str = ".env") -> dict[str, Any]:
        """Values from `PM_*` variables; absent ones keep their defaults."""
        values = self.defaults()
        for p in self.params:
            if p.env in env:
                values[p.name] = p.parse(env[p.env], f"{where}: {p.env}")
        return values

    def to_env(self, values: Mapping[str, Any]) -> dict[str, str]:
        return {p.env: p.format(values[p.name]) for p in self.params if p.name in values}


def parse_assignments(items: Sequence[str], where: str = "--set") -> dict[str, str]:
    """`["edge=0.02", "size=10"]` -> `{"edge": "0.02", "size": "10"}`."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{where} {item!r}: expected key=value, e.g. {where} edge=0.02")
        out[key.strip()] = value.strip()
    return out


def refuse_non_finite(tree: Any, where: str, path: str = "") -> None:
    """Raise a `ConfigError` naming the first NaN or infinite number in a decoded
    config (nested mappings and lists), e.g. `toy.yaml: space.edge.high: .inf`."""
    if isinstance(tree, float) and not math.isfinite(tree):
        raise ConfigError(
            f"{where}: {path or 'value'}: {tree} is not a finite number; give a number "
            "(or leave the setting out for its default)"
        )
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            refuse_non_finite(value, where, f"{path}.{key}" if path else str(key))
    elif isinstance(tree, list | tuple):
        for i, value in enumerate(tree):
            refuse_non_finite(value, where, f"{path}[{i}]")
