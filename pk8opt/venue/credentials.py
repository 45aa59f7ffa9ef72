"""The wallet key and CLOB API credentials real orders are signed and sent with.

Where they come from, in this order of precedence:

- `PM_CREDENTIALS_FILE=/path/to/file`: `KEY=VALUE` lines holding the variables below. The
  file must be readable by its owner alone (`chmod 600 FILE`); one that a group or others
  can read is refused, because a key that has leaked cannot be taken back.
- otherwise the environment mapping given (the process environment, or a `.env` read by
  the caller).

Never from the command line: arguments show in `ps` and in shell history.

| variable | meaning |
|---|---|
| `PM_PRIVATE_KEY` | the wallet's private key (hex), the one that signs orders |
| `PM_FUNDER` | the proxy wallet holding the funds (email or browser login); absent: the key's own address |
| `PM_SIGNATURE_TYPE` | 0 key's own wallet (EOA, default), 1 email/magic proxy, 2 browser proxy |
| `PM_API_KEY`, `PM_API_SECRET`, `PM_API_PASSPHRASE` | the CLOB API credentials; all three or none (none: derived from the key at start) |

Every value is held in a `Secret`, whose `repr` and `str` are `***`, and is registered
with `pk8opt.redact` so that any message or log line that would carry it shows `***`.
Error messages name variables and files, never values.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pk8opt.errors import ConfigError
from pk8opt.redact import MASK, register_secret

CREDENTIALS_FILE_VAR = "PM_CREDENTIALS_FILE"
API_VARS = ("PM_API_KEY", "PM_API_SECRET", "PM_API_PASSPHRASE")
CREDENTIAL_VARS = (
    "PM_PRIVATE_KEY",
    "PM_FUNDER",
    "PM_SIGNATURE_TYPE",
    *API_VARS,
    CREDENTIALS_FILE_VAR,
)
SIGNATURE_TYPES = {0: "EOA (the key's own wallet)", 1: "email/magic proxy", 2: "browser proxy"}


class Secret:
    """A value that never prints: `repr`, `str` and f-strings give `***`.

    `reveal()` is the one way to the value, for the client that signs with it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)
        if value.startswith("0x"):
            register_secret(value[2:])  # the same key is often written without 0x

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled (it would leave the process in clear)")


@dataclass(frozen=True)
class ApiKeys:
    """The CLOB's level-2 credentials (HMAC key, secret and passphrase)."""

    key: Secret
    secret: Secret
    passphrase: Secret


@dataclass(frozen=True)
class Credentials:
    """What signs and authenticates real orders. `api` is None until derived."""

    private_key: Secret
    signature_type: int = 0
    funder: str | None = None  # an address: public, not a secret
    api: ApiKeys | None = None
    source: str = "environment"  # where they were read: "environment" or the file's path

    def with_api(self, api: ApiKeys) -> Credentials:
        return Credentials(self.private_key, self.signature_type, self.funder, api, self.source)


def load_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """Read the credentials from `PM_CREDENTIALS_FILE` if set, else from `env`
    (default: the process environment). Raises `ConfigError` naming what is missing
    or wrong, never a value."""
    env = os.environ if env is None else env
    path = env.get(CREDENTIALS_FILE_VAR, "").strip()
    if path:
        return _parse(read_credentials_file(Path(path)), str(path))
    return _parse(env, "environment")


def read_credentials_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines of a file only its owner can read (blank lines and `#`
    comments skipped, `export ` and matching quotes allowed)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{CREDENTIALS_FILE_VAR}={path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{CREDENTIALS_FILE_VAR}={path}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{CREDENTIALS_FILE_VAR}={path}: not a regular file")
    if st.st_mode & 0o077:
        raise ConfigError(
            f"{path}: credentials readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod 600 {path}` and start again"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{CREDENTIALS_FILE_VAR}={path}: cannot read: {why}") from None
    values: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, eq, value = line.partition("=")
        name = name.strip()
        if not eq or not name.replace("_", "").isalnum():
            raise ConfigError(f"{path}:{n}: not a KEY=VALUE line (the value is not shown)")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def _parse(values: Mapping[str, str], source: str) -> Credentials:
    where = "" if source == "environment" else f" in {source}"
    key = values.get("PM_PRIVATE_KEY", "").strip()
    if not key:
        raise ConfigError(
            f"PM_PRIVATE_KEY is not set{where}: real orders need the wallet's private key "
            f"(put it in a file only you can read and name it with {CREDENTIALS_FILE_VAR})"
        )
    private_key = Secret(key)
    body = key[2:] if key.startswith("0x") else key
    if len(body) != 64 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ConfigError(
            f"PM_PRIVATE_KEY{where} is not a private key (64 hex digits, 0x optional); "
            "the value is not shown"
        )
    raw_type = values.get("PM_SIGNATURE_TYPE", "").strip() or "0"
    try:
        signature_type = int(raw_type)
    except ValueError:
        signature_type = -1
    if signature_type not in SIGNATURE_TYPES:
        choices = ", ".join(f"{k} {v}" for k, v in SIGNATURE_TYPES.items())
        raise ConfigError(f"PM_SIGNATURE_TYPE={raw_type}{where}: must be one of {choices}")
    funder = values.get("PM_FUNDER", "").strip() or None
    if signature_type in (1, 2) and funder is None:
        raise ConfigError(
            f"PM_SIGNATURE_TYPE={signature_type}{where} trades from a proxy wallet: set "
            "PM_FUNDER to its address (the address you deposit USDC to)"
        )
    present = [v for v in API_VARS if values.get(v, "").strip()]
    api = None
    if present and len(present) != len(API_VARS):
        missing = ", ".join(v for v in API_VARS if v not in present)
        raise ConfigError(
            f"{missing} not set{where} while {', '.join(present)} is: give all three API "
            "values, or none to derive them from PM_PRIVATE_KEY"
        )
    if present:
        api = ApiKeys(*(Secret(values[v].strip()) for v in API_VARS))
    return Credentials(private_key, signature_type, funder, api, source)
