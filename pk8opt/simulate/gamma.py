"""Gamma's market object for a simulated window, open or closed, shaped like the real one
(fixtures/polymarket/gamma/gamma_market_btc-updown-15m-1767200400_2025-12-31.json):
`clobTokenIds`, `outcomes` and `outcomePrices` are JSON-encoded strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pk8opt.simulate import wire
from pk8opt.simulate.market import MarketIds
from pk8opt.simulate.model import SimModel, SymbolModel


def _et_label(start: datetime, end: datetime) -> str:
    try:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("America/New_York")
        a, b = start.astimezone(tz), end.astimezone(tz)
    except Exception:  # no tz database: Eastern standard time
        a, b = start - timedelta(hours=5), end - timedelta(hours=5)

    def hm(d: datetime) -> str:
        return f"{d.hour % 12 or 12}:{d.minute:02d}{'AM' if d.hour < 12 else 'PM'}"

    return f"{a.strftime('%B')} {a.day}, {hm(a)}-{hm(b)} ET"


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gamma_market(
    sym: SymbolModel,
    model: SimModel,
    ids: MarketIds,
    slug: str,
    start: int,
    end: int,
    prices: tuple[str, str],
    closed: bool,
    bbo: tuple[int, int],
    last: int,
) -> dict[str, Any]:
    s_dt, e_dt = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    stream = f"https://data.chain.link/streams/{sym.symbol.lower()}-usd"
    obj: dict[str, Any] = {
        "id": ids.gamma_id,
        "question": f"{sym.name} Up or Down - {_et_label(s_dt, e_dt)}",
        "conditionId": ids.market,
        "slug": slug,
        "resolutionSource": stream,
        "endDate": _iso(end),
        "startDate": _iso(start - 86400 + 615)[:-1] + ".861305Z",
        "description": (
            f'This market will resolve to "Up" if the {sym.name} price at the end of the time '
            "range specified in the title is greater than or equal to the price at the beginning "
            'of that range. Otherwise, it will resolve to "Down".\nThe resolution source for '
            f"this market is information from Chainlink, specifically the {sym.symbol}/USD data "
            f"stream available at {stream}."
        ),
        "outcomes": '["Up", "Down"]',
        "outcomePrices": wire.dumps(list(prices)).replace('","', '", "'),
        "active": True,
        "closed": closed,
        "questionID": "0x" + ids.market[2:][::-1],
        "enableOrderBook": True,
        "orderPriceMinTickSize": 0.01,
        "orderMinSize": 5,
        "clobTokenIds": f'["{ids.up}", "{ids.down}"]',
        "acceptingOrders": not closed,
        "negRisk": False,
        "spread": round((bbo[1] - bbo[0]) / 1000, 3),
        "lastTradePrice": last / 1000,
        "bestBid": bbo[0] / 1000,
        "bestAsk": bbo[1] / 1000,
        "umaResolutionStatuses": "[]",
        "eventStartTime": _iso(start),
        "feesEnabled": True,
        "feeSchedule": {
            "exponent": 1,
            "rate": model.fee_rate,
            "takerOnly": True,
            "rebateRate": 0.2,
        },
    }
    if closed:
        obj["closedTime"] = datetime.fromtimestamp(end + 60, UTC).strftime("%Y-%m-%d %H:%M:%S+00")
        obj["automaticallyResolved"] = True
    return obj
