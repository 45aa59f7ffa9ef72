"""Secrets never printed: passwords in URLs, values of `.env` lines pk8opt does not own.

`mask_url("postgresql://bob:hunter2@db:5432/optuna")` gives
`postgresql://bob:***@db:5432/optuna`; `mask_urls(text)` does it to every URL in a
message. Storage and tracking URLs go through these before they become an MLflow tag,
an artifact, or a line on the terminal (the CLI's error boundary masks every error).
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://user:password@host (in a well-formed URL an '@' in the password is %40)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s@]*)@")


def mask_urls(text: str) -> str:
    """`text` with the password of every `scheme://user:password@...` replaced by ***."""
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
