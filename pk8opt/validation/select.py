"""The deploy selection rule, as one pure function of a trials x windows matrix.

`deploy --best` ships the trial this rule chooses on every in-sample window; walk-forward
applies the same rule to each fold's train windows, so its out-of-sample record is the
evidence for the rule that ships (not for another one, such as "best mean").

The rule: among the eligible rows (trials with fills in enough windows), take the
`robust_top` best by mean P&L per window; score each by the lower quartile of the means
of its neighbourhood (the row itself and the parameter sets around it, `hoods`), and
choose the best score (ties: the better mean, then the lower row). A plateau, where most
neighbours earn, beats an isolated spike. When no top row has a scored neighbourhood,
the best mean is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from pk8opt.validation.stats import NotEnoughData, as_matrix, lower_quartile


@dataclass(frozen=True)
class Rule:
    """The rule's inputs other than the windows: the matrix (rows x windows), which rows
    may be chosen, each row's neighbourhood (neighbours x windows; NaN rows for
    neighbours that could not be replayed), and how many top rows are scored."""

    matrix: np.ndarray
    eligible: np.ndarray
    robust_top: int = 3
    hoods: Mapping[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        m = as_matrix(self.matrix)
        ok = np.asarray(self.eligible, dtype=bool)
        if ok.shape != (m.shape[0],):
            raise NotEnoughData(f"eligible must have one flag per row ({m.shape[0]})")
        if self.robust_top < 1:
            raise NotEnoughData(f"robust_top must be >= 1; got {self.robust_top}")
        object.__setattr__(self, "matrix", m)
        object.__setattr__(self, "eligible", ok)

    def tops(self, windows: np.ndarray) -> list[int]:
        """The `robust_top` eligible rows with the best mean on `windows`, best first
        (ties: the lower row)."""
        means = self.matrix[:, windows].mean(axis=1)
        order = sorted(np.flatnonzero(self.eligible), key=lambda i: (-means[i], i))
        return [int(i) for i in order[: self.robust_top]]

    def robustness(self, row: int, windows: np.ndarray) -> float:
        """Lower quartile of the mean on `windows` of the row and its neighbours; nan
        without a neighbourhood or with a neighbour that could not be scored."""
        hood = self.hoods.get(row)
        if hood is None or len(hood) == 0:
            return math.nan
        own = float(self.matrix[row, windows].mean())
        return lower_quartile(np.array([own, *np.asarray(hood)[:, windows].mean(axis=1)]))

    def choose(self, windows: np.ndarray) -> int:
        """The row the rule chooses on `windows`; raises when no row is eligible."""
        w = np.asarray(windows, dtype=int)
        if w.size == 0:
            raise NotEnoughData("the selection rule needs at least one window")
        top = self.tops(w)
        if not top:
            raise NotEnoughData("no trial is eligible to be chosen (all inactive)")
        means = self.matrix[:, w].mean(axis=1)
        scored = [(self.robustness(i, w), i) for i in top]
        scored = [(r, i) for r, i in scored if math.isfinite(r)]
        if not scored:
            return top[0]
        return max(scored, key=lambda ri: (ri[0], means[ri[1]], -ri[1]))[1]
