"""What a trial runs: a real backtest of the strategy over the loaded sessions.

`BacktestEvaluator` is the binding between the sweep and the engine: the parameter
declarations of a strategy, loading sessions (once per worker), and one backtest.
The sweep only talks to this small interface, so its plumbing can be tested alone.
"""

from __future__ import annotations

import importlib
import json
from array import array
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from pk8opt.backtest.index import index_sessions
from pk8opt.backtest.plots import plot_equity
from pk8opt.backtest.replay import run_backtest
from pk8opt.backtest.results import is_summed
from pk8opt.backtest.warmup import warm_up_shown
from pk8opt.params import ParamSet
from pk8opt.trading.run_config import RunConfig

OnSession = Callable[[int, Any], None]


class Evaluator(Protocol):
    """What the sweep asks of a strategy's backtest (`BacktestEvaluator`; the tests'
    `FakeEvaluator`). An evaluator may also have `warm_up(strategy, console)`, called
    once in the main process before the workers start."""

    def param_sets(self, strategy: str) -> tuple[ParamSet, ParamSet, ParamSet]:
        """The strategy's, the paper engine's and the trade loop's declared parameters."""
        ...

    def load(self, paths: list[str]) -> Any:
        """The sessions at `paths`, as `run` and `report` take them."""
        ...

    def config(self, strategy: str, overrides: dict[str, Any]) -> Any:
        """The run configuration of a parameter set (`deploy` writes its `to_env()`)."""
        ...

    def run(
        self,
        loaded: Any,
        strategy: str,
        overrides: dict[str, Any],
        on_session: OnSession | None = None,
    ) -> dict[str, float]:
        """One backtest: its aggregate metrics; `on_session(i, result)` after each
        session (it may raise to stop the run)."""
        ...

    def report(
        self, loaded: Any, strategy: str, overrides: dict[str, Any], out_dir: Path
    ) -> dict[str, float]:
        """`run` once more, writing its equity curve and per-session results to out_dir."""
        ...


def session_value(result: Any, metric: str) -> float | None:
    """A metric of one session's result, whatever shape the result has."""
    metrics = getattr(result, "metrics", None)
    if callable(metrics):
        metrics = metrics()
    for source in (metrics, result):
        if isinstance(source, Mapping) and metric in source:
            return float(source[metric])
    if hasattr(result, metric):
        return float(getattr(result, metric))
    to_dict = getattr(result, "to_dict", None)
    if callable(to_dict):
        d = to_dict()
        if metric in d:
            return float(d[metric])
        if isinstance(d.get("metrics"), Mapping) and metric in d["metrics"]:
            return float(d["metrics"][metric])
    return None


class RunningScore:
    """The objective so far, after each session: a sum or a mean of session values."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.values: list[float] = []

    def add(self, result: Any) -> float | None:
        v = session_value(result, self.metric)
        if v is None:
            return None
        self.values.append(v)
        total = sum(self.values)
        # summed metrics add up over sessions; the others are averaged
        return total if is_summed(self.metric) else total / len(self.values)


class BacktestEvaluator:
    """The real thing: `pk8opt.backtest.replay.run_backtest` with a `RunConfig` per trial."""

    def param_sets(self, strategy: str) -> tuple[ParamSet, ParamSet, ParamSet]:
        return RunConfig.param_sets(strategy)

    def load(self, paths: list[str]) -> Any:
        """Handles on the sessions' stores (built on first use); each session's arrays
        are mapped when a trial replays it, and dropped after."""
        return index_sessions([Path(p) for p in paths])

    def warm_up(self, strategy: str, console: Any = None) -> float:
        """Compile the strategy's replay once here (the workers then load it)."""
        return warm_up_shown(strategy, console)

    def config(self, strategy: str, overrides: Mapping[str, Any]) -> Any:
        return RunConfig.resolve(strategy, dict(overrides))

    def run(
        self,
        loaded: Any,
        strategy: str,
        overrides: Mapping[str, Any],
        on_session: OnSession | None = None,
    ) -> dict[str, float]:
        def compact(i: int, result: Any) -> None:
            # a trial keeps every session's equity curve until it aggregates them: as
            # arrays they take 16 bytes a sample instead of about 70
            result.equity_t = array("q", result.equity_t)
            result.equity_v = array("d", result.equity_v)
            if on_session is not None:
                on_session(i, result)

        result = run_backtest(loaded, self.config(strategy, overrides), on_session=compact)
        return {k: float(v) for k, v in result.aggregate.items() if _is_number(v)}

    def report(
        self, loaded: Any, strategy: str, overrides: Mapping[str, Any], out_dir: Path
    ) -> dict[str, float]:
        """Run once more and write the equity curve and per-session results to out_dir."""
        result = run_backtest(loaded, self.config(strategy, overrides))
        out_dir.mkdir(parents=True, exist_ok=True)
        plot_equity(result, out_dir / "best_equity.png")
        (out_dir / "best_sessions.json").write_text(
            json.dumps(result.to_dict(), indent=2, default=str)
        )
        return {k: float(v) for k, v in result.aggregate.items() if _is_number(v)}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) or hasattr(v, "__float__")


def load_evaluator(spec: str | None) -> Evaluator:
    """The evaluator named by `module:Class` (tests), or the real backtest."""
    if spec is None:
        return BacktestEvaluator()
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)()
