"""CLI: strategies — what each strategy (and the engine and trade loop) lets you set."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pk8opt.cli.base import app


def _range(p: Any) -> str:
    if p.choices is not None:
        return " | ".join(map(str, p.choices))
    if p.type is bool:
        return "0 | 1"
    if p.low is None and p.high is None:
        return ""
    fmt = (lambda v: str(int(v))) if p.type is int else (lambda v: f"{v:g}")
    low = "" if p.low is None else fmt(p.low)
    high = "" if p.high is None else fmt(p.high)
    return f"{low} .. {high}" + (" (log)" if p.log else "")


def _params_rows(params: Any) -> list[dict[str, Any]]:  # JSON-ready rows
    return [
        {
            "name": p.name,
            "env": p.env,
            "type": p.type.__name__,
            "default": p.default,
            "range": _range(p),
            "unit": p.unit,
            "help": p.help,
        }
        for p in params
    ]


@app.command()
def strategies(
    name: Annotated[
        str | None,
        typer.Argument(help="A strategy name or dotted path; omit to list every strategy."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the strategies, or the parameters one of them declares.

    Each parameter is declared once: its name (for `--set name=value` and a sweep
    config's `space:`/`fixed:`), its `PM_*` variable (for a `.env`), type, default and
    valid range. The paper engine's and the trade loop's settings are listed too: they
    can be set, and searched, the same way.

    Example: `pk8opt strategies balanced_arb`
    """
    import json

    from rich.console import Console
    from rich.table import Table

    from pk8opt.strategies import STRATEGIES
    from pk8opt.trading.run_config import RunConfig

    console = Console(emoji=False, highlight=False)
    if name is None:
        rows: list[dict[str, Any]] = [
            {
                "name": n,
                "params": len(cls.params.params),
                "about": (cls.__doc__ or "").strip().split("\n")[0],
            }
            for n, cls in STRATEGIES.items()
        ]
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        table = Table(box=None, header_style="bold underline")
        for col in ("name", "params", "about"):
            table.add_column(col)
        for r in rows:
            table.add_row(str(r["name"]), str(r["params"]), str(r["about"]))
        console.print(table)
        console.print("details: pk8opt strategies NAME")
        return
    sp, ep, tp = RunConfig.param_sets(name)
    groups = {"strategy": sp, "paper engine": ep, "trade loop": tp}
    if as_json:
        typer.echo(
            json.dumps({g: _params_rows(ps) for g, ps in groups.items()}, indent=2, default=str)
        )
        return
    console.print(f"PM_STRATEGY={name}")
    for group, ps in groups.items():
        table = Table(title=group, title_justify="left", box=None, header_style="bold underline")
        for col in ("name", "PM_* variable", "type", "default", "range", "meaning"):
            table.add_column(col, overflow="fold")
        for r in _params_rows(ps):
            meaning = str(r["help"]) + (f" [{r['unit']}]" if r["unit"] else "")
            cells = (r["name"], r["env"], r["type"], r["default"], r["range"], meaning)
            table.add_row(*(str(c) for c in cells))
        console.print(table)
