"""What `pk8opt calibrate` found, as data (`CalibrationReport.to_dict`, the `--json`
document) and as the texts it writes: the `PM_PAPER_*` block for a `.env`, the
`engine:` block for a sweep config, and the summary it prints."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pk8opt.calibrate.evaluate import Evaluation, OrderRow
from pk8opt.calibrate.score import ScoreRule, WindowScore, score, totals
from pk8opt.calibrate.space import FitParam, to_engine
from pk8opt.calibrate.uncertainty import Interval, Profile
from pk8opt.engine.config import ENGINE_PARAMS

SCORE_TEXT = (
    "mean per order of (real filled share - engine filled share)^2 + time_weight x "
    "time term (0 neither filled, 1 only one filled, min(|time-to-fill error|, "
    "time_cap_s) / time_cap_s both filled); lower is better"
)


@dataclass(frozen=True)
class ParamResult:
    """One fitted parameter: the search's best, what is written, and how sure."""

    param: FitParam
    fitted: Any  # the best the search found
    value: Any  # what is written: `fitted`, or the default when not identified
    default: Any
    interval: Interval
    profile: Profile
    # added to what is written: for the post latency, the run's own median delay from
    # deciding to sending (the fit replays each order from when it left; the engine
    # posts it when the trade loop decides)
    offset: float = 0.0

    @property
    def written(self) -> Any:
        return self.value + self.offset if self.offset and not self.param.is_bool else self.value

    def engine_values(self) -> dict[str, Any]:
        """The written value as `ENGINE_PARAMS` values (a cancel latency in two halves),
        rounded."""
        return {k: _round(k, v) for k, v in to_engine({self.param.name: self.written}).items()}


@dataclass(frozen=True)
class Side:
    """One parameter set's figures on some windows."""

    score: float
    orders: int
    real_filled: int
    paper_filled: int
    both_filled: int
    real_shares: float
    paper_shares: float
    real_pnl: float | None
    paper_pnl: float | None
    median_abs_dt_s: float | None  # |time-to-fill error| of the orders both filled

    @classmethod
    def of(cls, ev: Evaluation, windows: Sequence[int], rule: ScoreRule) -> Side:
        parts = [ev.parts[i] for i in windows]
        t = totals(parts)
        return cls(
            score=score(parts, rule),
            orders=t.orders,
            real_filled=t.real_filled,
            paper_filled=t.paper_filled,
            both_filled=t.both_filled,
            real_shares=t.real_shares,
            paper_shares=t.paper_shares,
            real_pnl=t.real_pnl,
            paper_pnl=t.paper_pnl,
            median_abs_dt_s=statistics.median(t.abs_dt_s) if t.abs_dt_s else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: _num(v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class WindowLine:
    """One window: fit or held out, and both parameter sets' figures on it."""

    start_s: int
    fitted: bool  # in the fit (else held out)
    sessions: int
    orders: int
    calibrated: WindowScore
    defaults: WindowScore

    @property
    def start(self) -> str:
        return datetime.fromtimestamp(self.start_s, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")

    def to_dict(self, rule: ScoreRule) -> dict[str, Any]:
        return {
            "start": self.start,
            "set": "fit" if self.fitted else "holdout",
            "sessions": self.sessions,
            "orders": self.orders,
            "real_filled": self.calibrated.real_filled,
            "calibrated_filled": self.calibrated.paper_filled,
            "defaults_filled": self.defaults.paper_filled,
            "real_pnl": _num(self.calibrated.real_pnl),
            "calibrated_pnl": _num(self.calibrated.paper_pnl),
            "defaults_pnl": _num(self.defaults.paper_pnl),
            "calibrated_score": _num(score([self.calibrated], rule)),
            "defaults_score": _num(score([self.defaults], rule)),
        }


@dataclass
class CalibrationReport:
    log: str
    recordings: list[str]
    rule: ScoreRule
    params: list[ParamResult]
    base: dict[str, Any]  # the engine parameters not fitted, as replayed
    windows: list[WindowLine]
    fit_score: tuple[float, float]  # calibrated, defaults on the fit windows
    calibrated: Side  # on the held-out windows
    defaults: Side
    rows: tuple[list[OrderRow], list[OrderRow]]  # every order: calibrated, defaults
    excluded: dict[str, int]
    unrecorded: list[str]
    replays: int
    created: str
    trials: int = 0
    candidates: int = 0
    run_id: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    client_delay: dict[str, float] = field(default_factory=dict)  # ms: median, p90; orders

    @property
    def n_holdout(self) -> int:
        return sum(not w.fitted for w in self.windows)

    def provenance(self) -> str:
        """One line: where the fit comes from and how good it is."""
        return (
            f"pk8opt calibrate {self.created}: log {self.log}, recording "
            f"{_paths_text(self.recordings)}; held-out score {self.calibrated.score:.4f} "
            f"(defaults {self.defaults.score:.4f}) on {self.n_holdout} window(s), "
            f"{self.calibrated.orders} orders"
        )

    def env_values(self) -> dict[str, str]:
        """Each fitted `PM_PAPER_*` and its value as a `.env` writes it."""
        out = {}
        for r in self.params:
            for name, v in r.engine_values().items():
                p = ENGINE_PARAMS.by_name[name]
                out[p.env] = p.format(v)
        return out

    def env_entries(self) -> list[dict[str, Any]]:
        """Each fitted `PM_PAPER_*`: its value and bootstrap interval (a cancel latency's
        halves: half the interval each), and whether the data identify it."""
        out = []
        for r in self.params:
            share = 0.5 if len(r.param.engine_names) == 2 else 1.0
            iv, add = r.interval, r.offset
            for name, v in r.engine_values().items():
                out.append(
                    {
                        "name": ENGINE_PARAMS.by_name[name].env,
                        "param": name,
                        "value": _num(v),
                        "low": _num(_round(name, (iv.low + add) * share))
                        if iv.low is not None
                        else None,
                        "high": _num(_round(name, (iv.high + add) * share))
                        if iv.high is not None
                        else None,
                        "identified": r.profile.identified,
                    }
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "pm_paper": self.env_entries(),
            "log": self.log,
            "recording": self.recordings,
            "score": {"definition": SCORE_TEXT, **vars(self.rule)},
            "parameters": [_param_dict(r) for r in self.params],
            "not_fitted": self.base,
            "fit_windows": {
                "windows": sum(w.fitted for w in self.windows),
                "calibrated_score": _num(self.fit_score[0]),
                "defaults_score": _num(self.fit_score[1]),
            },
            "holdout": {
                "windows": self.n_holdout,
                "calibrated": self.calibrated.to_dict(),
                "defaults": self.defaults.to_dict(),
            },
            "windows": [w.to_dict(self.rule) for w in self.windows],
            "client_delay_ms": {k: _num(v) for k, v in self.client_delay.items()},
            "orders_left_out": self.excluded,
            "windows_not_recorded": self.unrecorded,
            "search": {
                "trials": self.trials,
                "candidates": self.candidates,
                "replays": self.replays,
            },
            "provenance": self.provenance(),
            "mlflow_run_id": self.run_id,
            "outputs": self.outputs,
        }


def _param_dict(r: ParamResult) -> dict[str, Any]:
    iv, prof = r.interval, r.profile
    return {
        "name": r.param.name,
        "env": list(r.param.env_names),
        "engine": {k: _num(v) for k, v in r.engine_values().items()},
        "value": _num(_round(r.param.name, r.value)),
        "fitted": _num(r.fitted),
        "default": _num(r.default),
        "added_when_written": _num(r.offset),
        "interval": {"low": _num(iv.low), "high": _num(iv.high), "draws": iv.draws}
        | ({"share_on": _num(iv.share_on)} if r.param.is_bool else {}),
        "range": [r.param.low, r.param.high] if not r.param.is_bool else [False, True],
        "identified": prof.identified,
        "note": prof.note,
        "profile": [[_num(v), _num(s)] for v, s in prof.points],
        "profile_spread": _num(prof.spread),
    }


def env_block(report: CalibrationReport) -> str:
    """The `PM_PAPER_*` lines for a `.env`, with provenance and intervals as comments."""
    lines = [
        "# Paper-engine parameters fitted by `pk8opt calibrate` (docs/calibrate.md)",
        f"# {report.provenance()}",
    ]
    for r in report.params:
        lines.append(f"# {r.param.name} {_show(r.value)}: {_explain(r)}")
        for name, v in r.engine_values().items():
            p = ENGINE_PARAMS.by_name[name]
            lines.append(f"{p.env}={p.format(v)}")
    return "\n".join(lines) + "\n"


def engine_block(report: CalibrationReport) -> str:
    """`calibration:` and `engine:` for a sweep config (docs/sweep.md)."""
    lines = [
        "# Paste into a sweep config: every trial runs the paper engine as calibrated, and",
        "# the study keeps where these values come from (`calibration`, a study attr).",
        f"calibration: {_yaml_text(report.provenance())}",
        "engine:",
    ]
    for r in report.params:
        for name, v in r.engine_values().items():
            text = ("true" if v else "false") if isinstance(v, bool) else repr(v)
            what = _explain(r)
            if name != r.param.name:
                what = f"half of {r.param.name} {_show(r.value)}: {what}"
            lines.append(f"  {name}: {text}  # {what}")
    return "\n".join(lines) + "\n"


def _explain(r: ParamResult) -> str:
    if not r.profile.identified:
        return f"not identified ({r.profile.note}); kept at its default"
    iv = r.interval
    if r.param.is_bool:
        share = f"{iv.share_on:.0%}" if iv.share_on is not None else "?"
        return f"fitted; on in {share} of {iv.draws} bootstrap draws"
    added = (
        f"; written with the run's own {r.offset:.4g} ms from deciding to sending added"
        if r.offset and not r.param.is_bool
        else ""
    )
    if iv.low is None or iv.high is None:
        return "fitted; no bootstrap interval" + added
    return f"fitted; 90% bootstrap interval {iv.low:.4g} .. {iv.high:.4g}" + added


def summary_lines(report: CalibrationReport) -> list[str]:
    """What the command prints."""
    out = [f"{'parameter':<22} {'value':>10} {'default':>9}  90% interval        identified"]
    for r in report.params:
        iv = r.interval
        span = (
            "-"  # kept at its default: the data say nothing of it
            if not r.profile.identified
            else f"{iv.low:.4g} .. {iv.high:.4g}"
            if iv.low is not None and iv.high is not None
            else (f"on {iv.share_on:.0%} of draws" if iv.share_on is not None else "-")
        )
        ident = "yes" if r.profile.identified else f"no: {r.profile.note}"
        out.append(
            f"{r.param.name:<22} {_show(r.value):>10} {_show(r.default):>9}  {span:<19} {ident}"
        )
    c, d = report.calibrated, report.defaults
    cd = report.client_delay
    if cd:
        out += [
            f"post_latency_ms is the venue's part, from an order leaving signed to it resting; "
            f"the run's own delay from deciding to sending (median {cd['median']:.4g} ms, "
            f"90th percentile {cd['p90']:.4g} ms, {cd['orders']:.0f} orders) is added to it "
            "in what is written"
        ]
    out += [
        "",
        f"held-out windows: {report.n_holdout}, orders: {c.orders}",
        f"{'':<12}{'score':>9}{'filled':>8}{'shares':>10}{'P&L':>10}",
        f"{'real':<12}{'':>9}{c.real_filled:>8}{c.real_shares:>10.1f}{_money(c.real_pnl):>10}",
        f"{'calibrated':<12}{c.score:>9.4f}{c.paper_filled:>8}{c.paper_shares:>10.1f}{_money(c.paper_pnl):>10}",
        f"{'defaults':<12}{d.score:>9.4f}{d.paper_filled:>8}{d.paper_shares:>10.1f}{_money(d.paper_pnl):>10}",
    ]
    return out


def _paths_text(paths: Sequence[str]) -> str:
    """One path, or several as their common folder and how many."""
    if len(paths) == 1:
        return paths[0]
    try:
        common = os.path.commonpath(paths)
    except ValueError:  # absolute and relative mixed
        return ", ".join(paths)
    return f"{common or '.'} ({len(paths)} paths)"


def _round(name: str, v: Any) -> Any:
    """Latencies to 0.1 ms, shares to 0.001, rates to 3 significant digits."""
    if isinstance(v, bool) or not isinstance(v, float):
        return v
    if name.endswith("_ms"):
        return round(v, 1)
    if name == "flow_base":
        return float(f"{v:.3g}")
    return round(v, 3)


def _num(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6) + 0.0 if v == v else None  # nan: none
    return v


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _money(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _yaml_text(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
