"""The sweep config file: its schema, loading, and every check made before work starts.

A config is YAML read into frozen msgspec structs that reject unknown fields. Checks that
need the strategy (declared parameters, ranges) live in `validate`, which takes the
strategy's name and its `ParamSet`s so it can be tested without the engine.
Every problem is one `ConfigError` line: `<file>: <field>: <what is wrong>`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec
import yaml

from pk8opt.backtest.results import AGGREGATE_KEYS, RENAMED_METRICS
from pk8opt.errors import ConfigError
from pk8opt.params import ParamSet, refuse_non_finite
from pk8opt.sweep.space import Dimension, check_dimension
from pk8opt.sweep.windows import WINDOW_METRICS

Direction = Literal["maximize", "minimize"]
SamplerName = Literal["tpe", "random", "cmaes", "nsga2", "grid"]
PrunerName = Literal["none", "median", "percentile", "successive_halving", "hyperband", "wilcoxon"]
SchemeName = Literal["walk_forward", "cpcv"]

# The aggregate metrics a backtest reports (plus `gate_<NAME>` counters).
METRICS = AGGREGATE_KEYS
DEFAULT_STORAGE_PATH = Path("experiments") / "optuna.journal"
DEFAULT_TRACKING_DB = Path("experiments") / "mlflow.db"
DEFAULT_ARTIFACTS = Path("experiments") / "mlartifacts"


class Objective(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    metric: str = "pnl_per_window"
    direction: Direction = "maximize"


class Holdout(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    fraction: float = 0.25  # the latest sessions (by window start) kept out of the search
    start: datetime | None = None  # or: every session starting at/after this time


class Data(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    paths: list[str]
    symbols: list[str] = []
    start: datetime | None = None
    end: datetime | None = None
    holdout: Holdout = Holdout()


class Sampler(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: SamplerName = "tpe"
    seed: int | None = None
    startup_trials: int | None = None  # TPE: random trials before modelling
    multivariate: bool | None = None  # TPE: model the parameters jointly (default: yes)
    constant_liar: bool | None = None  # TPE: steer away from running trials; None: workers > 1


class Pruner(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: PrunerName = "wilcoxon"
    startup_trials: int = 5  # median/percentile: trials that always run to the end first
    warmup_windows: int = 1  # windows a trial always plays before it can be pruned
    percentile: float = 25.0  # for type: percentile
    p_threshold: float = 0.1  # for type: wilcoxon: prune when surely worse at this p-value


class Validation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The stage after the search: candidates, PBO, DSR, walk-forward, robustness,
    lockbox, verdict. Thresholds are what `deploy` requires."""

    candidates: int = 8  # top trials in the matrix even if pruned (re-run to completion)
    scheme: SchemeName = "walk_forward"
    folds: int = 4  # walk_forward: test folds
    anchored: bool = True  # walk_forward: train on every window before the fold
    groups: int = 6  # cpcv: groups of windows
    test_groups: int = 2  # cpcv: groups tested per split
    embargo_windows: int = 1  # windows dropped between train and test
    blocks: int = 8  # PBO: contiguous blocks of windows (even; fewer with fewer windows)
    robust_top: int = 3  # top candidates scored over a neighbourhood
    neighbours: int = 4  # points of each neighbourhood (besides the candidate)
    radius: float = 0.1  # neighbourhood: this share of each searched range (or one step)
    min_active_windows: int = 3  # a trial with fills in fewer windows cannot be chosen
    min_oos_t: float = 2.0  # walk-forward t-statistic of the P&L per window
    min_dsr: float = 0.95  # deflated Sharpe ratio
    max_pbo: float | None = None  # probability of backtest overfitting (null: reported only)
    min_lockbox_pnl_per_window: float = 0.0  # the lockbox's mean P&L per window
    max_prob_oos_loss: float | None = 0.2  # PBO's probability of loss (null: reported only)


class Mlflow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    tracking_uri: str | None = None  # default: $MLFLOW_TRACKING_URI, else sqlite in experiments/
    artifact_location: str | None = None  # a new experiment's artifact root (shared by machines)
    experiment: str | None = None  # default: the study name


class SweepConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    study: str
    strategy: str
    space: dict[str, Dimension]
    data: Data
    objective: Objective | list[Objective] = Objective()
    fixed: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    # where the `engine:` values come from (`pk8opt calibrate` writes it): a study attr
    calibration: str | None = None
    trader: dict[str, Any] = {}
    sampler: Sampler = Sampler()
    pruner: Pruner = Pruner()
    trials: int | None = 50
    timeout_s: float | None = None
    workers: int = 1
    storage: str | None = None
    mlflow: Mlflow = Mlflow()
    validation: Validation = Validation()

    @property
    def objectives(self) -> list[Objective]:
        return list(self.objective) if isinstance(self.objective, list) else [self.objective]

    @property
    def overrides(self) -> dict[str, Any]:
        """Every fixed setting, by parameter name (strategy, engine, trader)."""
        return {**self.engine, **self.trader, **self.fixed}

    def storage_url(self) -> str:
        return self.storage or os.environ.get("OPTUNA_STORAGE") or str(DEFAULT_STORAGE_PATH)

    def tracking_uri(self) -> str:
        return self.mlflow.tracking_uri or env_tracking_uri() or default_tracking_uri()

    def experiment_name(self) -> str:
        """`mlflow.experiment`, else $MLFLOW_EXPERIMENT_NAME, else the study's name."""
        return self.mlflow.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or self.study


def env_tracking_uri() -> str | None:
    """`MLFLOW_TRACKING_URI`, when set: used when the flags and the config are silent."""
    return os.environ.get("MLFLOW_TRACKING_URI") or None


def default_tracking_uri() -> str:
    return f"sqlite:///{DEFAULT_TRACKING_DB}"


_AT = re.compile(r"^(.*) - at `\$(.*)`$")


def _field(path: str) -> str:
    """msgspec's `$.data.paths[0]` -> `data.paths[0]`."""
    return path.lstrip(".") or "(top level)"


# The valid values of the config's enumerated fields, for error messages.
_CHOICES: dict[str, tuple[str, ...]] = {
    "direction": get_args(Direction),
    "sampler.type": get_args(SamplerName),
    "pruner.type": get_args(PrunerName),
    "validation.scheme": get_args(SchemeName),
}

# Keys that were renamed or retired: what to write instead.
_RETIRED: dict[str, str] = {
    "pruner.warmup_sessions": (
        "renamed pruner.warmup_windows (trials report after each complete window)"
    ),
    "data.holdout.top_k": (
        "retired: the holdout is a lockbox played once, by the validated choice only; "
        "remove the key (validation.candidates sets how many trials are compared)"
    ),
}


# What to write when a required key is missing (configs/balanced_arb.yaml shows all).
_REQUIRED: dict[str, str] = {
    "study": "; name the study, e.g. `study: my-sweep` (a new name starts a new study)",
    "strategy": "; e.g. `strategy: balanced_arb` (`pk8opt strategies` lists them)",
    "space": (
        "; the parameters to search, e.g. `space: {edge: {low: 0.005, high: 0.05}}` "
        "(`pk8opt strategies NAME` lists a strategy's parameters)"
    ),
    "data": "; the sessions to replay, e.g. `data: {paths: [recordings/]}`",
    "paths": "; session folders or globs, e.g. `paths: [recordings/]`",
    "objective": "; e.g. `objective: {metric: pnl_per_window, direction: maximize}`",
    "metric": "; e.g. `metric: pnl_per_window`",
}


def _did_you_mean(field: str) -> str:
    """`did you mean trials? ` for `trails`: the closest key of the same level."""
    import difflib

    parent, _, name = re.sub(r"\[\d+\]", "", field).rpartition(".")
    struct: Any = SweepConfig
    for part in filter(None, parent.split(".")):
        by_name = {f.encode_name: f.type for f in msgspec.structs.fields(struct)}
        kinds = [by_name.get(part), *get_args(by_name.get(part))]
        kinds += [a for k in kinds for a in get_args(k)]
        struct = next(
            (k for k in kinds if isinstance(k, type) and issubclass(k, msgspec.Struct)), None
        )
        if struct is None:
            return ""
    keys = [f.encode_name for f in msgspec.structs.fields(struct)]
    close = difflib.get_close_matches(name, keys, n=1)
    return f"did you mean {close[0]}? " if close else ""


def _one_line(exc: msgspec.ValidationError, where: str) -> ConfigError:
    text = str(exc)
    m = _AT.match(text)
    msg, path = (m.group(1), m.group(2)) if m else (text, "")
    unknown = re.match(r"Object contains unknown field `(.+)`", msg)
    if unknown:
        field = _field(f"{path}.{unknown.group(1)}")
        if field in _RETIRED:
            return ConfigError(f"{where}: {field}: {_RETIRED[field]}")
        return ConfigError(
            f"{where}: {field}: unknown key ({_did_you_mean(field)}check its spelling and level)"
        )
    missing = re.match(r"Object missing required field `(.+)`", msg)
    if missing:
        field = _field(f"{path}.{missing.group(1)}")
        hint = _REQUIRED.get(re.sub(r"\[\d+\]", "", field)) or _REQUIRED.get(
            field.rsplit(".", 1)[-1], ""
        )
        return ConfigError(f"{where}: {field}: required{hint}")
    enum = re.match(r"Invalid enum value (.+)", msg)
    key = re.sub(r"\[\d+\]", "", path).strip(".")
    choices = (_CHOICES.get(key) or _CHOICES.get(key.rsplit(".", 1)[-1])) if enum else None
    if enum and choices:
        return ConfigError(
            f"{where}: {_field(path)}: {enum.group(1)} is not one of {', '.join(choices)}"
        )
    return ConfigError(f"{where}: {_field(path)}: {msg[0].lower()}{msg[1:]}")


def parse_config(data: Any, where: str) -> SweepConfig:
    """Build a `SweepConfig` from a decoded YAML document (checks types and keys only)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings (study:, strategy:, ...)")
    try:
        cfg = msgspec.convert(data, SweepConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise _one_line(exc, where) from None
    refuse_non_finite(msgspec.to_builtins(cfg), where)  # `.nan`, `.inf`, "nan"
    for field, name in (("study", cfg.study), ("mlflow.experiment", cfg.mlflow.experiment)):
        if name is not None and not name.strip():
            raise ConfigError(f"{where}: {field}: empty; give a name, e.g. `study: my-sweep`")
    return cfg


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, again: int) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep
    the last one silently)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _DuplicateKey(key, seen[key], line)
                seen[key] = line
            except TypeError:  # an unhashable key: YAML's own loader says so
                break
        return super().construct_mapping(node, deep)


def load_config(path: str | Path) -> SweepConfig:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except _DuplicateKey as dup:
        raise ConfigError(
            f"{path}: line {dup.again}: {dup.key}: given twice (lines {dup.first} and "
            f"{dup.again}); keep one"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{line} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, str(path))


# What each command-line override is called on the command line, and its least value.
_OPTIONS = {"trials": ("--trials", 1), "workers": ("--workers", 1), "timeout_s": ("--timeout", 0)}


def apply_overrides(cfg: SweepConfig, **changes: Any) -> SweepConfig:
    """Command-line values (`None` = not given) replace the file's."""
    changes = {k: v for k, v in changes.items() if v is not None}
    refuse_non_finite(changes, "command line")  # e.g. --timeout nan
    for key, (option, least) in _OPTIONS.items():  # blamed on the option, not the file
        if key in changes and (changes[key] < least or (least == 0 and changes[key] == 0)):
            bound = f"at least {least}" if least else "positive"
            raise ConfigError(f"{option} {changes[key]}: must be {bound}")
    if "study" in changes and not str(changes["study"]).strip():
        raise ConfigError("--study-name: empty; give a name, e.g. --study-name my-sweep")
    mlflow = {
        key: changes.pop(arg)
        for arg, key in (("tracking_uri", "tracking_uri"), ("artifacts", "artifact_location"))
        if arg in changes
    }
    if mlflow:
        changes["mlflow"] = msgspec.structs.replace(cfg.mlflow, **mlflow)
    return msgspec.structs.replace(cfg, **changes)


def as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def validate(
    cfg: SweepConfig,
    where: str,
    strategy_params: ParamSet,
    engine_params: ParamSet,
    trader_params: ParamSet,
) -> None:
    """Every check that does not need the data: declared parameters, ranges, budget."""
    check_fixed(cfg, where, strategy_params, engine_params, trader_params)
    check_calibration(cfg, where)
    every = strategy_params + engine_params + trader_params
    check_space(cfg, where, every, strategy_params)
    check_objectives(cfg, where)
    check_budget(cfg, where)
    check_data(cfg, where)
    check_pruner(cfg, where)
    check_validation(cfg.validation, where)
    check_grid(cfg, where, every)


def check_fixed(
    cfg: SweepConfig,
    where: str,
    strategy_params: ParamSet,
    engine_params: ParamSet,
    trader_params: ParamSet,
) -> None:
    """Every fixed value (`fixed:`, `engine:`, `trader:`) names a declared parameter
    and parses as its type."""
    for section, pset in (
        ("fixed", strategy_params),
        ("engine", engine_params),
        ("trader", trader_params),
    ):
        values = getattr(cfg, section)
        for name, raw in values.items():
            if name not in pset:
                hint = f"{cfg.strategy} declares: {', '.join(pset.by_name)}"
                if section != "fixed":
                    hint = f"{section} settings are: {', '.join(pset.by_name)}"
                raise ConfigError(f"{where}: {section}.{name}: unknown parameter ({hint})")
            pset.get(name, where).parse(raw, f"{where}: {section}.{name}")
    check_bounds(cfg, where, strategy_params + engine_params + trader_params)


def check_calibration(cfg: SweepConfig, where: str) -> None:
    """`calibration:` says where the `engine:` values come from: it needs them."""
    if cfg.calibration is None:
        return
    if not cfg.calibration.strip():
        raise ConfigError(
            f"{where}: calibration: empty; say where the engine: values come from, or remove it"
        )
    if not cfg.engine:
        raise ConfigError(
            f"{where}: calibration: no engine: settings to describe; paste the engine: block "
            "`pk8opt calibrate` wrote (engine.yaml) beside it"
        )


def check_bounds(cfg: SweepConfig, where: str, every: ParamSet) -> None:
    """A fixed `min_X` is not above its `max_X` (the other fixed too, or its default)."""
    overrides = cfg.overrides
    for p in every:
        other = "max_" + p.name.removeprefix("min_")
        if not p.name.startswith("min_") or other not in every or {p.name, other} & set(cfg.space):
            continue
        if p.name not in overrides and other not in overrides:
            continue
        low, high = (
            every.by_name[n].parse(overrides[n], f"{where}: {n}")
            if n in overrides
            else every.by_name[n].default
            for n in (p.name, other)
        )
        if low is not None and high is not None and low > high:
            raise ConfigError(
                f"{where}: {_section(cfg, p.name if p.name in overrides else other)}: "
                f"{p.name} {low} is above {other} {high}; the range would be empty"
            )


def _section(cfg: SweepConfig, name: str) -> str:
    for section in ("fixed", "engine", "trader"):
        if name in getattr(cfg, section):
            return f"{section}.{name}"
    return name


def check_space(cfg: SweepConfig, where: str, every: ParamSet, strategy_params: ParamSet) -> None:
    """Each searched parameter is declared, not also fixed, and searchable as given."""
    if not cfg.space:
        raise ConfigError(f"{where}: space: empty; list at least one parameter to search")
    for name, dim in cfg.space.items():
        if name not in every:
            raise ConfigError(
                f"{where}: space.{name}: {cfg.strategy} declares no parameter {name!r} "
                f"(strategy parameters: {', '.join(strategy_params.by_name)})"
            )
        if name in cfg.overrides:
            raise ConfigError(
                f"{where}: space.{name}: also set as a fixed value; keep it in one place"
            )
        check_dimension(every.by_name[name], dim, f"{where}: space.{name}")


def check_objectives(cfg: SweepConfig, where: str) -> None:
    """Known metrics (a renamed one named by its new name), and what several need."""
    objectives = cfg.objectives
    if not objectives:
        raise ConfigError(f"{where}: objective: give a metric and a direction")
    for i, obj in enumerate(objectives):
        if (
            obj.metric not in METRICS
            and obj.metric not in WINDOW_METRICS
            and not obj.metric.startswith("gate_")
        ):
            label = "objective" if len(objectives) == 1 else f"objective[{i}]"
            if obj.metric in RENAMED_METRICS:
                raise ConfigError(
                    f"{where}: {label}.metric: {obj.metric!r} is now called "
                    f"{RENAMED_METRICS[obj.metric]!r}; write `metric: "
                    f"{RENAMED_METRICS[obj.metric]}`"
                )
            raise ConfigError(
                f"{where}: {label}.metric: unknown metric {obj.metric!r} "
                f"(one of {', '.join((*WINDOW_METRICS, *METRICS))} or gate_<NAME>)"
            )
    if len(objectives) > 1 and cfg.pruner.type != "none":
        raise ConfigError(
            f"{where}: pruner.type: pruning needs a single objective; set `pruner: {{type: none}}`"
        )


def check_budget(cfg: SweepConfig, where: str) -> None:
    """The sampler's options, the trial count or time limit, the workers."""
    if cfg.sampler.type != "tpe":
        for option in ("startup_trials", "multivariate", "constant_liar"):
            if getattr(cfg.sampler, option) is not None:
                raise ConfigError(
                    f"{where}: sampler.{option}: a TPE option; remove it or use type: tpe"
                )
    if len(cfg.objectives) > 1 and cfg.sampler.type == "cmaes":
        raise ConfigError(f"{where}: sampler.type: cmaes handles one objective; use nsga2 or tpe")
    if cfg.trials is None and cfg.timeout_s is None:
        raise ConfigError(f"{where}: trials: give trials, timeout_s, or both")
    if cfg.trials is not None and cfg.trials < 1:
        raise ConfigError(f"{where}: trials: {cfg.trials} must be at least 1")
    if cfg.timeout_s is not None and cfg.timeout_s <= 0:
        raise ConfigError(f"{where}: timeout_s: {cfg.timeout_s} must be positive")
    if cfg.workers < 1:
        raise ConfigError(f"{where}: workers: {cfg.workers} must be at least 1")


def check_data(cfg: SweepConfig, where: str) -> None:
    if not cfg.data.paths:
        raise ConfigError(f"{where}: data.paths: empty; give recording folders or globs")
    h = cfg.data.holdout
    if h.start is None and not 0 <= h.fraction < 1:
        raise ConfigError(f"{where}: data.holdout.fraction: {h.fraction} must be in [0, 1)")
    if cfg.data.start and cfg.data.end and as_utc(cfg.data.start) >= as_utc(cfg.data.end):
        raise ConfigError(f"{where}: data.end: {cfg.data.end} is not after data.start")


def check_pruner(cfg: SweepConfig, where: str) -> None:
    if cfg.pruner.warmup_windows < 1 or cfg.pruner.startup_trials < 0:
        raise ConfigError(
            f"{where}: pruner: warmup_windows must be >= 1 and startup_trials >= 0 "
            "(no trial is pruned before one full window)"
        )
    if not 0 < cfg.pruner.p_threshold < 1:
        raise ConfigError(
            f"{where}: pruner.p_threshold: {cfg.pruner.p_threshold} must be in (0, 1)"
        )


def check_grid(cfg: SweepConfig, where: str, every: ParamSet) -> None:
    """The grid sampler needs a finite grid: choices, or a step for a float range."""
    if cfg.sampler.type != "grid":
        return
    for name, dim in cfg.space.items():
        p = every.by_name[name]
        if dim.choices is None and (p.type is float and dim.step is None):
            raise ConfigError(f"{where}: space.{name}: the grid sampler needs choices or a step")


def check_validation(v: Validation, where: str) -> None:
    for key in ("candidates", "folds", "blocks", "groups", "test_groups"):
        if getattr(v, key) < 1:
            raise ConfigError(f"{where}: validation.{key}: {getattr(v, key)} must be at least 1")
    for key in ("robust_top", "neighbours", "embargo_windows", "min_active_windows"):
        if getattr(v, key) < 0:
            raise ConfigError(f"{where}: validation.{key}: {getattr(v, key)} must be 0 or more")
    if v.blocks % 2 or v.blocks < 2:
        raise ConfigError(f"{where}: validation.blocks: {v.blocks} must be even and >= 2")
    if v.test_groups >= v.groups:
        raise ConfigError(
            f"{where}: validation.test_groups: {v.test_groups} must be fewer than groups "
            f"({v.groups})"
        )
    if not 0 < v.radius <= 0.5:
        raise ConfigError(f"{where}: validation.radius: {v.radius} must be in (0, 0.5]")
    for key in ("max_pbo", "min_dsr", "max_prob_oos_loss"):
        if (x := getattr(v, key)) is not None and not 0 <= x <= 1:
            raise ConfigError(f"{where}: validation.{key}: {x} must be a probability in [0, 1]")


def to_dict(cfg: SweepConfig) -> dict[str, Any]:
    return msgspec.to_builtins(cfg)
