"""Reading `.env` files in the `PM_*` form the live runner reads."""

from __future__ import annotations

from pathlib import Path

from pk8opt.errors import ConfigError


def read_env_file(path: Path | str) -> dict[str, str]:
    """`KEY=value` lines (python-dotenv syntax) as a dict; a missing file is an error."""
    from dotenv import dotenv_values

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such .env file (write one with `pk8opt deploy` or by hand)")
    values = dotenv_values(path)
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise ConfigError(f"{path}: {missing[0]} has no value (expected {missing[0]}=...)")
    return {k: str(v) for k, v in values.items()}
