"""A misspelled key of a sweep config is named with the closest key of its level."""

from __future__ import annotations

import pytest

from pk8opt.errors import ConfigError
from pk8opt.sweep.config import parse_config

DOC = {
    "study": "s",
    "strategy": "balanced_arb",
    "space": {"edge": {"low": 0.01, "high": 0.05}},
    "data": {"paths": ["recordings/sample"]},
}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"trails": 5}, "trails: unknown key (did you mean trials?"),
        (
            {"data": {"paths": ["x"], "holdout": {"fracton": 0.2}}},
            "data.holdout.fracton: unknown key (did you mean fraction?",
        ),
        ({"zzz_nothing_like_it": 1}, "zzz_nothing_like_it: unknown key (check its spelling"),
    ],
)
def test_an_unknown_key_gets_the_closest_of_its_level(change: dict, said: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({**DOC, **change}, "c.yaml")
    assert f"c.yaml: {said}" in str(err.value)
