"""Named sets of simulator parameters: `pk8opt simulate --preset NAME`.

- `default`: the market as described in docs/simulator.md, with no planted edge.
- `edge`: the same market plus uninformed sellers hitting both tokens' bids whatever
  their value (`dump_rate`, `dump_size_*`); in it balanced_arb has a positive expected
  P&L inside `EDGE_PRESET_REGION` (measured in docs/simulator.md, "A market with a
  known edge"). A sweep over such sessions should find and validate that region.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pk8opt.errors import ConfigError

PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "edge": {"dump_rate": 0.1, "dump_size_median": 10_000.0, "dump_size_sigma": 0.5},
}

# Where balanced_arb earns on `--preset edge` sessions (docs/simulator.md, "A market with
# a known edge"): each named parameter in its closed range [lo, hi], and the spread the
# strategy needs before it quotes a pair at all, `edge + 0.02 * join_ticks` (its bids sit
# `join_ticks` ticks of 0.01 from the best bids and a pair must cost at most 1 - edge), at
# most EDGE_PRESET_SPREAD_NEEDED_MAX: its pair target is in reach whenever the book is
# three ticks wide. Parameters not named are free within configs/balanced_arb.yaml's space.
EDGE_PRESET_REGION: dict[str, tuple[float, float]] = {
    "edge": (0.002, 0.08),
    "join_ticks": (-3, 0),
}
EDGE_PRESET_SPREAD_NEEDED_MAX = 0.03


def preset(name: str) -> dict[str, Any]:
    """The overrides of preset `name` (a copy), or a ConfigError naming the choices."""
    try:
        return dict(PRESETS[name.strip().lower()])
    except KeyError:
        raise ConfigError(
            f"--preset: {name!r} is not one of {', '.join(PRESETS)} (e.g. --preset edge)"
        ) from None


def spread_needed(params: Mapping[str, Any]) -> float:
    """The spread balanced_arb needs before it quotes: edge + 0.02 * join_ticks."""
    return float(params["edge"]) + 0.02 * float(params["join_ticks"])


def in_edge_region(params: Mapping[str, Any]) -> bool:
    """Whether balanced_arb parameters lie in the edge preset's region (missing names fail):
    every range of `EDGE_PRESET_REGION` and `spread_needed <= EDGE_PRESET_SPREAD_NEEDED_MAX`."""
    if any(name not in params for name in EDGE_PRESET_REGION):
        return False
    in_ranges = all(
        lo <= float(params[name]) <= hi for name, (lo, hi) in EDGE_PRESET_REGION.items()
    )
    return in_ranges and spread_needed(params) <= EDGE_PRESET_SPREAD_NEEDED_MAX + 1e-12
