"""Plain metavars in every `--help`: `INTEGER`, `PATH`, `[a|b]` instead of typer's
`<int>`, `<list[Path]>`, `{study}`.

Typer offers no public setting for how it renders a parameter's type in the rich help, so
this module replaces three of its methods: `TyperOption.display_type_rich`,
`TyperArgument.display_type_rich` and `TyperArgument._usage_display_name` (a private
one). It is the only place pk8opt reaches into typer's internals;
tests/unit/cli/test_typer_help.py fails first when a typer release renames them, and
tests/integration/test_help.py checks the help of every command.
"""

from __future__ import annotations

from typing import Any

import typer.core

# The help's metavars in the plain words of a command line: `INTEGER`, `PATH`,
# `[a|b]`; an on/off flag shows none, and an argument reads `STUDY` (`[STUDY]` when
# optional) in the usage line.
_PLAIN = {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "bool": "BOOLEAN"}


def _plain_metavar(label: str | None) -> str | None:
    """`<list[Path]>` -> `PATH`, `<int range>` -> `INTEGER`, `<a|b>` -> `[a|b]`."""
    if not label or not (label.startswith("<") and label.endswith(">")):
        return label
    inner = label[1:-1]
    if inner.startswith("list[") and inner.endswith("]"):
        inner = inner[5:-1]
    inner = inner.removesuffix(" range")
    if "|" in inner:
        return f"[{inner}]"
    return _PLAIN.get(inner, inner.upper())


def _option_metavar(self: Any, ctx: Any) -> str | None:
    if self.metavar is not None:
        return str(self.metavar)
    if self.is_flag or self.count:
        return None
    return _plain_metavar(self.display_type(ctx))


def _argument_metavar(self: Any, ctx: Any) -> str | None:
    if self.metavar is not None:
        return str(self.metavar)
    return _plain_metavar(self.display_type(ctx))


def _argument_usage(self: Any) -> str:
    name = str(self.metavar or (self.name or "").upper())
    name = name if self.required else f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


PATCHED = (
    (typer.core.TyperOption, "display_type_rich"),
    (typer.core.TyperArgument, "display_type_rich"),
    (typer.core.TyperArgument, "_usage_display_name"),
)


# typer's own methods, as found before they were replaced
ORIGINALS: dict[str, Any] = {}


def plain_help_metavars() -> None:
    """Install the plain metavars (idempotent); raises when typer lacks a method it
    replaces, so a typer upgrade that moves them fails loudly, not silently."""
    for cls, name in PATCHED:
        found = getattr(cls, name, None)
        if not callable(found):
            raise RuntimeError(f"typer changed: {cls.__name__}.{name} is gone")
        ORIGINALS.setdefault(f"{cls.__name__}.{name}", found)
    typer.core.TyperOption.display_type_rich = _option_metavar  # type: ignore[method-assign]
    typer.core.TyperArgument.display_type_rich = _argument_metavar  # type: ignore[method-assign]
    typer.core.TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
