"""What the venue checks of a posted order before it meets the book.

The payload is the official client's (`{"order": {...}, "owner", "orderType", "postOnly",
"deferExec"}`, a v2 order: amounts in millionths, a BUY's `makerAmount` the USDC it pays
and `takerAmount` the shares it gets, a SELL the other way round). It must be owned by
the API key that posts it and signed by that key's wallet: its EIP-712 hash is the order
id. Refusals are `Rejected`: `{"error": message}` with the venue's status and words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pk8opt.fakepm.auth import Creds, order_hash_and_signer


class Rejected(Exception):
    """An order or request the venue refuses: `{"error": message}` with `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Incoming:
    """A posted order as checked before it meets the book."""

    id: str
    token: str
    side: str
    price: Decimal
    size: float  # shares
    order_type: str
    expiration: int
    maker: str
    post_only: bool
    signed_ms: int  # the order's own `timestamp`: when its client signed it (wall ms)


def read_order(
    creds: Creds, body: Any, known: Callable[[str], bool], chain_id: int, now_s: float
) -> Incoming:
    """The order in a `POST /order` body, or `Rejected`. `known(token)`: is it served."""
    if not isinstance(body, dict) or not isinstance(body.get("order"), dict):
        raise Rejected("Invalid order payload")
    order = body["order"]
    if body.get("owner") != creds.api_key:
        raise Rejected("the order owner has to be the owner of the API KEY")
    token = str(order.get("tokenId", ""))
    if not known(token):
        raise Rejected(f"Invalid order payload: no market trades token {token!r}")
    try:
        order_id, signer = order_hash_and_signer(order, chain_id, False)
        maker_amount, taker_amount = int(order["makerAmount"]), int(order["takerAmount"])
        expiration = int(order.get("expiration") or 0)
        signed_ms = int(order.get("timestamp") or 0)
    except (KeyError, ValueError, TypeError):
        raise Rejected("Invalid order payload") from None
    if str(order.get("signer", "")).lower() != creds.address.lower():
        raise Rejected("the order signer address has to be the address of the API KEY")
    if int(order.get("signatureType", 0)) == 0 and signer.lower() != creds.address.lower():
        raise Rejected("invalid signature")
    side = order.get("side")
    if side not in ("BUY", "SELL") or maker_amount <= 0 or taker_amount <= 0:
        raise Rejected("Invalid order payload")
    shares, cash = (taker_amount, maker_amount) if side == "BUY" else (maker_amount, taker_amount)
    try:
        price = Decimal(cash) / Decimal(shares)
    except InvalidOperation:
        raise Rejected("Invalid order payload") from None
    order_type = str(body.get("orderType") or "GTC")
    if order_type not in ("GTC", "GTD", "FOK", "FAK"):
        raise Rejected(f"Invalid order payload: unknown order type {order_type!r}")
    post_only = bool(body.get("postOnly"))
    if post_only and order_type not in ("GTC", "GTD"):
        raise Rejected("invalid post-only order: only GTC and GTD order types are allowed")
    if order_type == "GTD" and expiration <= now_s + 60:
        raise Rejected("invalid expiration")
    maker = str(order.get("maker") or creds.address)
    return Incoming(
        order_id, token, side, price, shares / 1e6, order_type, expiration, maker, post_only,
        signed_ms,
    )  # fmt: skip
