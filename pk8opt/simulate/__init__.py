"""Synthetic Polymarket sessions in the raw recording format (see docs/simulator.md).

simulate_session(out_dir, "BTC", 1790000100, seed=7) -> Path of the session folder
"""

from __future__ import annotations

from pk8opt.simulate.model import SYMBOLS, SimModel, SymbolModel, model_for
from pk8opt.simulate.session import simulate_session

__all__ = ["SYMBOLS", "SimModel", "SymbolModel", "model_for", "simulate_session"]
