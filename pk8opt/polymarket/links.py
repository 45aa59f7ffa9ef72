"""The state of each venue endpoint as its clients see it, and failures put in words.

Gamma and both sockets each keep a `Link`: connected, or retrying since when, after
which error, and when the next try is. Every failed attempt becomes a `Failure` that
the client hands to its `on_failure` callback at once (the recorder logs it and shows
it on its status display), so an unreachable venue is visible on the first try, not
after the retries run out.
"""

from __future__ import annotations

import errno
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    """One failed attempt to reach an endpoint."""

    endpoint: str  # "gamma" | "market" | "live"
    url: str
    cause: str  # in words: "Name or service not known", "HTTP 503 Service Unavailable"
    attempt: int  # consecutive failures, this one included
    failing_for_s: float  # since the first of them
    next_try_in_s: float | None  # None: no next try (given up, or stopping)

    def fields(self) -> dict[str, object]:
        out: dict[str, object] = {
            "endpoint": self.endpoint,
            "url": self.url,
            "error": self.cause,
            "attempt": self.attempt,
            "failing_for_s": round(self.failing_for_s, 1),
        }
        if self.next_try_in_s is not None:
            out["next_try_in_s"] = round(self.next_try_in_s, 2)
            out["next_try_at"] = time.strftime(
                "%H:%M:%S", time.localtime(time.time() + self.next_try_in_s)
            )
        return out


OnFailure = Callable[[Failure], None]


@dataclass
class Link:
    """What is known of one endpoint (wall times, `time.time()`)."""

    endpoint: str
    url: str
    connected: bool = False
    ever_ok: bool = False
    ok_at: float | None = None  # last success
    failing_since: float | None = None  # first failure since the last success
    last_error: str | None = None
    next_try_at: float | None = None
    failures: int = 0  # consecutive

    def ok(self) -> None:
        self.connected = True
        self.ever_ok = True
        self.ok_at = time.time()
        self.failing_since = None
        self.next_try_at = None
        self.failures = 0

    def lost(self, reason: str, retry_in_s: float | None) -> None:
        """An open connection ended; the client reconnects in `retry_in_s`."""
        self.connected = False
        self.last_error = reason
        self.next_try_at = None if retry_in_s is None else time.time() + retry_in_s

    def failed(self, cause: str, retry_in_s: float | None) -> Failure:
        now = time.time()
        self.connected = False
        if self.failing_since is None:
            self.failing_since = now
        self.failures += 1
        self.last_error = cause
        self.next_try_at = None if retry_in_s is None else now + retry_in_s
        return Failure(
            self.endpoint, self.url, cause, self.failures, now - self.failing_since, retry_in_s
        )


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 10:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def describe(exc: BaseException, timeout_s: float | None = None) -> str:
    """An exception of httpx, websockets or the OS as the words a user needs."""
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, socket.gaierror):
            return e.strerror or str(e)
    for e in chain:
        if isinstance(e, ssl.SSLError):
            return f"TLS: {e.reason or e}"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, ConnectionResetError):
            return "connection reset by the server"
        if isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return e.strerror or "no route to host"
    name = type(exc).__name__
    text = str(exc)
    for e in chain:
        status = _http_status(e)
        if status is not None:
            return status
    for e in chain:
        if isinstance(e, TimeoutError) or "Timeout" in type(e).__name__:
            return f"no answer within {timeout_s:g} s" if timeout_s else "no answer (timed out)"
    # httpx's ConnectError carries the OS message as text ("[Errno -2] Name or ...")
    if "] " in text and text.startswith("[Errno"):
        return text.split("] ", 1)[1]
    return f"{name}: {text}" if text else name


def _http_status(e: BaseException) -> str | None:
    response = getattr(e, "response", None)
    code = getattr(response, "status_code", None)
    if code is None:
        return None
    from http import HTTPStatus

    try:
        phrase = HTTPStatus(int(code)).phrase
    except ValueError:
        phrase = ""
    return f"HTTP {code} {phrase}".strip()
