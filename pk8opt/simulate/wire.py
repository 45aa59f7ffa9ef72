"""Polymarket's wire shapes, byte for byte as the venue sends them (see PROTOCOL.md and the
captures under fixtures/polymarket): string prices, sizes and timestamps, books worst
first, keys in the venue's order. Prices are milli integers here, sizes centi-shares."""

from __future__ import annotations

from typing import Any

import msgspec

_enc = msgspec.json.Encoder()


def dumps(obj: Any) -> str:
    return _enc.encode(obj).decode()


def fmt_price(milli: int) -> str:
    """Milli price as the venue writes it: `0.5`, `0.01`, `0.999` (no trailing zeros)."""
    if milli >= 1000:
        return "1"
    if milli <= 0:
        return "0"
    return f"0.{milli:03d}".rstrip("0")


def fmt_size(centi: int) -> str:
    """Centi-shares as the venue writes sizes: `220045`, `422.69`, `3793.8`, `0`."""
    whole, frac = divmod(centi, 100)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:02d}".rstrip("0")


def levels(book: dict[int, int], bids: bool, flip: bool) -> list[dict[str, str]]:
    """A side of a token's book, worst first (best last), as `{price, size}` dicts.

    `book` is a side of the Up book; `flip` gives the Down view (price 1 - p) of it.
    """
    prices = sorted(book, reverse=not bids)  # bids ascending, asks descending: best last
    if flip:
        return [{"price": fmt_price(1000 - p), "size": fmt_size(book[p])} for p in prices]
    return [{"price": fmt_price(p), "size": fmt_size(book[p])} for p in prices]


def book_msg(
    market: str,
    asset_id: str,
    ts_ms: int,
    hash_: str,
    bids: list[dict[str, str]],
    asks: list[dict[str, str]],
    tick: str | None = None,
    last_trade: str | None = None,
) -> dict[str, Any]:
    """Initial books carry `tick_size` and `last_trade_price`; post-trade books do not."""
    if tick is None:
        return {
            "market": market,
            "asset_id": asset_id,
            "bids": bids,
            "asks": asks,
            "hash": hash_,
            "timestamp": str(ts_ms),
            "event_type": "book",
        }
    msg: dict[str, Any] = {
        "market": market,
        "asset_id": asset_id,
        "timestamp": str(ts_ms),
        "hash": hash_,
        "bids": bids,
        "asks": asks,
        "tick_size": tick,
        "event_type": "book",
    }
    if last_trade is not None:
        msg["last_trade_price"] = last_trade
    return msg


def change_entry(
    asset_id: str, price: int, size: int, side: str, hash_: str, bb: int, ba: int
) -> dict[str, str]:
    return {
        "asset_id": asset_id,
        "price": fmt_price(price),
        "size": fmt_size(size),
        "side": side,
        "hash": hash_,
        "best_bid": fmt_price(bb),
        "best_ask": fmt_price(ba),
    }


def price_change_msg(market: str, ts_ms: int, entries: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "market": market,
        "price_changes": entries,
        "timestamp": str(ts_ms),
        "event_type": "price_change",
    }


def last_trade_msg(
    market: str, asset_id: str, price: int, side: str, size: int, fee_bps: int, ts_ms: int, tx: str
) -> dict[str, Any]:
    return {
        "asset_id": asset_id,
        "event_type": "last_trade_price",
        "fee_rate_bps": str(fee_bps),
        "market": market,
        "price": fmt_price(price),
        "side": side,
        "size": fmt_size(size),
        "timestamp": str(ts_ms),
        "transaction_hash": tx,
    }


def best_bid_ask_msg(market: str, asset_id: str, bb: int, ba: int, ts_ms: int) -> dict[str, Any]:
    return {
        "event_type": "best_bid_ask",
        "market": market,
        "asset_id": asset_id,
        "best_bid": fmt_price(bb),
        "best_ask": fmt_price(ba),
        "spread": fmt_price(ba - bb),
        "timestamp": str(ts_ms),
    }


def tick_size_msg(market: str, asset_id: str, old: str, new: str, ts_ms: int) -> dict[str, Any]:
    return {
        "event_type": "tick_size_change",
        "market": market,
        "asset_id": asset_id,
        "old_tick_size": old,
        "new_tick_size": new,
        "timestamp": str(ts_ms),
    }


def resolved_msg(
    market: str, gamma_id: str, assets: list[str], winner: int, ts_ms: int
) -> dict[str, Any]:
    return {
        "event_type": "market_resolved",
        "id": gamma_id,
        "market": market,
        "assets_ids": assets,
        "winning_asset_id": assets[winner],
        "winning_outcome": "Up" if winner == 0 else "Down",
        "timestamp": str(ts_ms),
        "tags": ["crypto"],
    }


def live_update(
    conn_id: str, topic: str, symbol: str, price_ts_ms: int, value: float, full: str, ts_ms: int
) -> str:
    return dumps(
        {
            "connection_id": conn_id,
            "payload": {
                "full_accuracy_value": full,
                "symbol": symbol,
                "timestamp": price_ts_ms,
                "value": value,
            },
            "timestamp": ts_ms,
            "topic": topic,
            "type": "update",
        }
    )


def live_backfill(topic: str, symbol: str, points: list[dict[str, Any]], ts_ms: int) -> str:
    return dumps(
        {
            "payload": {"data": points, "symbol": symbol},
            "timestamp": ts_ms,
            "topic": topic,
            "type": "subscribe",
        }
    )


def chainlink_full(value: float) -> str:
    """Chainlink's 18-decimal integer string, e.g. `79696948174287960000000`."""
    return str(int(round(value * 1e8))) + "0" * 10


def binance_full(value: float, decimals: int) -> str:
    return f"{value:.8f}" if decimals <= 8 else repr(value)
