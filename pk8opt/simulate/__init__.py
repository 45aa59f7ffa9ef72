"""Synthetic Polymarket sessions in the raw recording format (see docs/simulator.md).

simulate_session(out_dir, "BTC", 1790000100, seed=7) -> Path of the session folder
"""

from __future__ import annotations

from pk8opt.simulate.model import SYMBOLS, SimModel, SymbolModel, model_for
from pk8opt.simulate.presets import (
    EDGE_PRESET_REGION,
    EDGE_PRESET_SPREAD_NEEDED_MAX,
    PRESETS,
    in_edge_region,
    preset,
)
from pk8opt.simulate.session import simulate_session

__all__ = [
    "EDGE_PRESET_REGION",
    "EDGE_PRESET_SPREAD_NEEDED_MAX",
    "PRESETS",
    "SYMBOLS",
    "SimModel",
    "SymbolModel",
    "in_edge_region",
    "model_for",
    "preset",
    "simulate_session",
]
