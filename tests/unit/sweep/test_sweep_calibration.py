"""A sweep config's `engine:` block (fixed paper-engine values for every trial) and its
`calibration:` provenance, which the study keeps as a user attr."""

from __future__ import annotations

import pytest

from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.errors import ConfigError
from pk8opt.params import Param, ParamSet
from pk8opt.sweep.config import parse_config, validate
from pk8opt.sweep.study_meta import StudyMeta, read_meta, study_attrs
from pk8opt.trading.trader import TRADER_PARAMS

STRAT = ParamSet([Param("edge", float, 0.02, "PM_T_EDGE", "edge", low=0.0, high=0.5)])
BASE = {
    "study": "t",
    "strategy": "toy",
    "space": {"edge": {"low": 0.001, "high": 0.1}},
    "data": {"paths": ["recordings"]},
}


def check(**extra) -> None:
    validate(
        parse_config({**BASE, **extra}, "c.yaml"), "c.yaml", STRAT, ENGINE_PARAMS, TRADER_PARAMS
    )


def test_a_calibrated_engine_block_with_its_provenance_is_valid() -> None:
    cfg = parse_config(
        {
            **BASE,
            "calibration": "pk8opt calibrate: log logs/, score 0.01 (defaults 0.02)",
            "engine": {"post_latency_ms": 401.2, "queue_add_ahead_frac": 0.5, "maker_flow": False},
        },
        "c.yaml",
    )
    validate(cfg, "c.yaml", STRAT, ENGINE_PARAMS, TRADER_PARAMS)
    assert cfg.overrides["post_latency_ms"] == 401.2  # applied to every trial
    assert cfg.calibration.startswith("pk8opt calibrate")


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"engine": {"post_latency": 400}}, "c.yaml: engine.post_latency: unknown parameter"),
        ({"engine": {"post_latency_ms": "soon"}}, "c.yaml: engine.post_latency_ms: 'soon' is not"),
        (
            {"engine": {"queue_add_ahead_frac": 2}},
            "engine.queue_add_ahead_frac: 2.0 is above the maximum 1",
        ),
        ({"calibration": "from a run"}, "calibration: no engine: settings to describe"),
        ({"calibration": " ", "engine": {"seed": 2}}, "calibration: empty"),
        ({"calibration": 3, "engine": {"seed": 2}}, "calibration: expected `str"),
    ],
)
def test_engine_and_calibration_mistakes_name_the_field(extra, says) -> None:
    with pytest.raises(ConfigError, match=says):
        check(**extra)


def test_the_study_keeps_the_calibration_and_reads_it_back() -> None:
    meta = StudyMeta("toy", [("maximize", "pnl_usdc")], calibration="pk8opt calibrate: x")
    attrs = study_attrs(meta)
    assert attrs["pk8opt.calibration"] == "pk8opt calibrate: x"
    back = read_meta(attrs)
    assert back is not None and back.calibration == "pk8opt calibrate: x"
    assert read_meta(study_attrs(StudyMeta("toy", []))).calibration is None  # type: ignore[union-attr]
