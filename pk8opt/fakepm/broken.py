"""Endpoints that fail the way a real network does, on loopback, for tests.

    closed_port()        a port nobody listens on: every connect is refused
    Silent()             accepts TCP connections and never sends a byte
    StatusServer(503)    answers every HTTP request (a socket upgrade too) with a status
    Slammer()            a websocket server that accepts, then closes at once

Each server is an async context manager with `url(scheme, path)` and counts the
connections it saw in `accepted` (an `asyncio.Event`, `seen`, is set at the first).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from types import TracebackType
from typing import Any


def closed_port() -> int:
    """A loopback port that refuses connections (bound, then closed, never listened on)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    def __init__(self) -> None:
        self.port = 0
        self.accepted = 0
        self.seen = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    def url(self, scheme: str = "http", path: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.seen.set()
        self._writers.append(writer)
        await self.serve(reader, writer)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> _Server:
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)


class Silent(_Server):
    """Accepts and stays silent (reads and ignores what it is sent)."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while await reader.read(65536):
                pass


class StatusServer(_Server):
    """Answers each request with `status` and a short HTML body, then closes."""

    def __init__(self, status: int = 503, reason: str = "Service Unavailable") -> None:
        super().__init__()
        self.status = status
        self.reason = reason

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            body = f"<html>{self.status} {self.reason}</html>".encode()
            head = (
                f"HTTP/1.1 {self.status} {self.reason}\r\nContent-Type: text/html\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head + body)
            await writer.drain()
        writer.close()


class Slammer:
    """A websocket server that accepts each connection, reads its first message, and closes it."""

    def __init__(self) -> None:
        self.port = 0
        self.accepted = 0
        self.seen = asyncio.Event()
        self._server: Any = None

    def url(self, scheme: str = "ws", path: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def _handle(self, ws: Any) -> None:
        self.accepted += 1
        self.seen.set()
        with contextlib.suppress(Exception):
            await ws.recv()  # the client's subscription: it is connected, then
        await ws.close()

    async def __aenter__(self) -> Slammer:
        from websockets.asyncio.server import serve

        self._server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)
