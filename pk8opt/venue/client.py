"""A thin, synchronous wrapper over Polymarket's own CLOB client (`py_clob_client_v2`).

Why a wrapper: the client is imported here alone (an import contract in pyproject.toml
keeps it so), and lazily, so pk8opt runs without the optional `pk8opt[real]` extra; its
exceptions become one `VenueError` line with every credential masked (an error of the
client may carry request headers or bodies); and the few calls the real venue makes are
named in the project's words (prices in USDC, sizes in shares, balances in USDC).

Every method blocks on HTTP: the async layer (`pk8opt.venue.broker`) calls them through
`asyncio.to_thread`. The client shares one HTTP connection pool among threads.

Orders are limit buys, good-till-cancelled, post-only when asked (`post_only`: the venue
refuses one that would take liquidity instead of filling it as a taker).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pk8opt.errors import Pk8Error
from pk8opt.redact import mask_secrets
from pk8opt.venue.credentials import ApiKeys, Credentials, Secret

POLYGON = 137
INSTALL_HINT = "real mode needs Polymarket's client: pip install 'pk8opt[real]'"
USDC_UNITS = 1_000_000  # balances come in 6-decimal base units
_CLIENT_LOGGERS = (
    "py_clob_client_v2",
    "py_clob_client_v2.client",
    "py_clob_client_v2.http_helpers.helpers",
)

T = TypeVar("T")


class VenueError(Pk8Error):
    """A call to the venue failed: one line, credentials masked."""


class _MaskSecrets(logging.Filter):
    """Masks every registered secret in the client's own log records (it logs the
    bodies of failed requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = mask_secrets(text)
        if masked != text:
            record.msg, record.args = masked, ()
        return True


def import_client() -> Any:
    """The `py_clob_client_v2` module, or a `VenueError` saying how to install it."""
    try:
        import py_clob_client_v2
    except ImportError:
        raise VenueError(INSTALL_HINT) from None
    for name in _CLIENT_LOGGERS:  # a logger's filters see only its own records
        logger = logging.getLogger(name)
        if not any(isinstance(f, _MaskSecrets) for f in logger.filters):
            logger.addFilter(_MaskSecrets())
        # its failed requests are our events already (`real_order_rejected` with the
        # venue's message); printed by logging's last resort they would cut through
        # the dashboard. A handler of the caller's own still sees them.
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
    return py_clob_client_v2


def describe_error(exc: BaseException) -> str:
    """An exception of the client as one line without credentials: the venue's own
    message where it sent one (`error_msg` of `PolyApiException`), else the text."""
    msg: Any = getattr(exc, "error_msg", None)
    if msg is None:
        msg = getattr(exc, "msg", None)
    if isinstance(msg, dict):
        msg = msg.get("error") or msg.get("errorMsg") or msg.get("message") or msg
    text = str(msg if msg is not None else exc) or type(exc).__name__
    status = getattr(exc, "status_code", None)
    if status:
        text = f"HTTP {status}: {text}"
    return mask_secrets(" ".join(text.split()))[:300]


@dataclass(frozen=True)
class MarketInfo:
    """What signing an order on a token needs (from the CLOB, cached by the client)."""

    tick_size: str  # "0.01", "0.001"
    neg_risk: bool
    min_order_size: float | None  # None: the venue did not say


class ClobApi:
    """The calls the real venue makes, each synchronous, each raising `VenueError`."""

    def __init__(self, host: str, credentials: Credentials, *, chain_id: int = POLYGON) -> None:
        pc = import_client()
        self._pc = pc
        creds = None
        if credentials.api is not None:
            creds = _api_creds(pc, credentials.api)
        self.credentials = credentials
        self.host = host.rstrip("/")
        self._client = self._call(
            lambda: pc.ClobClient(
                self.host,
                chain_id=chain_id,
                key=credentials.private_key.reveal(),
                creds=creds,
                signature_type=credentials.signature_type,
                funder=credentials.funder,
            )
        )
        # the order id is all a post needs to return: fills arrive on the user socket, so
        # the client's wait for the trades' transaction hashes (up to 30 s) is skipped
        self._client._resolve_transactions_hashes = lambda response: response

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except VenueError:
            raise
        except Exception as exc:
            raise VenueError(describe_error(exc)) from None

    # -------------------------------------------------------------- identity
    @property
    def address(self) -> str:
        """The signing key's address (public)."""
        return str(self._call(self._client.get_address))

    def derive_api_keys(self) -> ApiKeys:
        """Create (or, when they exist, derive) the API credentials of the key, and use
        them from now on."""
        c = self._call(self._client.create_or_derive_api_key)
        keys = ApiKeys(Secret(c.api_key), Secret(c.api_secret), Secret(c.api_passphrase))
        self._client.set_api_creds(c)
        self.credentials = self.credentials.with_api(keys)
        return keys

    # -------------------------------------------------------------- market facts
    def market_info(self, token_id: str) -> MarketInfo:
        tick = str(self._call(lambda: self._client.get_tick_size(token_id)))
        neg_risk = bool(self._call(lambda: self._client.get_neg_risk(token_id)))
        return MarketInfo(tick, neg_risk, self.min_order_size(token_id))

    def min_order_size(self, token_id: str) -> float | None:
        """From the token's order book (`min_order_size`), when the venue sends it."""
        try:
            book = self._client.get_order_book(token_id)
        except Exception:
            return None
        raw = book.get("min_order_size") if isinstance(book, dict) else None
        try:
            return float(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def fee_rate_bps(self, token_id: str) -> float:
        return float(self._call(lambda: self._client.get_fee_rate_bps(token_id)) or 0)

    # -------------------------------------------------------------- orders
    def create_order(self, token_id: str, price: float, size: float, info: MarketInfo) -> Any:
        """A signed limit buy (not sent)."""
        pc = self._pc
        args = pc.OrderArgs(token_id=token_id, price=price, size=size, side="BUY")
        options = pc.PartialCreateOrderOptions(tick_size=info.tick_size, neg_risk=info.neg_risk)
        return self._call(lambda: self._client.create_order(args, options))

    def post_order(self, signed: Any, post_only: bool) -> dict[str, Any]:
        """Send a signed order, good-till-cancelled. The venue's answer: `success`,
        `orderID`, `status`, `errorMsg`; a refusal raises `VenueError` with its message."""
        gtc = self._pc.OrderType.GTC
        res = self._call(lambda: self._client.post_order(signed, gtc, post_only))
        if not isinstance(res, dict):
            raise VenueError(f"unexpected answer to a post: {mask_secrets(str(res))[:200]}")
        if not res.get("success", True) or not res.get("orderID"):
            raise VenueError(mask_secrets(str(res.get("errorMsg") or res.get("error") or res)))
        return res

    def cancel(self, venue_order_id: str) -> dict[str, Any]:
        """`{"canceled": [ids], "not_canceled": {id: why}}`."""
        payload = self._pc.OrderPayload(orderID=venue_order_id)
        return _cancel_answer(self._call(lambda: self._client.cancel_order(payload)))

    def cancel_orders(self, venue_order_ids: list[str]) -> dict[str, Any]:
        return _cancel_answer(self._call(lambda: self._client.cancel_orders(venue_order_ids)))

    def cancel_all(self) -> dict[str, Any]:
        return _cancel_answer(self._call(self._client.cancel_all))

    def open_orders(self, condition_id: str | None = None) -> list[dict[str, Any]]:
        """Our resting orders (all markets, or one), as the venue lists them."""
        params = self._pc.OpenOrderParams(market=condition_id) if condition_id else None
        return list(self._call(lambda: self._client.get_open_orders(params)))

    def trades(
        self, condition_id: str | None = None, after_s: int | None = None
    ) -> list[dict[str, Any]]:
        """Our trades (all markets, or one; since `after_s` Unix seconds)."""
        params = self._pc.TradeParams(market=condition_id, after=after_s)
        return list(self._call(lambda: self._client.get_trades(params)))

    # -------------------------------------------------------------- money
    def balance_allowance(self, token_id: str | None = None) -> tuple[float, float | None]:
        """(balance, allowance) in USDC for the collateral, or in shares for a token."""
        pc = self._pc
        kind = pc.AssetType.CONDITIONAL if token_id else pc.AssetType.COLLATERAL
        params = pc.BalanceAllowanceParams(asset_type=kind, token_id=token_id)
        res = self._call(lambda: self._client.get_balance_allowance(params))
        if not isinstance(res, dict):
            raise VenueError(f"unexpected balance answer: {mask_secrets(str(res))[:200]}")
        balance = _units(res.get("balance"))
        allowance: float | None
        if isinstance(res.get("allowances"), dict) and res["allowances"]:
            allowance = min(_units(v) for v in res["allowances"].values())
        elif res.get("allowance") is not None:
            allowance = _units(res.get("allowance"))
        else:
            allowance = None
        return balance, allowance

    def heartbeat(self, heartbeat_id: str = "") -> str:
        """Tell the venue we are alive; it cancels our orders when heartbeats stop. The
        id it answers with goes with the next one."""
        res = self._call(lambda: self._client.post_heartbeat(heartbeat_id))
        if isinstance(res, dict):
            return str(res.get("heartbeat_id") or heartbeat_id)
        return heartbeat_id


def _api_creds(pc: Any, api: ApiKeys) -> Any:
    return pc.ApiCreds(
        api_key=api.key.reveal(),
        api_secret=api.secret.reveal(),
        api_passphrase=api.passphrase.reveal(),
    )


def _units(raw: Any) -> float:
    try:
        return float(raw or 0) / USDC_UNITS
    except (TypeError, ValueError):
        return 0.0


def _cancel_answer(res: Any) -> dict[str, Any]:
    if not isinstance(res, dict):
        return {"canceled": [], "not_canceled": {}}
    canceled = res.get("canceled") or []
    not_canceled = res.get("not_canceled") or {}
    return {
        "canceled": [str(x) for x in canceled],
        "not_canceled": {str(k): str(v) for k, v in dict(not_canceled).items()},
    }


def order_fields(signed: Any) -> dict[str, Any]:
    """A signed order's fields for a log line: amounts, token, addresses, times; never
    the signature."""
    raw = getattr(signed, "__dict__", {}) or {}
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if k == "signature" or k.startswith("_"):
            continue
        out[k] = v if isinstance(v, str | int | float | bool) or v is None else str(v)
    return out
