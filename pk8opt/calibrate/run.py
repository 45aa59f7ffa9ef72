"""`pk8opt calibrate`: read a run's log and recording, fit, measure, report, track.

The steps: the log's orders and fills (`reallog`) meet the recording's sessions and
are grouped into windows in time order; the first windows are fitted, the latest held
out (`holdout`, a share of the windows, at least one). The search (`fit`) and the
profiles and bootstrap (`uncertainty`) run on the fit windows only; the calibrated
parameters and the defaults are then replayed on every window, and compared on the
held-out ones (`report`). What is written: `--out` and an MLflow run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pk8opt.backtest.session_cache import ReplaySession
from pk8opt.calibrate.evaluate import Evaluator, Problem, Window
from pk8opt.calibrate.fit import best_of, candidate, fingerprint, open_study, search
from pk8opt.calibrate.local import refine
from pk8opt.calibrate.outputs import write_outputs
from pk8opt.calibrate.reallog import RealLog, read_real_log
from pk8opt.calibrate.report import CalibrationReport, ParamResult, Side, WindowLine
from pk8opt.calibrate.score import ScoreRule
from pk8opt.calibrate.space import FitParam, choose, default_values
from pk8opt.calibrate.uncertainty import Interval, intervals, refit, resamples, rescore
from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.errors import ConfigError, DataSelectionError
from pk8opt.recordings.load import load_sessions
from pk8opt.tracking import check_store

Say = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """Everything `pk8opt calibrate` is told (docs/calibrate.md)."""

    log: Path
    recordings: Sequence[Path]
    tracking_uri: str | None
    out: Path = Path("calibration")
    trials: int = 150
    holdout: float = 0.3
    bootstrap: int = 20
    bootstrap_trials: int = 0
    profile_points: int = 7
    refine: int = 60
    flat: float = 1e-3
    fit: Sequence[str] | None = None
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    fixed: Mapping[str, str] = field(default_factory=dict)
    rule: ScoreRule = ScoreRule()
    seed: int = 0
    storage: str | None = None
    study_name: str | None = None


def calibrate(opts: Options, say: Say = lambda _: None) -> CalibrationReport:
    """Fit the engine to the run's fills (the module's docstring); the report, written."""
    _check(opts)
    params = choose(opts.fit, opts.ranges)
    if opts.tracking_uri is not None:
        check_store(opts.tracking_uri, "nothing was fitted")
    log = read_real_log(opts.log)
    windows, unrecorded = _windows(log, opts.recordings)
    n_fit = _n_fit(len(windows), opts.holdout)
    base = _base(log, opts.fixed, params)
    ev = Evaluator(Problem(windows, base, opts.rule))
    fit = list(range(n_fit))
    n_orders = sum(w.n_orders for w in windows[:n_fit])
    say(
        f"fitting {len(params)} parameters on {n_fit} windows ({n_orders} orders); "
        f"{len(windows) - n_fit} held out"
    )
    check = _check_text(opts, log, [w.start_s for w in windows[:n_fit]], base, params)
    study = open_study(
        opts.storage, opts.study_name or _study_name(), opts.seed, opts.trials, check
    )
    results, counts = _fit(opts, ev, params, fit, study, say)
    final = {r.param.name: r.value for r in results}
    delay = client_delay(log)
    if delay:
        results = [
            replace(r, offset=delay["median"]) if r.param.name == "post_latency_ms" else r
            for r in results
        ]
    report = _report(opts, ev, windows, n_fit, results, final, log, unrecorded)
    report.trials, report.candidates = counts
    report.client_delay = delay
    write_outputs(report, opts.out, opts.tracking_uri, say)
    return report


def _fit(
    opts: Options, ev: Evaluator, params: Sequence[FitParam], fit: list[int], study: Any, say: Say
) -> tuple[list[ParamResult], tuple[int, int]]:
    """Search, profile, bootstrap: each parameter's result; (trials, candidates)."""
    rule, start = opts.rule, default_values(params)
    cands = search(ev, params, start, fit, opts.trials, study, lambda n: say(f"  trial {n + 1}"))
    best, profs, more = refine(
        ev, params, best_of(cands, rule), fit, opts.profile_points, opts.flat, opts.refine
    )
    cands = [*cands, *more]
    say(
        f"fit score {best.score(rule):.5f} (defaults {candidate(ev, start, fit).score(rule):.5f}); "
        f"bootstrap: {opts.bootstrap} draws"
    )
    weights = resamples(len(fit), opts.bootstrap, opts.seed)
    draws = (
        refit(ev, params, best, fit, weights, opts.bootstrap_trials, opts.seed)
        if opts.bootstrap_trials > 0
        else rescore(cands, weights, ev)
    )
    results = _results(params, best.values, start, profs, intervals(params, draws))
    return results, (len(study.trials), len(cands))


def _check(opts: Options) -> None:
    opts.rule.check()
    if opts.trials < 1:
        raise ConfigError(f"--trials {opts.trials}: must be at least 1")
    if not 0 < opts.holdout < 1:
        raise ConfigError(f"--holdout {opts.holdout}: must be a share of the windows in (0, 1)")
    if min(opts.bootstrap, opts.bootstrap_trials, opts.refine) < 0:
        raise ConfigError("--bootstrap, --bootstrap-trials and --refine: must be 0 or more")
    if opts.profile_points < 2:
        raise ConfigError(f"--profile-points {opts.profile_points}: must be at least 2")
    if opts.flat < 0:
        raise ConfigError(f"--flat {opts.flat}: must be 0 or more")


def _windows(log: RealLog, recordings: Sequence[Path]) -> tuple[list[Window], list[str]]:
    """The log's windows that the recording holds, grouped by start time, in time order;
    and the slugs of the log's windows it does not hold."""
    if not log.n_orders:
        left = _excluded(log)
        why = f" ({', '.join(f'{n} {k}' for k, n in left.items())} left out)" if left else ""
        raise DataSelectionError(
            f"{log.path}: no order the venue took{why}; nothing to calibrate on"
        )
    sessions: dict[str, ReplaySession] = {s.slug: s for s in load_sessions(recordings)}
    by_start: dict[int, Window] = {}
    unrecorded = []
    for slug, win in log.windows.items():
        if not win.orders:
            continue
        session = sessions.get(slug)
        if session is None:
            unrecorded.append(slug)
            continue
        start = session.manifest.window_start_s
        by_start.setdefault(start, Window(start, [])).sessions.append((session, win))
    if not by_start:
        raise DataSelectionError(
            f"{log.path}: none of its {len(log.windows)} windows with orders is in the "
            f"recording ({', '.join(map(str, recordings))}); give the --record folder of that run"
        )
    return [by_start[k] for k in sorted(by_start)], unrecorded


def _n_fit(n: int, holdout: float) -> int:
    """Windows to fit on: the first ones, leaving `holdout` of them (at least one)."""
    if n < 2:
        raise DataSelectionError(
            f"the log and the recording share {n} window: calibrate needs at least 2 "
            "(the fit, and one held out to score it on)"
        )
    return n - min(n - 1, max(1, round(holdout * n)))


def _base(log: RealLog, fixed: Mapping[str, str], params: Sequence[FitParam]) -> dict[str, Any]:
    """The engine parameters that are not fitted: the run's `PM_PAPER_*`, then `--set`."""
    base = ENGINE_PARAMS.from_env(log.run_env, f"{log.path}: live_started")
    fitted = {n for p in params for n in p.engine_names}
    for key, raw in fixed.items():
        p = ENGINE_PARAMS.by_name.get(key) or ENGINE_PARAMS.by_env.get(key)
        if p is None:
            raise ConfigError(
                f"--set {key}: not an engine parameter; one of {', '.join(ENGINE_PARAMS.by_name)}"
            )
        if p.name in fitted:
            raise ConfigError(f"--set {key}: it is fitted; leave it out of --fit to hold it")
        base[p.name] = p.parse(raw, f"--set {key}")
    return base


def _study_name() -> str:
    return "calibrate-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _check_text(
    opts: Options,
    log: RealLog,
    fit_starts: list[int],
    base: Mapping[str, Any],
    params: Sequence[FitParam],
) -> str:
    """What a stored study must have been fitted on to be resumed: a fingerprint."""
    return fingerprint(
        {
            "log": str(log.path.resolve()),
            "orders": log.n_orders,
            "fit": fit_starts,
            "base": dict(base),
            "rule": [opts.rule.time_cap_s, opts.rule.time_weight],
            "params": [[p.name, p.low, p.high] for p in params],
        }
    )


def _results(
    params: Sequence[FitParam],
    best: Mapping[str, Any],
    start: Mapping[str, Any],
    profs: Sequence[Any],
    iv: Mapping[str, Interval],
) -> list[ParamResult]:
    """Each parameter's fit; one the data does not identify keeps its default."""
    by_name = {p.name: p for p in profs}
    out = []
    for p in params:
        prof = by_name[p.name]
        value = best[p.name] if prof.identified else start[p.name]
        out.append(ParamResult(p, best[p.name], value, start[p.name], iv[p.name], prof))
    return out


def _report(
    opts: Options,
    ev: Evaluator,
    windows: list[Window],
    n_fit: int,
    results: list[ParamResult],
    final: Mapping[str, Any],
    log: RealLog,
    unrecorded: list[str],
) -> CalibrationReport:
    """The calibrated set and the defaults on every window; compared on the held-out."""
    start = {r.param.name: r.default for r in results}
    every = list(range(len(windows)))
    cal, dflt = ev.evaluate(final, every), ev.evaluate(start, every)
    held = every[n_fit:]
    rule = opts.rule
    lines = [
        WindowLine(w.start_s, i < n_fit, len(w.sessions), w.n_orders, cal.parts[i], dflt.parts[i])
        for i, w in enumerate(windows)
    ]
    return CalibrationReport(
        log=str(log.path),
        recordings=[str(p) for p in opts.recordings],
        rule=rule,
        params=results,
        base={  # what is not fitted (the open loop's own cash aside)
            k: v
            for k, v in ev.problem.base.items()
            if k not in _fitted_names(results) and k != "starting_cash_usdc"
        },
        windows=lines,
        fit_score=(
            Side.of(cal, every[:n_fit], rule).score,
            Side.of(dflt, every[:n_fit], rule).score,
        ),
        calibrated=Side.of(cal, held, rule),
        defaults=Side.of(dflt, held, rule),
        rows=(cal.rows, dflt.rows),
        excluded=_excluded(log),
        unrecorded=unrecorded,
        replays=ev.replays,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def client_delay(log: RealLog) -> dict[str, float]:
    """The run's own delay from deciding on an order to sending it signed, in ms:
    median and 90th percentile over its orders (empty when the log does not say)."""
    ms = sorted(
        o.client_delay_ns / 1e6 for w in log.windows.values() for o in w.orders if o.decided_ns
    )
    if not ms or not any(ms):
        return {}
    return {
        "median": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "orders": float(len(ms)),
    }


def _fitted_names(results: Sequence[ParamResult]) -> set[str]:
    return {n for r in results for n in r.param.engine_names}


def _excluded(log: RealLog) -> dict[str, int]:
    out: dict[str, int] = {}
    for w in log.windows.values():
        for why, n in w.excluded.items():
            out[why] = out.get(why, 0) + n
    return out
