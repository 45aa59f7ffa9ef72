"""CLI: calibrate (fit the paper engine's fill parameters to a real run's fills)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pk8opt.cli.base import app

if TYPE_CHECKING:
    from pk8opt.calibrate import CalibrationReport

_Log = Annotated[
    Path,
    typer.Option(
        "--log",
        help="The real run's --log-dir (its live_console_events.jsonl), or a JSON Lines "
        'file of real_* events (docs/calibrate.md, "Other runners\' logs").',
        show_default=False,
    ),
]
_Recording = Annotated[
    list[Path],
    typer.Option(
        "--recording",
        help="What the run's `--record DIR` kept (DIR, or session folders); repeatable.",
        show_default=False,
    ),
]
_Out = Annotated[
    Path, typer.Option("--out", help="Folder for the report, the .env and engine: blocks, plots.")
]
_Trials = Annotated[int, typer.Option("--trials", min=1, help="Optuna trials of the search.")]
_Holdout = Annotated[
    float,
    typer.Option(
        "--holdout", help="Share of the windows (the latest) held out of the fit and scored."
    ),
]
_Bootstrap = Annotated[
    int, typer.Option("--bootstrap", min=0, help="Bootstrap draws over the fit windows.")
]
_BootstrapTrials = Annotated[
    int,
    typer.Option(
        "--bootstrap-trials",
        min=0,
        help="0: each draw re-scores the points already tried (cheap); N: each draw "
        "refits with N trials of its own.",
    ),
]
_Refine = Annotated[
    int,
    typer.Option(
        "--refine",
        min=0,
        help="Evaluations of the local search (a pattern search) after the Optuna trials.",
    ),
]
_Points = Annotated[
    int,
    typer.Option(
        "--profile-points", min=2, help="Values of each parameter's profile (identified?)."
    ),
]
_Flat = Annotated[
    float,
    typer.Option(
        "--flat",
        min=0.0,
        help="A parameter whose profile moves the score less than this is not identified "
        "(kept at its default).",
    ),
]
_Fit = Annotated[
    str | None,
    typer.Option(
        "--fit",
        help="Comma-separated parameters to fit (default all): post_latency_ms, "
        "cancel_latency_ms, response_latency_ms, trade_through_volume, queue_ahead_frac, "
        "queue_add_ahead_frac, "
        "maker_flow, flow_base.",
    ),
]
_Range = Annotated[
    list[str] | None,
    typer.Option("--range", help="NAME=LOW:HIGH: a fitted parameter's search range. Repeatable."),
]
_Set = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="NAME=VALUE: an engine parameter held fixed (not fitted), e.g. "
        "feed_clock=local; over the run's logged settings. Repeatable.",
    ),
]
_TimeCap = Annotated[
    float, typer.Option("--time-cap", help="Seconds at which a time-to-fill error stops growing.")
]
_TimeWeight = Annotated[
    float, typer.Option("--time-weight", help="Weight of the time term in the score, 0..1.")
]
_Seed = Annotated[int, typer.Option("--seed", help="Seed of the sampler and the bootstrap.")]
_Storage = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Optuna storage (a journal file or a database URL) to keep the trials; "
        "default: in memory.",
    ),
]
_StudyName = Annotated[
    str | None,
    typer.Option("--study-name", help="The study's name in --storage (resumed when it exists)."),
]
_TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else the sweep's "
        "sqlite store under experiments/).",
    ),
]
_Json = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print the report as one JSON document on stdout (each fitted PM_PAPER_* "
        "with its value and interval); progress goes to stderr.",
    ),
]


@app.command()
def calibrate(
    log: _Log,
    recording: _Recording,
    out: _Out = Path("calibration"),
    trials: _Trials = 150,
    holdout: _Holdout = 0.3,
    bootstrap: _Bootstrap = 20,
    bootstrap_trials: _BootstrapTrials = 0,
    refine: _Refine = 60,
    profile_points: _Points = 7,
    flat: _Flat = 1e-3,
    fit: _Fit = None,
    range_: _Range = None,
    set_: _Set = None,
    time_cap: _TimeCap = 2.0,
    time_weight: _TimeWeight = 1.0,
    seed: _Seed = 0,
    storage: _Storage = None,
    study_name: _StudyName = None,
    tracking_uri: _TrackingUri = None,
    as_json: _Json = False,
) -> None:
    """Fit the paper engine's fill parameters (post, cancel and response latencies,
    queue add-ahead, maker flow) to a real run's fills.

    The run's orders are replayed on the frames it traded on, posted and cancelled when
    the run did, under the parameters Optuna searches; the score is how well the engine
    predicts, order by order, whether each filled and when. The latest windows are held
    out of the fit and scored against the engine's defaults. Writes to --out: the
    report (calibration.json), a PM_PAPER_* block for a .env (calibration.env), an
    `engine:` block for a sweep config (engine.yaml), orders.csv and three plots; and an
    MLflow run in the experiment `pk8opt-calibrate`. See docs/calibrate.md.

    Examples:

        pk8opt live --real --env-file real.env --record rec/ --log-dir logs/
        pk8opt calibrate --log logs/ --recording rec/
        pk8opt calibrate --log fills.jsonl --recording rec/ --trials 200 --json > cal.json
        pk8opt calibrate --log logs/ --recording rec/ --fit post_latency_ms,queue_add_ahead_frac
    """
    from pk8opt.calibrate import Options, ScoreRule
    from pk8opt.calibrate import calibrate as run_calibration
    from pk8opt.calibrate.space import parse_ranges
    from pk8opt.params import parse_assignments
    from pk8opt.sweep.config import default_tracking_uri, env_tracking_uri
    from pk8opt.tracking.uri import check_tracking_uri

    opts = Options(
        log=log,
        recordings=recording,
        tracking_uri=check_tracking_uri(
            tracking_uri or env_tracking_uri() or default_tracking_uri()
        ),
        out=out,
        trials=trials,
        holdout=holdout,
        bootstrap=bootstrap,
        bootstrap_trials=bootstrap_trials,
        refine=refine,
        profile_points=profile_points,
        flat=flat,
        fit=[n for n in fit.split(",") if n.strip()] if fit else None,
        ranges=parse_ranges(range_ or []),
        fixed=parse_assignments(set_ or []),
        rule=ScoreRule(time_cap, time_weight),
        seed=seed,
        storage=storage,
        study_name=study_name,
    )

    _show(run_calibration(opts, _say), out, as_json)


def _say(line: str) -> None:
    typer.echo(line, err=True)


def _show(report: CalibrationReport, out: Path, as_json: bool) -> None:
    """The report on stdout: one JSON document, or the summary."""
    if as_json:
        from pk8opt.cli.json_out import echo_json

        echo_json(report.to_dict())
        return
    from pk8opt.calibrate import summary_lines

    for line in summary_lines(report):
        typer.echo(line)
    typer.echo(f"\nwritten to {out}/: {', '.join(report.outputs)}")
