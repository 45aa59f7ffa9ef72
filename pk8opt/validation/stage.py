"""The validation stage: search -> validate -> lockbox -> verdict (deploy reads it).

`run_validation` is one call after the search: it builds the trials x windows matrix of
the candidates (the top trials, pruned ones re-run to completion, every completed trial,
the defaults, not trading), measures PBO, the deflated
Sharpe ratio of the choice, walk-forward out-of-sample P&L and the robustness of the
top candidates, chooses a trial, plays the lockbox (the holdout windows) once with that
trial only (its result is kept in the study: a later validation that chooses the same
trial reuses it), judges the figures against the config's thresholds, and records all of
it: metrics and a `pk8opt.verdict` tag on the parent run, the report and
`trials_x_windows.csv` as artifacts, and last the verdict record in the study
(`pk8opt.validation.record`) where `deploy` reads it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from pk8opt.params import ParamSet
from pk8opt.sweep.config import SweepConfig
from pk8opt.sweep.data import Selection
from pk8opt.sweep.evaluate import load_evaluator
from pk8opt.sweep.windows import scored_run, window_index, window_values
from pk8opt.sweep.worker import _ignore_sigint, loaded
from pk8opt.validation import (
    Figures,
    Thresholds,
    cpcv_folds,
    judge,
    walk_forward_folds,
)
from pk8opt.validation import record as verdict_record
from pk8opt.validation.candidates import (
    Row,
    complete_rows,
    in_box,
    n_tried,
    neighbours,
    rank_trials,
    tried_by_state,
)
from pk8opt.validation.evidence import evidence
from pk8opt.validation.reasons import DEFLATED_SHARPE, WALK_FORWARD, Reasons
from pk8opt.validation.report import publish
from pk8opt.validation.select import Rule

NOT_TRADING = "not_trading"
DEFAULTS = "defaults"
LOCKBOX_SEEN = "lockbox_seen_by"  # study user attr: the trials that played the lockbox
LOCKBOX_PNL = "lockbox_pnl"  # study user attr: trial number -> its lockbox P&L per window


@dataclass
class Validated:
    """What the stage found; `record` is what the study keeps for deploy."""

    chosen: Row
    verdict: Any
    figures: Any
    rows: list[Row]
    window_starts: list[int]
    robust: dict[str, float] = field(default_factory=dict)  # label -> lower quartile
    walk: Any = None
    pbo: Any = None
    dsr: Any = None
    lockbox: list[float] | None = None
    lockbox_seen_before: list[int] = field(default_factory=list)
    replays: int = 0
    seconds: float = 0.0
    rule: Rule | None = None  # the deploy rule on the trial rows, with its neighbourhoods
    folds: list[Any] = field(default_factory=list)
    beside: Any = None  # the baselines' rows (defaults, not trading)
    tried: dict[str, int] = field(default_factory=dict)  # the trials N counts, by state
    rerun: list[int] = field(default_factory=list)  # pruned trials re-run on every window

    def record(self, parent: str | None) -> dict[str, Any]:
        return {
            "verdict": self.verdict.tag(),
            "brief": self.verdict.brief(),  # the study's `pk8opt.verdict` attr
            "passed": bool(self.verdict.passed),
            "chosen_trial": self.chosen.trial,
            # its full replay on the in-sample windows (a trial pruned in the search too)
            "chosen_in_sample_pnl_usdc": float(sum(self.chosen.pnl)),
            "figures": _plain(vars(self.figures)),
            "checks": [_plain(vars(c)) for c in self.verdict.checks],
            "parent_run_id": parent,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, float | np.floating):
            out[k] = None if not math.isfinite(float(v)) else float(v)
        elif isinstance(v, np.integer | np.bool_):
            out[k] = v.item()
        else:
            out[k] = v
    return out


def replay(
    evaluator_spec: str | None, strategy: str, paths: list[str], overrides: dict[str, Any]
) -> dict[str, Any]:
    """One parameter set on `paths` (run in a worker process): per-session P&L and fills."""
    _ignore_sigint()
    evaluator = load_evaluator(evaluator_spec)
    metrics, pnl, fills = scored_run(evaluator, loaded(evaluator, paths), strategy, dict(overrides))
    return {"metrics": metrics, "pnl": pnl, "fills": fills}


class _Replays:
    """Replays submitted to the worker processes, collected in order."""

    def __init__(
        self, executor: Any, cfg: SweepConfig, evaluator: str | None, console: Console
    ) -> None:
        self.executor, self.cfg, self.evaluator = executor, cfg, evaluator
        self.console = console
        self.count = 0
        self.failed: list[str] = []

    def submit(self, paths: list[str], params: dict[str, Any]) -> Any:
        self.count += 1
        overrides = {**self.cfg.overrides, **params}
        return self.executor.submit(replay, self.evaluator, self.cfg.strategy, paths, overrides)

    def result(self, future: Any, what: str) -> dict[str, Any] | None:
        """A replay's result, or None (said on the terminal) when it raised."""
        try:
            return dict(future.result())
        except Exception as exc:
            line = f"{what} failed: {type(exc).__name__}: {exc}"
            self.failed.append(line)
            self.console.print(f"[yellow]warning[/yellow] {line}", highlight=False)
            return None


def _row(
    label: str, params: dict[str, Any], result: dict[str, Any], members: Any, trial: Any
) -> Row:
    return Row(
        label,
        params,
        window_values(result["pnl"], members),
        window_values(result["fills"], members),
        trial,
    )


def _matrix(
    study: Any, cfg: SweepConfig, members: list[list[int]], paths: list[str], replays: _Replays
) -> list[Row]:
    """The configurations the search put forward, best in-sample first: the top
    `validation.candidates` trials (a pruned one re-run to completion) and every other
    completed trial (free: its sessions are kept); then the defaults and not trading."""
    metric = cfg.objectives[0].metric
    ranked = rank_trials(study, members, metric)
    top = cfg.validation.candidates
    ranked = [(t, v) for k, (t, v) in enumerate(ranked) if k < top or complete_rows(t, members)]
    futures: dict[int, Any] = {}
    held: dict[int, tuple[list[float], list[float]]] = {}
    for t, _ in ranked:
        rows = complete_rows(t, members)
        if rows is None:  # pruned, or from before per-session results were kept
            futures[t.number] = replays.submit(paths, dict(t.params))
        else:
            held[t.number] = rows
    defaults = replays.submit(paths, {})
    out: list[Row] = []
    for t, _ in ranked:
        if t.number in held:
            pnl, fills = held[t.number]
            out.append(Row(str(t.number), dict(t.params), pnl, fills, t.number))
        elif got := replays.result(futures[t.number], f"trial {t.number} on the in-sample windows"):
            out.append(_row(str(t.number), dict(t.params), got, members, t.number))
    zeros = [0.0] * len(members)
    if got := replays.result(defaults, "the defaults on the in-sample windows"):
        out.append(_row(DEFAULTS, {}, got, members, None))
    out.append(Row(NOT_TRADING, {}, zeros, list(zeros), None))
    return out


def _neighbourhoods(
    study: Any,
    cfg: SweepConfig,
    trial_rows: list[Row],
    tops: list[int],
    members: list[list[int]],
    paths: list[str],
    replays: _Replays,
    every: Any,
) -> dict[int, np.ndarray]:
    """For each row in `tops`: up to `validation.neighbours` parameter sets around it,
    each scored on every in-sample window (neighbours x windows). Completed trials inside
    the neighbourhood count first; fresh points are replayed for the rest (a replay that
    fails is a NaN row: an unscored neighbour never makes a place look better)."""
    v = cfg.validation
    done = [
        (t, rows)
        for t in study.get_trials(deepcopy=False)
        if (rows := complete_rows(t, members)) is not None
    ]
    plans: dict[int, tuple[list[list[float]], list[Any]]] = {}
    for k, i in enumerate(tops):
        row = trial_rows[i]
        inside = [
            (t.params, pnl)
            for t, (pnl, _) in done
            if t.number != row.trial and in_box(t.params, row.params, cfg.space, every, v.radius)
        ][: v.neighbours]
        fresh = neighbours(
            row.params,
            cfg.space,
            every,
            v.neighbours - len(inside),
            v.radius,
            seed=(cfg.sampler.seed or 0) * 1000 + k,
            taken=[p for p, _ in inside],
        )
        plans[i] = ([list(pnl) for _, pnl in inside], [replays.submit(paths, p) for p in fresh])
    out: dict[int, np.ndarray] = {}
    for i, (found, futures) in plans.items():
        for f in futures:
            got = replays.result(f, f"a neighbour of trial {trial_rows[i].label}")
            found.append(
                [math.nan] * len(members) if got is None else window_values(got["pnl"], members)
            )
        out[i] = np.array(found, dtype=float).reshape(len(found), len(members))
    return out


@dataclass
class _Selection:
    """The deploy rule on the trial rows, the rows it chose, and the robustness table."""

    rule: Rule | None
    chosen: Row
    robust: dict[str, float]  # label -> lower quartile on every in-sample window


def _select(
    study: Any,
    cfg: SweepConfig,
    trial_rows: list[Row],
    members: list[list[int]],
    folds: list[Any],
    paths: list[str],
    replays: _Replays,
    every: Any,
) -> _Selection:
    """The deploy rule's choice on every in-sample window; neighbourhoods are replayed
    for the top rows of every window set the rule will be asked about (all windows and
    each walk-forward fold's train windows)."""
    v = cfg.validation
    eligible = np.array([r.active() >= v.min_active_windows for r in trial_rows], dtype=bool)
    if not eligible.any():
        return _Selection(None, trial_rows[0], {})
    rule = Rule(np.array([r.pnl for r in trial_rows]), eligible, v.robust_top)
    every_window = np.arange(len(members))
    tops: list[int] = []
    for w in [every_window, *(f.train for f in folds)]:
        tops += [i for i in rule.tops(w) if i not in tops]
    hoods = _neighbourhoods(study, cfg, trial_rows, tops, members, paths, replays, every)
    rule = Rule(rule.matrix, eligible, v.robust_top, hoods)
    robust = {
        trial_rows[i].label: rule.robustness(i, every_window) for i in rule.tops(every_window)
    }
    return _Selection(rule, trial_rows[rule.choose(every_window)], robust)


def _folds(cfg: SweepConfig, n: int, why: Reasons) -> list[Any]:
    v = cfg.validation
    if v.scheme == "cpcv":
        make = partial(cpcv_folds, groups=v.groups, test_groups=v.test_groups)
    else:
        make = partial(walk_forward_folds, n_folds=v.folds, anchored=v.anchored)
    return why.attempt(WALK_FORWARD, make, n, embargo=v.embargo_windows) or []


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


def run_validation(
    study: Any,
    storage: Any,
    cfg: SweepConfig,
    sel: Selection,
    *,
    tracker: Any,
    parent: str,
    executor: Any,
    evaluator: str | None,
    experiments_dir: Path,
    console: Console,
    every: ParamSet,
    before_storing: Callable[[], None] = lambda: None,
) -> Validated | None:
    """The whole stage, once, after the search; None when no trial has a score.

    The study's earlier verdict is withdrawn first; the new one is stored last, after
    the report (`before_storing` is called just before the first thing is stored): a
    validation stopped before then leaves no verdict, and deploy refuses the study."""
    t0 = time.perf_counter()
    v = cfg.validation
    shown = (verdict_record.load(storage, study.study_name) or {}).get("chosen_trial")
    verdict_record.withdraw(storage, study.study_name)
    starts = [sel.manifests[p].window_start_s for p in sel.in_sample]
    _, members = window_index(starts)
    window_starts = sorted(set(starts))
    paths = [str(p) for p in sel.in_sample]
    if not rank_trials(study, members, cfg.objectives[0].metric):
        console.print("no trial has an in-sample score; nothing to validate")
        return None
    console.print(
        f"validating: the top {v.candidates} trials and every completed one, the defaults "
        f"and not trading, on {len(window_starts)} in-sample windows"
    )
    replays = _Replays(executor, cfg, evaluator, console)
    rows = _matrix(study, cfg, members, paths, replays)
    trading = [r for r in rows if r.trial is not None]
    if not trading:
        console.print("no candidate could be replayed; nothing to validate")
        return None
    why = Reasons()  # figure -> why it is n/a
    folds = _folds(cfg, len(window_starts), why)
    chosen_by = _select(study, cfg, trading, members, folds, paths, replays, every)
    beside = np.array([r.pnl for r in rows if r.trial is None])
    found = _evidence(study, cfg, chosen_by, trading, beside, folds, why)
    chosen, robust = chosen_by.chosen, chosen_by.robust
    pbo, walk, dsr = found.pbo, found.walk, found.dsr
    lockbox, seen_before = _lockbox(study, sel, chosen, replays, shown)
    figures = _figures(study, chosen, pbo, walk, dsr, lockbox)
    out = Validated(
        chosen=chosen,
        verdict=judge(figures, thresholds_of(cfg), why),
        figures=figures,
        rows=rows,
        window_starts=window_starts,
        robust=robust,
        walk=walk,
        pbo=pbo,
        dsr=dsr,
        lockbox=lockbox,
        lockbox_seen_before=seen_before,
        replays=replays.count,
        rule=chosen_by.rule,
        folds=folds,
        beside=beside,
        tried=tried_by_state(study),
        rerun=_pruned(study, trading),
    )
    out.seconds = time.perf_counter() - t0
    publish(
        out, study, cfg, sel, tracker, parent, replays, experiments_dir, console, before_storing
    )
    verdict_record.save(storage, study.study_name, out.record(parent))
    return out


def _evidence(
    study: Any,
    cfg: SweepConfig,
    chosen_by: _Selection,
    trading: list[Row],
    beside: np.ndarray,
    folds: list[Any],
    why: Reasons,
) -> Any:
    """PBO, walk-forward and the DSR of the choice (`validation.evidence`)."""
    v = cfg.validation
    if chosen_by.rule is None:
        why.note(
            WALK_FORWARD + DEFLATED_SHARPE,
            f"no trial has fills in at least {v.min_active_windows} windows "
            "(validation.min_active_windows), so none can be chosen",
        )
    matrix = np.array([r.pnl for r in trading])
    return evidence(chosen_by.rule, matrix, beside, folds, n_tried(study), blocks=v.blocks, why=why)


def _pruned(study: Any, rows: list[Row]) -> list[int]:
    """The trials of `rows` the search pruned (their rows are full re-runs)."""
    pruned = {t.number for t in study.get_trials(deepcopy=False) if t.state.name == "PRUNED"}
    return [r.trial for r in rows if r.trial is not None and r.trial in pruned]


def _figures(
    study: Any, chosen: Row, pbo: Any, walk: Any, dsr: Any, lockbox: list[float] | None
) -> Figures:
    return Figures(
        pbo=_num(pbo.pbo if pbo else None),
        prob_oos_loss=_num(pbo.prob_oos_loss if pbo else None),
        dsr=_num(dsr.dsr if dsr else None),
        psr=_num(dsr.psr if dsr else None),
        n_trials=n_tried(study),
        oos_pnl_per_window=_num(walk.mean if walk else None),
        oos_t=_num(walk.t if walk else None),
        lockbox_pnl_per_window=(sum(lockbox) / len(lockbox)) if lockbox else None,
        active_windows=chosen.active(),
    )


def thresholds_of(cfg: SweepConfig) -> Thresholds:
    """The deploy gate's thresholds as the config's `validation:` block sets them."""
    v = cfg.validation
    return Thresholds(
        min_oos_t=v.min_oos_t,
        min_dsr=v.min_dsr,
        max_pbo=v.max_pbo,
        max_prob_oos_loss=v.max_prob_oos_loss,
        min_lockbox_pnl_per_window=v.min_lockbox_pnl_per_window,
        min_active_windows=v.min_active_windows,
    )


def _lockbox(
    study: Any, sel: Selection, chosen: Row, replays: _Replays, shown: int | None
) -> tuple[list[float] | None, list[int]]:
    """The chosen trial on the holdout windows, played once per trial: a trial that
    played it before (a validation stopped after its lockbox, or one that chose the same
    trial) gets its kept result. Also the trials whose lockbox result an earlier
    validation used: the others that played it, and this one when the verdict it
    replaces (`shown`) chose it too."""
    if not sel.holdout or chosen.trial is None:
        return None, []
    seen = [int(n) for n in (study.user_attrs.get(LOCKBOX_SEEN) or [])]
    before = [n for n in seen if n != chosen.trial or n == shown]
    played = dict(study.user_attrs.get(LOCKBOX_PNL) or {})
    kept = played.get(str(chosen.trial))
    if kept is not None:
        return [float(x) for x in kept], before
    if chosen.trial not in seen:
        study.set_user_attr(LOCKBOX_SEEN, [*seen, chosen.trial])
    paths = [str(p) for p in sel.holdout]
    _, members = window_index([sel.manifests[p].window_start_s for p in sel.holdout])
    got = replays.result(
        replays.submit(paths, chosen.params), f"trial {chosen.trial} on the lockbox"
    )
    if got is None:
        return None, before
    pnl = window_values(got["pnl"], members)
    study.set_user_attr(LOCKBOX_PNL, {**played, str(chosen.trial): pnl})
    return pnl, before
