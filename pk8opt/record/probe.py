"""`pk8opt record --check`: try each venue endpoint once and say what answered.

Gamma gets one `GET /markets?slug=<the current window of the first symbol>`; the market
socket is opened and sent `PING` (a `PONG` is its answer); the live-data socket is
opened and subscribed for the symbol (its first frame is the answer). Nothing is
retried and nothing is written: it is a test of the network, a proxy or a firewall
before a recorder is left running.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from pk8opt.errors import ConnectionFailed
from pk8opt.polymarket.endpoints import Endpoints, VenueClock
from pk8opt.polymarket.gamma import GammaClient
from pk8opt.polymarket.links import describe
from pk8opt.polymarket.slugs import slug_for, window_start
from pk8opt.polymarket.sockets import live_subscriptions


@dataclass(frozen=True)
class ProbeResult:
    endpoint: str  # "gamma" | "market" | "live"
    url: str
    ok: bool
    answer: str  # what answered, or the cause in words
    ms: float  # until the answer or the failure


async def _gamma(url: str, slug: str, timeout_s: float) -> tuple[bool, str]:
    causes: list[str] = []
    client = GammaClient(
        url, timeout_s=timeout_s, retries=0, on_failure=lambda f: causes.append(f.cause)
    )
    try:
        reply = await client.market_by_slug(slug)
    except ConnectionFailed as exc:
        return False, causes[-1] if causes else str(exc)
    finally:
        await client.aclose()
    if reply.market is None:
        return True, f"answered (no market {slug} yet)"
    return True, f"answered: {slug}"


async def _socket(url: str, first: str | None, expect: str, timeout_s: float) -> tuple[bool, str]:
    from websockets.asyncio.client import connect

    try:
        async with asyncio.timeout(timeout_s):
            ws = await connect(url, open_timeout=timeout_s, ping_interval=None, max_size=None)
    except Exception as exc:  # every way a connect can fail, put in words
        return False, describe(exc, timeout_s)
    try:
        if first is not None:
            await ws.send(first)
        try:
            async with asyncio.timeout(timeout_s):
                await ws.recv()
        except TimeoutError:
            return True, f"connected; no {expect} within {timeout_s:g} s"
        except Exception as exc:
            return False, f"connected, then {describe(exc, timeout_s)}"
        return True, f"connected; {expect} received"
    finally:
        await ws.close()


async def probe_endpoints(
    endpoints: Endpoints,
    symbol: str,
    timeframe: str,
    clock: VenueClock,
    timeout_s: float = 10.0,
) -> list[ProbeResult]:
    """One attempt at each endpoint, all three at once."""
    slug = slug_for(symbol, timeframe, window_start(clock.now_s(), timeframe))

    async def timed(endpoint: str, url: str, job: asyncio.Future[tuple[bool, str]]) -> ProbeResult:
        t0 = time.monotonic()
        ok, answer = await job
        return ProbeResult(endpoint, url, ok, answer, (time.monotonic() - t0) * 1000)

    return list(
        await asyncio.gather(
            timed(
                "gamma",
                endpoints.gamma_url,
                asyncio.ensure_future(_gamma(endpoints.gamma_url, slug, timeout_s)),
            ),
            timed(
                "market",
                endpoints.clob_ws_url,
                asyncio.ensure_future(_socket(endpoints.clob_ws_url, "PING", "PONG", timeout_s)),
            ),
            timed(
                "live",
                endpoints.live_ws_url,
                asyncio.ensure_future(
                    _socket(
                        endpoints.live_ws_url,
                        live_subscriptions([symbol]),
                        "first frame",
                        timeout_s,
                    )
                ),
            ),
        )
    )


def probe_table(results: list[ProbeResult]) -> str:
    """The results as an aligned text table."""
    names = {"gamma": "Gamma", "market": "market socket", "live": "live-data socket"}
    rows = [("endpoint", "url", "result", "time")]
    for r in results:
        rows.append(
            (
                names[r.endpoint],
                r.url,
                ("ok: " if r.ok else "FAILED: ") + r.answer,
                f"{r.ms:.0f} ms",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip()
        for row in rows
    )
