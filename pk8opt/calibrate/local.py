"""After the search: a local search around its best, and the profiles.

The search (`fit`) samples the whole space with a small budget; the score is flat
between the points where an order's outcome changes, so its best is near, not at, the
optimum. `compass` is a pattern search from there: each continuous parameter is tried a
step up and a step down (on a log scale for a log-scaled one); a step that lowers the
score is taken, a parameter whose steps both fail has its step halved, until every step
is below 1/256 of its range or `budget` evaluations are spent. The profiles
(`uncertainty.profiles`) then move each parameter over its whole range; if one of their
points beats the fit (another basin), the compass starts again from there, once.

The fit is the best of every point scored: the search's trials, the compass's and the
profiles'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pk8opt.calibrate.evaluate import Evaluator
from pk8opt.calibrate.fit import Candidate, best_of, candidate
from pk8opt.calibrate.space import FitParam, active
from pk8opt.calibrate.uncertainty import Profile, profiles

FIRST_STEP = 1 / 8  # of the range
LAST_STEP = 1 / 256
ROUNDS = 2


def _moved(p: FitParam, v: float, step: float, sign: int) -> float:
    """`v` a step up (`sign` 1) or down, on the parameter's scale, kept in its range."""
    out = math.exp(math.log(max(v, p.low)) + sign * step) if p.log else v + sign * step
    return min(p.high, max(p.low, out))


def _span(p: FitParam) -> float:
    return math.log(p.high / p.low) if p.log else p.high - p.low


def compass(
    ev: Evaluator, params: Sequence[FitParam], start: Candidate, fit: Sequence[int], budget: int
) -> tuple[Candidate, list[Candidate]]:
    """The pattern search of the module's docstring from `start`: its best, every point."""
    rule = ev.problem.rule
    cont = [p for p in params if not p.is_bool]
    step = {p.name: _span(p) * FIRST_STEP for p in cont}
    best, best_score = start, start.score(rule)
    seen: list[Candidate] = []
    while len(seen) < budget:
        live = [p for p in cont if active(best.values, p) and step[p.name] >= _span(p) * LAST_STEP]
        if not live:
            break
        for p in live:
            improved = False
            for sign in (1, -1):
                v = _moved(p, float(best.values[p.name]), step[p.name], sign)
                if v == best.values[p.name] or len(seen) >= budget:
                    continue
                c = candidate(ev, {**best.values, p.name: v}, fit)
                seen.append(c)
                if c.score(rule) < best_score - 1e-12:
                    best, best_score, improved = c, c.score(rule), True
                    break
            if not improved:
                step[p.name] /= 2
    return best, seen


def refine(
    ev: Evaluator,
    params: Sequence[FitParam],
    best: Candidate,
    fit: Sequence[int],
    points: int,
    flat: float,
    budget: int,
) -> tuple[Candidate, list[Profile], list[Candidate]]:
    """Compass, profiles, and again from a better profile point (once); returns the
    fit, the profiles around it, and every point scored."""
    rule = ev.problem.rule
    seen: list[Candidate] = []
    profs: list[Profile] = []
    for _ in range(ROUNDS):
        best, more = compass(ev, params, best, fit, budget - len(seen))
        seen.extend(more)
        profs, cands = profiles(ev, params, best.values, fit, points, flat)
        seen.extend(cands)
        better = best_of([best, *cands], rule)
        if not better.score(rule) < best.score(rule):
            break
        best = better
    return best_of([best, *seen], rule), profs, seen
