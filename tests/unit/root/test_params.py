from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pk8opt.errors import ConfigError
from pk8opt.params import Param, ParamSet, parse_assignments

PS = ParamSet(
    [
        Param("edge", float, 0.02, "PM_ARB_EDGE", "edge", low=0.0, high=0.5),
        Param("size", int, 5, "PM_ARB_SIZE", "size", low=5, high=1000),
        Param("enabled", bool, True, "PM_ARB_ENABLED", "on/off"),
        Param("mode", str, "a", "PM_ARB_MODE", "mode", choices=("a", "b")),
    ]
)


@given(st.floats(0.0, 0.5, allow_nan=False))
def test_float_env_round_trip_is_exact(x):
    env = PS.to_env({"edge": x})
    assert PS.from_env(env)["edge"] == x


def test_errors_name_the_variable_and_the_problem():
    with pytest.raises(ConfigError, match="PM_ARB_SIZE.*not a valid int"):
        PS.from_env({"PM_ARB_SIZE": "ten"})
    with pytest.raises(ConfigError, match="PM_ARB_EDGE.*above the maximum 0.5"):
        PS.from_env({"PM_ARB_EDGE": "0.9"})
    with pytest.raises(ConfigError, match="unknown parameter 'edg'"):
        PS.resolve({"edg": "1"}, "--set")
    with pytest.raises(ConfigError, match="not one of a, b"):
        PS.resolve({"mode": "c"}, "--set")
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_assignments(["edge"])


def test_resolve_and_bool_parsing():
    v = PS.resolve(parse_assignments(["edge=0.1", "enabled=0", "size=7"]), "--set")
    assert v == {"edge": 0.1, "size": 7, "enabled": False, "mode": "a"}
