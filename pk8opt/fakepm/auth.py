"""The CLOB's two levels of authentication, checked as the venue checks them.

L1 (creating or deriving an API key): the headers carry an EIP-712 `ClobAuth` signature
of the wallet; the address it recovers to must be `POLY_ADDRESS`.
L2 (every order call): `POLY_SIGNATURE` is the URL-safe base64 HMAC-SHA256, keyed by the
API secret, of `timestamp + method + path + body` (the body as sent, single quotes read
as double, as the official client signs it); key, passphrase and address must belong
together.

Orders are EIP-712 `Order` structs of the CTF exchange (version 2): their hash is the
order id, and an EOA order's signature must recover to its `signer`.

eth_account is imported on first use (a signed request), so serving market data alone
never loads it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
# the CTF exchange contracts (v2) an order names as its EIP-712 verifying contract; the
# same addresses on Polygon (137) and Amoy (80002)
EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
_NAMESPACE = uuid.UUID("5b0f7a9e-3c1d-4e8a-9f2b-6d4c8e1a7b30")
_ORDER_FIELDS = (
    ("salt", "uint256"),
    ("maker", "address"),
    ("signer", "address"),
    ("tokenId", "uint256"),
    ("makerAmount", "uint256"),
    ("takerAmount", "uint256"),
    ("side", "uint8"),
    ("signatureType", "uint8"),
    ("timestamp", "uint256"),
    ("metadata", "bytes32"),
    ("builder", "bytes32"),
)


@dataclass(frozen=True)
class Creds:
    api_key: str
    secret: str
    passphrase: str
    address: str  # as the wallet spells it (checksummed)

    def as_json(self) -> dict[str, str]:
        return {"apiKey": self.api_key, "secret": self.secret, "passphrase": self.passphrase}


def derive_creds(address: str, nonce: int) -> Creds:
    """The API key of `address` for `nonce`: the same on every call, as the venue's
    derive endpoint gives it."""
    seed = f"{address.lower()}:{nonce}"
    secret = hashlib.sha256(b"secret:" + seed.encode()).digest()
    return Creds(
        api_key=str(uuid.uuid5(_NAMESPACE, seed)),
        secret=base64.urlsafe_b64encode(secret).decode(),
        passphrase=hashlib.sha256(b"passphrase:" + seed.encode()).hexdigest(),
        address=address,
    )


def l1_signer(address: str, signature: str, timestamp: str, nonce: int, chain_id: int) -> str:
    """The address the `ClobAuth` signature recovers to ("" when it is not one)."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    message = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "ClobAuth": [
                {"name": "address", "type": "address"},
                {"name": "timestamp", "type": "string"},
                {"name": "nonce", "type": "uint256"},
                {"name": "message", "type": "string"},
            ],
        },
        "primaryType": "ClobAuth",
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": chain_id},
        "message": {
            "address": address,
            "timestamp": timestamp,
            "nonce": nonce,
            "message": CLOB_AUTH_MESSAGE,
        },
    }
    try:
        signable = encode_typed_data(full_message=message)
        return str(Account.recover_message(signable, signature=signature))
    except Exception:  # a malformed address or signature: no signer
        return ""


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: str) -> str:
    """What the official client puts in `POLY_SIGNATURE` for this request."""
    message = f"{timestamp}{method}{path}"
    if body:
        message += body.replace("'", '"')
    key = base64.urlsafe_b64decode(secret)
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def hmac_ok(
    creds: Creds, signature: str, timestamp: str, method: str, path: str, body: str
) -> bool:
    expected = hmac_signature(creds.secret, timestamp, method, path, body)
    return hmac.compare_digest(expected.encode(), signature.encode())


def _bytes32(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x").zfill(64))


def order_hash_and_signer(order: dict[str, Any], chain_id: int, neg_risk: bool) -> tuple[str, str]:
    """(order id, the address its signature recovers to, "" if none) of a v2 order as
    posted. Raises ValueError/KeyError for an order that is not one."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data
    from eth_utils import keccak

    side = order["side"]
    message = {
        "salt": int(order["salt"]),
        "maker": order["maker"],
        "signer": order["signer"],
        "tokenId": int(order["tokenId"]),
        "makerAmount": int(order["makerAmount"]),
        "takerAmount": int(order["takerAmount"]),
        "side": side if isinstance(side, int) else (0 if side == "BUY" else 1),
        "signatureType": int(order.get("signatureType", 0)),
        "timestamp": int(order.get("timestamp", 0)),
        "metadata": _bytes32(order.get("metadata") or "0x0"),
        "builder": _bytes32(order.get("builder") or "0x0"),
    }
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Order": [{"name": n, "type": t} for n, t in _ORDER_FIELDS],
        },
        "primaryType": "Order",
        "domain": {
            "name": "Polymarket CTF Exchange",
            "version": "2",
            "chainId": chain_id,
            "verifyingContract": NEG_RISK_EXCHANGE_V2 if neg_risk else EXCHANGE_V2,
        },
        "message": message,
    }
    try:
        signable = encode_typed_data(full_message=typed)
    except Exception as exc:  # a field of the wrong shape
        raise ValueError(str(exc)) from None
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    order_id = "0x" + digest.hex()
    try:
        signer = str(Account.recover_message(signable, signature=order.get("signature", "")))
    except Exception:
        signer = ""
    return order_id, signer
