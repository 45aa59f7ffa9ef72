"""CLI: `pk8opt sweeps` lists past sweeps; `pk8opt sweeps show STUDY` shows one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pk8opt.cli import tables
from pk8opt.cli.base import app
from pk8opt.cli.json_out import echo_json

if TYPE_CHECKING:
    from pk8opt.pipeline.listing import SweepDetail

sweeps_app = typer.Typer(
    help="Past sweeps: list the studies of a storage, or show one in detail.",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode="markdown",
)
app.add_typer(sweeps_app, name="sweeps")

Storage = Annotated[
    str | None,
    typer.Option(
        help="Optuna storage (default: $OPTUNA_STORAGE, else experiments/optuna.journal)."
    ),
]
TrackingUri = Annotated[
    str | None,
    typer.Option(
        help="MLflow store holding the verdicts (default: $MLFLOW_TRACKING_URI, else "
        "sqlite:///experiments/mlflow.db)."
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _stores(storage: str | None, tracking_uri: str | None) -> tuple[str, str]:
    import os

    from pk8opt.sweep.config import DEFAULT_STORAGE_PATH, default_tracking_uri

    return (
        storage or os.environ.get("OPTUNA_STORAGE") or str(DEFAULT_STORAGE_PATH),
        tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(),
    )


def _warn_unreadable(tracking_uri: str) -> None:
    """One line on stderr when the MLflow store cannot be read (corrupt, unreachable):
    the listing goes on from the Optuna storage alone, at once."""
    from pk8opt.redact import mask_url
    from pk8opt.tracking.uri import store_problem

    problem = store_problem(tracking_uri)
    if problem:
        typer.secho(
            f"warning: MLflow store {mask_url(tracking_uri)}: {problem}; listed from the "
            "Optuna storage alone (the verdicts its studies hold)",
            err=True,
            fg=typer.colors.YELLOW,
        )


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


@sweeps_app.callback()
def sweeps(
    ctx: typer.Context,
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
    as_json: Json = False,
) -> None:
    """List the sweeps (studies) of a storage: best value, trials, state, verdict.

    The verdict is the validation stage's: `pass`, or `fail:` and the failing checks;
    `-` when the sweep ran no validation. Newest first.

    Examples:

        pk8opt sweeps
        pk8opt sweeps --storage postgresql://u:pw@db/pk8 --json
        pk8opt sweeps show balanced_arb-sample
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from pk8opt.pipeline.listing import list_sweeps

    stores = _stores(storage, tracking_uri)
    _warn_unreadable(stores[1])
    rows = list_sweeps(*stores)
    if as_json:
        echo_json([r.to_json() for r in rows])
        return
    if not rows:
        typer.echo("no sweeps in this storage yet; run `pk8opt sweep CONFIG`")
        return
    head = ["Study", "Strategy", "Best", "Trial", "Complete", "Pruned", "Failed", "State"]
    head += ["Last trial"]
    cells = [
        (
            r.study,
            r.strategy,
            _num(r.best),
            "-" if r.best_trial is None else str(r.best_trial),
            str(r.complete),
            str(r.pruned),
            str(r.failed),
            r.state + (f" ({r.running})" if r.running else ""),
            r.last_trial or "-",
        )
        for r in rows
    ]
    console = tables.console()
    # Each sweep on one line, every name and figure whole: in a narrow terminal the least
    # important columns go first; the verdict gets the width the others leave and is cut
    # with an ellipsis (`pk8opt sweeps show STUDY` gives every check and its reason).
    kept = tables.kept_columns(head, cells, console.width, _DROPPED_FIRST, room=_VERDICT_MIN)
    used = sum(
        w + tables.GAP for i, w in enumerate(tables.natural_widths(head, cells)) if i in kept
    )
    table = Table(box=None, pad_edge=False)
    for i in kept:
        table.add_column(head[i], no_wrap=True, min_width=len(head[i]))
    table.add_column(
        "Verdict",
        no_wrap=True,
        overflow="ellipsis",
        max_width=max(_VERDICT_MIN, console.width - used),
    )
    for r, c in zip(rows, cells, strict=True):
        table.add_row(*(c[i] for i in kept), r.verdict_brief or r.verdict or "-")
    console.print(table)


# The columns of `pk8opt sweeps` a narrow terminal leaves out, first to last.
_DROPPED_FIRST = ("Last trial", "Strategy", "Trial", "Pruned", "Failed")
_VERDICT_MIN = 12


@sweeps_app.command()
def show(
    study: Annotated[str, typer.Argument(help="The study name (as `pk8opt sweeps` lists it).")],
    top: Annotated[int, typer.Option(help="How many of the best trials to show.", min=1)] = 10,
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
    as_json: Json = False,
) -> None:
    """One sweep: its top trials with their parameters, the verdict table, and the
    command that deploys it.

    Example: `pk8opt sweeps show balanced_arb-sample --top 5`
    """
    from pk8opt.pipeline.listing import show_sweep
    from pk8opt.pipeline.summary import sweep_document

    stores = _stores(storage, tracking_uri)
    _warn_unreadable(stores[1])
    detail = show_sweep(*stores, study, top=top)
    if as_json:  # the shape of `pk8opt sweep --json`
        echo_json(sweep_document(detail, *stores))
        return
    r = detail.row
    console = tables.console()
    console.print(
        f"study {r.study}: strategy {r.strategy}, {r.complete} complete, {r.pruned} pruned, "
        f"{r.failed} failed, "
        + (f"{r.interrupted} interrupted, " if r.interrupted else "")
        + f"{r.state}; objective {r.direction}d, best {_num(r.best)}"
        + (f" (trial {r.best_trial})" if r.best_trial is not None else "")
    )
    if detail.top:
        console.print(_top_table(detail, console.width))
    _print_validation(console, detail)
    _print_deploy(console, detail)


def _top_table(detail: SweepDetail, width: int) -> Any:
    """The best trials: number, objective, parameters, main metrics; a table when it fits
    in `width` with every name and value whole, else one block per trial (its
    parameters and metrics as `name=value` words, wrapped between words)."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    names = sorted({k for t in detail.top for k in t.params})
    metrics = sorted({k for t in detail.top for k in t.metrics})
    title = "Top trials (in-sample)"
    rows = [
        (
            str(t.number),
            _num(t.value),
            *(_value(t.params.get(n, "-")) for n in names),
            *(_num(t.metrics.get(m)) for m in metrics),
        )
        for t in detail.top
    ]
    head = ("Trial", "Objective", *names, *metrics)
    widths = tables.natural_widths(head, rows)
    if sum(widths) + tables.GAP * (len(head) - 1) <= width:
        table = Table(box=None, pad_edge=False, title=title, title_justify="left")
        for col, w in zip(head, widths, strict=True):
            table.add_column(col, no_wrap=True, min_width=w)
        for row in rows:
            table.add_row(*row)
        return table
    blocks: list[Any] = [Text(f"{title}, best first")]
    for row in rows:
        blocks.append(Text(f"trial {row[0]}  objective {row[1]}"))
        for part, keys in ((row[2 : 2 + len(names)], names), (row[2 + len(names) :], metrics)):
            words = "  ".join(f"{k}={v}" for k, v in zip(keys, part, strict=True))
            if words:
                blocks.append(Padding(Text(words, overflow="fold"), (0, 0, 0, 2)))
    return Group(*blocks)


def _value(x: Any) -> str:
    return _num(x) if isinstance(x, float) else str(x)


def _print_validation(console: Any, detail: SweepDetail) -> None:
    """The verdict table, as the sweep printed it at its end (or the figures alone)."""
    from rich.table import Table

    r = detail.row
    if detail.checks:
        from pk8opt.validation.gate import GateCheck
        from pk8opt.validation.report import check_table

        title = f"Validation of trial {detail.chosen_trial}"
        console.print(check_table([GateCheck(**c) for c in detail.checks], title))
        console.print(f"verdict: {r.verdict or '-'}")
    elif detail.figures or r.verdict:
        table = Table(box=None, pad_edge=False, title="Validation", title_justify="left")
        table.add_column("Figure")
        table.add_column("Value", justify="right")
        for name, value in detail.figures.items():
            table.add_row(name, _num(value))
        table.add_row("verdict", r.verdict or "-")
        console.print(table)
    else:
        console.print("Validation: none recorded for this sweep")


def _print_deploy(console: Any, detail: SweepDetail) -> None:
    """The command that deploys the sweep, and whether it would refuse."""
    r = detail.row
    if r.verdict == "pass":
        console.print(f"deploy: {detail.deploy_command}")
    elif r.verdict:  # said before the trader runs it, as the sweep's own ending does
        console.print(
            f"deploy: {detail.deploy_command} refuses (exit 3) while validation fails; "
            '--force "reason" deploys anyway and records why'
        )
    else:
        console.print(
            f"deploy: nothing validated yet (run the sweep's command again to validate); "
            f"then {detail.deploy_command}"
        )
