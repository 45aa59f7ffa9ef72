"""Sweep config: schema, validation messages, search space, data selection."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from support.paths import REPO

from pk8opt.errors import ConfigError, DataSelectionError
from pk8opt.params import Param, ParamSet
from pk8opt.recordings.manifest import Manifest, write_manifest
from pk8opt.sweep.config import apply_overrides, load_config, parse_config, validate
from pk8opt.sweep.data import select_sessions
from pk8opt.sweep.space import grid, suggest

STRAT = ParamSet(
    [
        Param("edge", float, 0.02, "PM_T_EDGE", "edge", low=0.0, high=0.5),
        Param("size", int, 10, "PM_T_SIZE", "size", low=1, high=1000),
        Param("mode", str, "a", "PM_T_MODE", "mode", choices=("a", "b")),
        Param("hedge", bool, True, "PM_T_HEDGE", "hedge"),
    ]
)
ENGINE = ParamSet([Param("post_latency_ms", int, 50, "PM_T_POST", "lat", low=0)])
TRADER = ParamSet([Param("min_requote_s", float, 1.0, "PM_T_RQ", "rq", low=0)])

BASE = {
    "study": "t",
    "strategy": "toy",
    "space": {
        "edge": {"low": 0.001, "high": 0.1, "log": True},
        "size": {"low": 5, "high": 50, "step": 5},
        "mode": {"choices": ["a", "b"]},
    },
    "data": {"paths": ["recordings"]},
    "objective": {"metric": "pnl_usdc", "direction": "maximize"},
}


def check(doc: dict) -> None:
    cfg = parse_config(doc, "c.yaml")
    validate(cfg, "c.yaml", STRAT, ENGINE, TRADER)


def with_(path: str, value, doc=None) -> dict:
    import copy

    doc = copy.deepcopy(doc or BASE)
    keys = path.split(".")
    node = doc
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    return doc


def test_valid_config_passes_and_reads_defaults() -> None:
    cfg = parse_config(BASE, "c.yaml")
    validate(cfg, "c.yaml", STRAT, ENGINE, TRADER)
    assert cfg.sampler.type == "tpe"
    assert cfg.objectives[0].metric == "pnl_usdc"
    assert cfg.storage_url().endswith("optuna.journal")
    assert cfg.tracking_uri().startswith("sqlite:///")


@pytest.mark.parametrize(
    "path,value,expected",
    [
        ("samplr", {"type": "tpe"}, "c.yaml: samplr: unknown key"),
        ("sampler.typo", 1, "c.yaml: sampler.typo: unknown key"),
        ("trials", "many", "c.yaml: trials: expected `int | null`, got `str`"),
        (
            "sampler.type",
            "bayes",
            "c.yaml: sampler.type: 'bayes' is not one of tpe, random, cmaes, nsga2, grid",
        ),
        ("pruner.type", "asha", "pruner.type: 'asha' is not one of none, median, percentile"),
        (
            "sampler",
            {"type": "random", "constant_liar": True},
            "sampler.constant_liar: a TPE option; remove it or use type: tpe",
        ),
        ("space.edge", {"low": 0.1, "high": 0.01}, "space.edge: empty range"),
        ("space.size", {"low": 5, "high": 5}, "space.size: empty range"),
        ("space.edgy", {"low": 0.1, "high": 0.2}, "space.edgy: toy declares no parameter 'edgy'"),
        ("space.edge", {"low": 0.0, "high": 0.1, "log": True}, "space.edge.low: a log-scale"),
        ("space.edge", {"low": 0.1, "high": 0.9}, "space.edge.high: 0.9 is above the maximum"),
        ("space.mode", {"choices": ["a", "z"]}, "space.mode.choices: 'z' is not one of a, b"),
        ("space.mode", {"low": 1, "high": 2}, "mode is a str parameter; search it with choices"),
        ("space.size", {"low": 1.5, "high": 9}, "low and high must be integers"),
        ("fixed.bogus", 1, "fixed.bogus: unknown parameter (toy declares: edge, size"),
        ("fixed.hedge", "maybe", "fixed.hedge: 'maybe' is not a valid bool"),
        ("fixed.edge", 0.01, "space.edge: also set as a fixed value"),
        ("engine.nope", 1, "engine.nope: unknown parameter (engine settings are"),
        ("objective", {"metric": "profit"}, "objective.metric: unknown metric 'profit'"),
        (
            "objective",
            {"metric": "pairs"},
            "objective.metric: 'pairs' is now called 'paired_shares'; write `metric: paired_",
        ),
        ("data", {"symbols": ["BTC"]}, "data.paths: required; session folders or globs, e.g."),
        ("trials", 0, "trials: 0 must be at least 1"),
        ("workers", 0, "workers: 0 must be at least 1"),
        ("data.holdout.fraction", 1.0, "data.holdout.fraction: 1.0 must be in [0, 1)"),
    ],
)
def test_each_mistake_is_one_line_naming_the_field(path: str, value, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        check(with_(path, value))
    msg = str(err.value)
    assert expected in msg
    assert "\n" not in msg


def checked(doc: dict):
    check(doc)
    return parse_config(doc, "c.yaml")


def test_the_objective_defaults_to_the_mean_pnl_per_window() -> None:
    doc = with_("trials", 5)
    del doc["objective"]
    cfg = checked(doc)
    assert [(o.metric, o.direction) for o in cfg.objectives] == [("pnl_per_window", "maximize")]
    cfg = checked(with_("objective", {"direction": "maximize"}))
    assert cfg.objectives[0].metric == "pnl_per_window"
    for metric in ("median_pnl_per_window", "sharpe_per_window", "sortino_per_window"):
        assert checked(with_("objective", {"metric": metric})).objectives[0].metric == metric


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("pruner", {"warmup_sessions": 2}, "pruner.warmup_sessions: renamed pruner.warmup_windows"),
        ("pruner", {"warmup_windows": 0}, "pruner: warmup_windows must be >= 1"),
        ("pruner", {"p_threshold": 1.5}, "pruner.p_threshold: 1.5 must be in (0, 1)"),
        ("validation", {"blocks": 5}, "validation.blocks: 5 must be even and >= 2"),
        (
            "validation",
            {"scheme": "kfold"},
            "validation.scheme: 'kfold' is not one of walk_forward, cpcv",
        ),
        ("validation", {"groups": 2, "test_groups": 2}, "validation.test_groups: 2 must be fewer"),
        ("validation", {"radius": 0.9}, "validation.radius: 0.9 must be in (0, 0.5]"),
        ("validation", {"max_pbo": 2}, "validation.max_pbo: 2.0 must be a probability"),
        ("validation", {"max_prob_oos_loss": -1}, "validation.max_prob_oos_loss: -1.0 must be"),
        ("validation", {"min_oos": 2}, "validation.min_oos: unknown key"),
    ],
)
def test_validation_and_pruner_mistakes_name_the_field(path: str, value, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        check(with_(path, value))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_the_retired_holdout_top_k_says_what_replaced_it() -> None:
    doc = with_("trials", 5)
    doc["data"] = {**doc["data"], "holdout": {"fraction": 0.25, "top_k": 3}}
    with pytest.raises(ConfigError, match="data.holdout.top_k: retired: the holdout is a lockbox"):
        check(doc)


def test_the_defaults_of_the_validation_block() -> None:
    v = checked(with_("trials", 5)).validation
    assert (v.scheme, v.blocks, v.embargo_windows, v.min_active_windows) == (
        "walk_forward",
        8,
        1,
        3,
    )
    assert (v.min_oos_t, v.min_dsr, v.max_pbo, v.min_lockbox_pnl_per_window) == (
        2.0,
        0.95,
        None,  # PBO is reported; a config that sets max_pbo makes it a check
        0.0,
    )
    assert v.max_prob_oos_loss == 0.2
    assert checked(with_("trials", 5)).pruner.type == "wilcoxon"


@pytest.mark.parametrize("key", ["study", "strategy", "space", "data"])
def test_a_missing_key_is_named_with_what_to_write(key: str) -> None:
    doc = with_("trials", 5)
    del doc[key]
    with pytest.raises(ConfigError, match=rf"c.yaml: {key}: required; .*e\.g\. `"):
        check(doc)


def test_multi_objective_rejects_pruner_and_accepts_none() -> None:
    doc = with_(
        "objective",
        [{"metric": "pnl_usdc"}, {"metric": "max_drawdown_usdc", "direction": "minimize"}],
    )
    with pytest.raises(ConfigError, match="pruner.type: pruning needs a single objective"):
        check(doc)
    check(with_("pruner", {"type": "none"}, doc))


def test_grid_needs_steps_for_floats() -> None:
    with pytest.raises(ConfigError, match="space.edge: the grid sampler needs choices or a step"):
        check(with_("sampler", {"type": "grid"}))


def test_load_config_reports_bad_yaml_with_line(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("study: t\nspace: [\n")
    with pytest.raises(ConfigError, match=r"c.yaml: line \d+ not valid YAML"):
        load_config(f)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")


def test_cli_overrides_replace_file_values() -> None:
    cfg = apply_overrides(parse_config(BASE, "c"), trials=7, workers=None, tracking_uri="http://x")
    assert cfg.trials == 7 and cfg.workers == 1 and cfg.tracking_uri() == "http://x"


def test_shipped_config_parses() -> None:
    path = REPO / "configs" / "balanced_arb.yaml"
    cfg = load_config(path)
    assert cfg.strategy == "balanced_arb"
    assert yaml.safe_load(path.read_text())["space"]


def test_suggest_uses_declared_types() -> None:
    cfg = parse_config(BASE, "c")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    values = suggest(study.ask(), cfg.space, STRAT)
    assert isinstance(values["edge"], float) and 0.001 <= values["edge"] <= 0.1
    assert isinstance(values["size"], int) and values["size"] % 5 == 0
    assert values["mode"] in ("a", "b")
    g = grid(
        parse_config(
            with_(
                "space",
                {"size": {"low": 5, "high": 20, "step": 5}, "hedge": {"choices": [True, False]}},
            ),
            "c",
        ).space,
        STRAT,
    )
    assert g == {"size": [5, 10, 15, 20], "hedge": [True, False]}


def _session(root: Path, symbol: str, start_s: int) -> Path:
    slug = f"{symbol.lower()}-updown-15m-{start_s}"
    d = root / slug
    d.mkdir(parents=True)
    write_manifest(
        d,
        Manifest(
            slug=slug,
            symbol=symbol,
            timeframe="15m",
            condition_id="0x",
            token_up="1",
            token_down="2",
            window_start_s=start_s,
            window_end_s=start_s + 900,
            status="complete",
        ),
    )
    return d


def test_selection_filters_and_splits_by_time(tmp_path: Path) -> None:
    t0 = 1_750_000_500 - 1_750_000_500 % 900
    for i in range(4):
        for sym in ("BTC", "ETH"):
            _session(tmp_path, sym, t0 + 900 * i)
    data = parse_config(
        with_("data", {"paths": [str(tmp_path)], "holdout": {"fraction": 0.25}}), "c"
    ).data
    sel = select_sessions(data, "c")
    assert len(sel.in_sample) == 6 and len(sel.holdout) == 2
    assert max(sel.manifests[p].window_start_s for p in sel.in_sample) < min(
        sel.manifests[p].window_start_s for p in sel.holdout
    )
    only_btc = parse_config(with_("data", {"paths": [str(tmp_path)], "symbols": ["btc"]}), "c").data
    assert {sel.manifests[p].symbol for p in select_sessions(only_btc, "c").in_sample} == {"BTC"}
    with pytest.raises(DataSelectionError, match="c: data.symbols: no session for DOGE"):
        select_sessions(
            parse_config(with_("data", {"paths": [str(tmp_path)], "symbols": ["DOGE"]}), "c").data,
            "c",
        )
    with pytest.raises(DataSelectionError, match="data.start/end: no session starts in that range"):
        select_sessions(
            parse_config(
                with_("data", {"paths": [str(tmp_path)], "start": "2031-01-01T00:00:00Z"}), "c"
            ).data,
            "c",
        )
    with pytest.raises(DataSelectionError, match="data.paths: .*no such file"):
        select_sessions(
            parse_config(with_("data", {"paths": [str(tmp_path / "nope")]}), "c").data, "c"
        )
    assert select_sessions(data, "c").fingerprint == sel.fingerprint


@pytest.mark.parametrize(
    ("sampler", "workers", "multivariate", "liar"),
    [
        ({}, 1, True, False),
        ({}, 4, True, True),  # parallel workers steer away from each other's trials
        ({"multivariate": False, "constant_liar": False}, 4, False, False),
        ({"constant_liar": True}, 1, True, True),
    ],
)
def test_tpe_options(sampler: dict, workers: int, multivariate: bool, liar: bool) -> None:
    from pk8opt.sweep.study import make_sampler

    cfg = parse_config(with_("workers", workers, with_("sampler", sampler)), "c.yaml")
    made = make_sampler(cfg, STRAT)
    assert isinstance(made, optuna.samplers.TPESampler)
    assert (made._multivariate, made._constant_liar) == (multivariate, liar)


def test_paired_shares_is_an_objective_summed_over_sessions() -> None:
    from pk8opt.backtest.results import is_summed

    assert checked(with_("objective", {"metric": "paired_shares"})).objectives[0].metric == (
        "paired_shares"
    )
    # an older study's objective keeps its old name; it is the same sum
    assert is_summed("paired_shares") and is_summed("pairs")
