"""How sure the fit is: a profile of each parameter (is it identified?) and bootstrap
intervals over windows.

Profile: each fitted parameter is moved across its whole range (`points` values, the
others held at the fit) and the fit windows are scored at each. A parameter whose score
changes by less than `flat` over its range is *not identified*: the data cannot tell its
values apart (no order it could change, or a flow rate while maker flow is off). A point
of the profile that beats the fit becomes the fit (`local.refine`).

Bootstrap: `draws` resamples of the fit windows (with replacement, seeded). Re-score
(the default): every candidate scored so far (the trials and the profiles' points) is
scored again on the resample from its per-window sums, no replay, and the best one's
values are that draw's. Refit (`refit_trials` > 0): a small search of its own on each
resample, started from the fit. Each parameter's interval is the 5th to 95th
percentile of its draws. Re-scoring picks among the points already tried, so an
interval is as fine as those points are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pk8opt.calibrate.evaluate import Evaluator
from pk8opt.calibrate.fit import Candidate, best_of, candidate, open_study, search
from pk8opt.calibrate.space import FitParam, active

LOW_Q, HIGH_Q = 5.0, 95.0


@dataclass(frozen=True)
class Profile:
    """One parameter moved across its range, the others at the fit."""

    name: str
    points: tuple[tuple[Any, float], ...]  # (value, score on the fit windows)
    spread: float  # highest - lowest score
    identified: bool
    note: str = ""  # why not, in words


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None
    share_on: float | None = None  # an on/off parameter: the share of draws with it on
    draws: int = 0  # draws where the parameter acted


def profiles(
    ev: Evaluator,
    params: Sequence[FitParam],
    at: Mapping[str, Any],
    fit: Sequence[int],
    points: int,
    flat: float,
) -> tuple[list[Profile], list[Candidate]]:
    """Each parameter's profile around `at`, and every point scored (as candidates)."""
    rule = ev.problem.rule
    out: list[Profile] = []
    cands: list[Candidate] = []
    for p in params:
        if not active(at, p):
            out.append(Profile(p.name, (), 0.0, False, f"no effect: {p.needs} is off at the fit"))
            continue
        pts = []
        for v in p.grid(points):
            c = candidate(ev, {**at, p.name: v}, fit)
            cands.append(c)
            pts.append((v, c.score(rule)))
        scores = [s for _, s in pts]
        spread = max(scores) - min(scores)
        ok = spread >= flat
        note = "" if ok else f"flat: the score moves {spread:.2g} over the range (< {flat:g})"
        out.append(Profile(p.name, tuple(pts), spread, ok, note))
    return out, cands


def resamples(n_windows: int, draws: int, seed: int) -> list[list[int]]:
    """`draws` bootstrap resamples: how many times each fit window counts."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        picks = rng.integers(0, n_windows, n_windows)
        out.append(np.bincount(picks, minlength=n_windows).tolist())
    return out


def rescore(
    cands: Sequence[Candidate], weights: Sequence[Sequence[int]], ev: Evaluator
) -> list[dict[str, Any]]:
    """Each resample's best candidate's values."""
    rule = ev.problem.rule
    return [dict(best_of(cands, rule, w).values) for w in weights]


def refit(
    ev: Evaluator,
    params: Sequence[FitParam],
    best: Candidate,
    fit: Sequence[int],
    weights: Sequence[Sequence[int]],
    trials: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Each resample's own small search (started from the fit), its best values."""
    rule = ev.problem.rule
    out = []
    for d, w in enumerate(weights):
        study = open_study(None, f"bootstrap-{d}", seed + 1 + d, trials, "")
        cands = search(ev, params, best.values, fit, trials, study, weights=w)
        out.append(dict(best_of(cands, rule, w).values))
    return out


def intervals(
    params: Sequence[FitParam], draws: Sequence[Mapping[str, Any]]
) -> dict[str, Interval]:
    """The 5th-95th percentile of each parameter over the draws where it acted."""
    out = {}
    for p in params:
        got = [d[p.name] for d in draws if p.name in d and active(d, p)]
        if p.is_bool:
            share = sum(bool(v) for v in got) / len(got) if got else None
            out[p.name] = Interval(None, None, share, len(got))
        elif got:
            lo, hi = np.percentile(np.asarray(got, dtype=float), [LOW_Q, HIGH_Q])
            out[p.name] = Interval(float(lo), float(hi), None, len(got))
        else:
            out[p.name] = Interval(None, None, None, 0)
    return out
