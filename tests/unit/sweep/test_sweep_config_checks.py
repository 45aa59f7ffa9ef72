"""The config checks that name where a mistake is: a key given twice, an empty name, a
command-line value, an unknown strategy, an empty price range."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pk8opt.errors import ConfigError
from pk8opt.strategies.registry import get_strategy
from pk8opt.sweep.config import apply_overrides, check_fixed, load_config, parse_config
from pk8opt.trading.run_config import RunConfig

DOC = {
    "study": "s",
    "strategy": "balanced_arb",
    "space": {"edge": {"low": 0.01, "high": 0.05}},
    "data": {"paths": ["x"]},
}


def _write(tmp: Path, text: str) -> Path:
    path = tmp / "c.yaml"
    path.write_text(text)
    return path


def test_a_key_given_twice_names_the_key_and_both_lines(tmp_path: Path) -> None:
    text = yaml.safe_dump(DOC, sort_keys=False) + "study: t\n"
    last = len(text.splitlines())
    with pytest.raises(
        ConfigError, match=rf"c.yaml: line {last}: study: given twice \(lines 1 and {last}\)"
    ):
        load_config(_write(tmp_path, text))
    nested = "space:\n  edge: {low: 0.01, high: 0.05}\n  edge: {low: 0.02, high: 0.04}\n"
    with pytest.raises(ConfigError, match=r"line 3: edge: given twice \(lines 2 and 3\)"):
        load_config(_write(tmp_path, nested))


def test_an_unknown_strategy_names_the_file_and_field(tmp_path: Path) -> None:
    # the strategies a sweep knows are its evaluator's (the paper engine's by default)
    from pk8opt.sweep.evaluate import load_evaluator
    from pk8opt.sweep.runner import strategy_params

    path = _write(tmp_path, yaml.safe_dump({**DOC, "strategy": "nosuch"}))
    cfg = load_config(path)
    with pytest.raises(ConfigError, match=r"^\S*c.yaml: strategy: unknown strategy 'nosuch'"):
        strategy_params(cfg, str(path), load_evaluator(None))


def test_empty_names_and_bad_command_line_values_blame_their_source() -> None:
    with pytest.raises(ConfigError, match="c.yaml: study: empty"):
        parse_config({**DOC, "study": " "}, "c.yaml")
    cfg = parse_config(DOC, "c.yaml")
    for change, want in [
        ({"workers": 0}, "--workers 0: must be at least 1"),
        ({"trials": 0}, "--trials 0: must be at least 1"),
        ({"timeout_s": 0.0}, "--timeout 0.0: must be positive"),
        ({"study": ""}, "--study-name: empty"),
    ]:
        with pytest.raises(ConfigError, match=want) as err:
            apply_overrides(cfg, **change)
        assert "c.yaml" not in str(err.value)


def test_a_fixed_min_above_its_max_is_refused() -> None:
    sp, ep, tp = RunConfig.param_sets("balanced_arb")
    assert get_strategy("balanced_arb").params is sp
    above = parse_config({**DOC, "fixed": {"min_price": 0.97}}, "c.yaml")  # default max 0.95
    with pytest.raises(ConfigError, match="c.yaml: fixed.min_price: min_price 0.97 is above"):
        check_fixed(above, "c.yaml", sp, ep, tp)
    fine = parse_config({**DOC, "fixed": {"min_price": 0.2, "max_price": 0.8}}, "c.yaml")
    check_fixed(fine, "c.yaml", sp, ep, tp)
