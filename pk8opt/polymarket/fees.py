"""What Polymarket says of a market's fees and of how a market resolved.

Gamma's `feeSchedule` object and the two outcomes of an up/down market are the venue's
own words; the recordings keep them as they are (`recordings.manifest` re-exports both).
"""

from __future__ import annotations

from typing import Literal

import msgspec

Outcome = Literal["Up", "Down", "unknown"]


class FeeSchedule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Gamma's `feeSchedule`: takers pay `C * rate * (p * (1 - p)) ** exponent`."""

    rate: float = 0.0
    exponent: float = 1.0
    taker_only: bool = True
    rebate_rate: float = 0.0
