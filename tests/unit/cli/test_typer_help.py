"""The one place pk8opt replaces typer's internals (pk8opt/cli/typer_help.py): the
methods it replaces were typer's own, and the plain metavars read as documented."""

from __future__ import annotations

import pk8opt.cli  # noqa: F401 - installs the replacements
from pk8opt.cli import typer_help


def test_the_methods_replaced_were_typers_own() -> None:
    assert set(typer_help.ORIGINALS) == {
        "TyperOption.display_type_rich",
        "TyperArgument.display_type_rich",
        "TyperArgument._usage_display_name",
    }
    for name, fn in typer_help.ORIGINALS.items():
        assert fn.__module__.split(".")[0] in ("typer", "click"), name
        assert fn.__qualname__.endswith(name.split(".")[1]), name


def test_plain_metavars() -> None:
    plain = typer_help._plain_metavar
    assert plain("<list[Path]>") == "PATH"
    assert plain("<int range>") == "INTEGER"
    assert plain("<a|b>") == "[a|b]"
    assert plain("<float>") == "FLOAT" and plain("<str>") == "TEXT"
    assert plain("STUDY") == "STUDY" and plain(None) is None
