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

    from rich.table import Table

    from pk8opt.cli import tables
    from pk8opt.strategies import STRATEGIES
    from pk8opt.trading.run_config import RunConfig

    console = tables.console()
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
            table.add_column(col, no_wrap=col != "about")
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
    cells = {g: [_cells(r) for r in _params_rows(ps)] for g, ps in groups.items()}
    every = [row for group in cells.values() for row in group]
    fits = sum(tables.natural_widths(_HEAD[:-1], every)) + tables.GAP * 5 + _MEANING_MIN
    for group, group_cells in cells.items():
        console.print(
            _params_table(group, group_cells)
            if fits <= console.width
            else _params_blocks(group, group_cells)
        )


_HEAD = ("name", "PM_* variable", "type", "default", "range", "meaning")
_MEANING_MIN = 24  # narrower than this, the meaning goes under its parameter


def _cells(r: dict[str, Any]) -> tuple[str, ...]:
    meaning = str(r["help"]) + (f" [{r['unit']}]" if r["unit"] else "")
    return tuple(
        str(c) for c in (r["name"], r["env"], r["type"], r["default"], r["range"], meaning)
    )


def _params_table(group: str, rows: list[tuple[str, ...]]) -> Any:
    """One row a parameter: names, type, default and range whole; the meaning wraps."""
    from rich.table import Table

    table = Table(title=group, title_justify="left", box=None, header_style="bold underline")
    for col in _HEAD:
        table.add_column(
            col, no_wrap=col != "meaning", min_width=_MEANING_MIN if col == "meaning" else None
        )
    for row in rows:
        table.add_row(*row)
    return table


def _params_blocks(group: str, rows: list[tuple[str, ...]]) -> Any:
    """For a narrow terminal: a line a parameter (its name and `PM_*` variable), its
    type, default, range and meaning indented under it (wrapped between words)."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    blocks: list[Any] = [Text(group, style="bold underline")]
    for name, env, type_, default, range_, meaning in rows:
        line = Text(name, style="bold")
        line.append(f"  {env}")
        about = f"{type_}, default {default}" + (f", range {range_}" if range_ else "")
        blocks += [line, Padding(Text(f"{about}: {meaning}"), (0, 0, 0, 4))]
    return Group(*blocks)
