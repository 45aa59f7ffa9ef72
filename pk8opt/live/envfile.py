"""Reading and writing `.env` files in the `PM_*` form the live runner reads.

Reading (`read_env_values`): `KEY=value` lines (python-dotenv syntax). A file that is
missing, a directory, or not text is one `ConfigError` line naming it. Which `PM_*` keys
pk8opt knows is `live.keys`' business (its `read_env_file` warns about the others).

Writing (`write_env_file`, what `deploy` calls): the file is replaced atomically *at its
target* (a symlinked `.env` stays a symlink), with its line endings (CRLF stays CRLF)
and its permissions; the previous content is kept as `<name>.bak-<time>` beside it. A
read-only file is refused with one line, never replaced behind the user's back.

Printing: `mask_unowned` hides the values of the lines deploy does not own (credentials,
other settings), so a diff shows which keys are there, never their values.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from pk8opt.errors import ConfigError
from pk8opt.redact import MASK

# KEY=value, optionally `export`ed or commented out (a commented-out credential is
# still a credential)
_ASSIGN = re.compile(
    r"^(?P<head>\s*(?:#\s*(?:\([^)]*\)\s*)?)?(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=)(?P<value>.*)$"
)


def read_env_values(path: Path | str) -> dict[str, str]:
    """`KEY=value` lines as a dict; a missing, unreadable or binary file is an error.
    Which `PM_*` keys are settings is not this module's business (`live.keys`)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"{path}: is a directory, not a .env file; pass the file, e.g. {path}/.env"
        )
    if not path.is_file():
        raise ConfigError(f"{path}: no such .env file (write one with `pk8opt deploy` or by hand)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if b"\x00" in raw:
        raise ConfigError(f"{path}: holds binary data (NUL bytes), not KEY=value lines")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); a .env holds KEY=value lines"
        ) from None
    check_syntax(text, path)
    values = dotenv_values(path, encoding="utf-8")
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise ConfigError(f"{path}: {missing[0]} has no value (expected {missing[0]}=...)")
    return {k: str(v) for k, v in values.items()}


def check_syntax(text: str, path: Path) -> None:
    """One `ConfigError` naming the file and line of the first statement python-dotenv
    cannot parse (an unterminated quote, a stray character): it would skip the line and
    the run would go on with a default. The line's value is never shown."""
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.line
            first = binding.original.string.splitlines()[0] if binding.original.string else ""
            m = _ASSIGN.match(first)
            what = f"{m.group('head').strip()}..." if m else "this line"
            raise ConfigError(
                f"{path}:{line}: cannot parse {what} (an unterminated quote?); a .env line is "
                "KEY=value, KEY='value' or KEY=\"value\""
            )


def mask_unowned(text: str, begin: str, end: str) -> list[str]:
    """The lines of `text` (ends kept) with the value of every assignment outside the
    block between the `begin` and `end` marker lines (the block deploy owns) replaced
    by ***: the key stays visible, the value never is."""
    out = []
    inside = False
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if bare.strip() == begin:
            inside = True
        elif bare.strip() == end:
            inside = False
        elif not inside:
            m = _ASSIGN.match(bare)
            if m and m.group("value").strip():
                line = f"{m.group('head')}{MASK}{line[len(bare) :]}"
        out.append(line)
    return out


def newline_of(text: str) -> str:
    """The line ending a file uses: CRLF when its first line ends so, else LF."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def read_env_text(path: Path) -> str:
    """The text of an existing `.env` as it is (line endings kept), '' when missing."""
    if path.is_dir():
        raise ConfigError(
            f"{path}: is a directory, not a .env file; pass the file, e.g. {path}/.env"
        )
    if not path.exists():
        return ""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); a .env holds KEY=value lines"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def write_env_file(path: Path, text: str) -> Path | None:
    """Replace the `.env` at `path` with `text` (LF line ends; the file's own ending is
    used), atomically and at its target when `path` is a symlink; returns the backup of
    the previous content (None when there was no file)."""
    target = Path(os.path.realpath(path))
    old = read_env_text(target)
    # marked read-only (no write bit: refused even for root, who could write it) or not
    # writable by this user
    if target.exists() and (target.stat().st_mode & 0o222 == 0 or not os.access(target, os.W_OK)):
        raise ConfigError(
            f"{path}: read-only; make it writable (chmod u+w {path}) or deploy to another "
            "--env-file"
        )
    if old and newline_of(old) == "\r\n":
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    backup = None
    try:
        if target.exists():
            stamp = time.strftime("%Y%m%d-%H%M%S")
            backup = target.with_name(f"{target.name}.bak-{stamp}")
            n = 1
            while backup.exists():
                backup = target.with_name(f"{target.name}.bak-{stamp}-{n}")
                n += 1
            shutil.copy2(target, backup)
        tmp = target.with_name(f".{target.name}.tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, (target.stat().st_mode & 0o777) if target.exists() else 0o600)
        os.replace(tmp, target)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror} ({exc.filename})") from None
    return backup
