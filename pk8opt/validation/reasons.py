"""Why a validation figure is n/a: one line per figure, shown beside the verdict.

A statistic that cannot be computed (too few windows, too few configurations, no spread)
fails its check; `Reasons` keeps what stopped it, so the verdict table, `validation.md`
and deploy's refusal say "oos_t n/a: walk-forward needs at least 6 windows ...; the data
has 4" instead of a bare n/a.
"""

from __future__ import annotations

import math
from typing import Any

WALK_FORWARD = ("oos_pnl_per_window", "oos_t")
DEFLATED_SHARPE = ("dsr", "psr")
PBO_FIGURES = ("pbo", "prob_oos_loss")


class Reasons(dict[str, str]):
    """Figure name (as in `Figures`) -> why it could not be computed; the first reason wins."""

    def attempt(self, figures: tuple[str, ...], fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)`, or None when the data is too small for it; then its
        message becomes the reason of each of `figures`."""
        try:
            return fn(*args, **kwargs)
        except (ValueError, ZeroDivisionError, IndexError) as exc:
            self.note(figures, str(exc) or type(exc).__name__)
            return None

    def note(self, figures: tuple[str, ...], reason: str) -> None:
        for name in figures:
            self.setdefault(name, reason)

    def explain_walk(self, walk: Any) -> None:
        """Why a computed walk-forward still has no mean or t-statistic."""
        if walk is None:
            return
        n = int(len(walk.oos))
        if math.isnan(walk.mean):
            self.note(WALK_FORWARD, "walk-forward tested no window")
        elif math.isnan(walk.t):
            if n < 2:
                self.note(
                    ("oos_t",),
                    f"the t-statistic needs at least 2 out-of-sample windows; walk-forward "
                    f"tested {n}: record more windows or use more validation.folds",
                )
            else:
                self.note(("oos_t",), f"the out-of-sample P&L is 0 in every one of its {n} windows")

    def explain_dsr(self, dsr: Any) -> None:
        """Why a computed deflated Sharpe ratio is nan."""
        if dsr is None:
            return
        if dsr.n_obs < 2:
            why = f"the Sharpe ratio needs at least 2 in-sample windows; there are {dsr.n_obs}"
            self.note(DEFLATED_SHARPE, why)
        elif not math.isfinite(dsr.sr):
            why = "the chosen trial's P&L is the same in every window (no Sharpe ratio)"
            self.note(DEFLATED_SHARPE, why)
        elif not (math.isfinite(dsr.skew) and math.isfinite(dsr.kurt)):
            self.note(DEFLATED_SHARPE, "the chosen trial's P&L has no skewness or kurtosis")
        for name in DEFLATED_SHARPE:
            if math.isnan(getattr(dsr, name)):
                self.note((name,), "its variance term (skewness, kurtosis) is not positive")
