"""The normalized tables of a session: what replay reads, nothing Polymarket-shaped.

`events` has one row per book/trade fact, in receive order. Rows of one raw frame share
its `frame` number; a strategy decision is taken only at frame boundaries, so the two
mirrored halves of a `price_change` are never seen half-applied.

Prices are integers on a 1/1000 grid (`price_milli`): both tick sizes (0.01, 0.001) fit.
"""

from __future__ import annotations

from enum import IntEnum

import polars as pl

# 2: rows with impossible values are left out (recordings.values)
# 3: frames out of receive order and repeated frames are left out; the manifest's frame
#    count and market_resolved are checked against the file
NORMALIZER_VERSION = 3
PRICE_SCALE = 1000  # price_milli = round(price * PRICE_SCALE)

UP, DOWN, NO_TOKEN = 0, 1, -1
BID, ASK, NO_SIDE = 0, 1, -1  # BUY side of a level is a bid, SELL an ask
NO_PRICE = -1


class Kind(IntEnum):
    BOOK_RESET = 0  # a snapshot begins for `token`: clear both sides; LEVEL rows follow
    LEVEL = 1  # (token, side, price) now holds `size` in total; 0 removes the level
    TRADE = 2  # a print at (token, price, size); `side` is the taker's (BID = taker bought)
    TICK_SIZE = 3  # `price` holds the new tick in milli (10 or 1)
    RESOLVED = 4  # `token` won (market_resolved)
    GAP = 5  # the market socket dropped; books are stale until the next BOOK_RESET
    BEST_BID_ASK = 6  # the venue's own top of book in venue_bid / venue_ask


EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "local_ns": pl.Int64(),  # local receive time, Unix ns
    "exch_ms": pl.Int64(),  # venue timestamp, Unix ms (0 when the frame had none)
    "frame": pl.Int32(),  # line number of the raw frame in the session's frames file
    "kind": pl.UInt8(),
    "token": pl.Int8(),
    "side": pl.Int8(),
    "price": pl.Int32(),  # milli
    "size": pl.Float64(),
    "venue_bid": pl.Int32(),  # the venue's best bid sent with this row (milli), or -1
    "venue_ask": pl.Int32(),  # the venue's best ask sent with this row (milli), or -1
}


class Underlying(IntEnum):
    BINANCE = 0  # crypto_prices (btcusdt)
    CHAINLINK = 1  # crypto_prices_chainlink (btc/usd): the resolution reference
    TWAP = 2  # crypto_prices_twap_sixty


UNDERLYING_SCHEMA: dict[str, pl.DataType] = {
    "local_ns": pl.Int64(),
    "exch_ms": pl.Int64(),  # the price's own timestamp (payload.timestamp), Unix ms
    "source": pl.UInt8(),
    "price": pl.Float64(),
}


def to_milli(price: str | float) -> int:
    return int(round(float(price) * PRICE_SCALE))
