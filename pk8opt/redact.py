"""Secrets never printed: passwords in URLs, values of `.env` lines pk8opt does not own.

`mask_url("postgresql://bob:hunter2@db:5432/optuna")` gives
`postgresql://bob:***@db:5432/optuna`; `mask_urls(text)` does it to every URL in a
message. Storage and tracking URLs go through these before they become an MLflow tag,
an artifact, or a line on the terminal (the CLI's error boundary masks every error).

Secrets that are not in a URL (a private key, API credentials) are registered once with
`register_secret(value)` by the code that reads them; from then on `mask_secrets(text)`,
and `mask_urls` with it, replace every occurrence of a registered value by ***.
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://user:password@host (in a well-formed URL an '@' in the password is %40)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s@]*)@")


# values registered by the code that read them (credentials), longest first so that a
# secret containing another is masked whole
_SECRETS: list[str] = []
_MIN_SECRET_CHARS = 6  # shorter values would mask ordinary words


def register_secret(value: str) -> None:
    """Mask `value` wherever `mask_secrets` or `mask_urls` meets it from now on."""
    if len(value) >= _MIN_SECRET_CHARS and value not in _SECRETS:
        _SECRETS.append(value)
        _SECRETS.sort(key=len, reverse=True)


def mask_secrets(text: str) -> str:
    """`text` with every registered secret value replaced by ***."""
    for value in _SECRETS:
        if value in text:
            text = text.replace(value, MASK)
    return text


def mask_urls(text: str) -> str:
    """`text` with the password of every `scheme://user:password@...` replaced by ***
    (and every registered secret, see `register_secret`)."""
    text = mask_secrets(text)
    if "://" not in text or "@" not in text:
        return text
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@", text)


def mask_url(url: str) -> str:
    """One URL with its password masked (anything else as it was)."""
    return mask_urls(url)


def is_masked(url: str) -> bool:
    """Whether `url` is one `mask_url` took a password out of (it cannot connect)."""
    m = _URL_PASSWORD.search(url)
    return m is not None and m.group("pw") == MASK
