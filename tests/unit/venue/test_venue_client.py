"""The client wrapper: the venue's answers (fixtures/polymarket/clob_http/) in the
project's words, errors as one line with every credential masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pk8opt.venue.client import ClobApi, VenueError, describe_error, order_fields
from pk8opt.venue.credentials import load_credentials

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
PASS = "passphrase-0123456789abcdef"
ENV = {
    "PM_PRIVATE_KEY": KEY,
    "PM_API_KEY": "k-0000-1111",
    "PM_API_SECRET": SECRET,
    "PM_API_PASSPHRASE": PASS,
}


class Stub:
    """Stands for Polymarket's client: answers from fixtures, or raises."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def __getattr__(self, name: str) -> Any:
        answer = self.answers[name]

        def call(*args: Any, **kwargs: Any) -> Any:
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return call


def api_with(answers: dict[str, Any]) -> ClobApi:
    api = ClobApi("http://127.0.0.1:9", load_credentials(ENV))
    api._client = Stub(answers)
    return api


def load(fixtures_dir: Path, name: str) -> Any:
    return json.loads((fixtures_dir / "clob_http" / name).read_text())


def test_post_and_cancel_answers(fixtures_dir: Path) -> None:
    api = api_with(
        {
            "post_order": load(fixtures_dir, "http_order_response_ok.json"),
            "cancel_order": load(fixtures_dir, "http_cancel_response_ok.json"),
        }
    )
    answer = api.post_order(object(), post_only=True)
    assert answer["orderID"].startswith("0x1234")
    cancel = api.cancel("0xb816482a1234567890abcdef1234567890abcdef1234567890abcdef12345678")
    assert cancel == {
        "canceled": ["0xb816482a1234567890abcdef1234567890abcdef1234567890abcdef12345678"],
        "not_canceled": {},
    }


def test_a_refused_post_is_a_venue_error_with_its_message() -> None:
    api = api_with({"post_order": {"success": False, "errorMsg": "not enough balance / allowance"}})
    with pytest.raises(VenueError, match="not enough balance"):
        api.post_order(object(), post_only=False)


def test_errors_never_carry_credentials() -> None:
    from py_clob_client_v2.exceptions import PolyApiException

    leak = PolyApiException(
        error_msg={"error": f"bad headers POLY_PASSPHRASE={PASS} secret={SECRET}"}
    )
    api = api_with({"post_order": leak, "cancel_all": RuntimeError(f"key {KEY}\nsecond line")})
    with pytest.raises(VenueError) as err:
        api.post_order(object(), post_only=True)
    text = str(err.value)
    assert PASS not in text and SECRET not in text and "bad headers" in text
    with pytest.raises(VenueError) as err:
        api.cancel_all()
    assert KEY not in str(err.value) and KEY[2:] not in str(err.value)
    assert "\n" not in str(err.value)
    assert describe_error(ValueError("")) == "ValueError"


def test_balances_are_in_usdc() -> None:
    api = api_with(
        {
            "get_balance_allowance": {
                "balance": "12500000",
                "allowances": {"0xa": "5000000", "0xb": "900000000"},
            }
        }
    )
    assert api.balance_allowance() == (12.5, 5.0)
    api = api_with({"get_balance_allowance": {"balance": "0", "allowance": "1000000"}})
    assert api.balance_allowance("123") == (0.0, 1.0)


def test_a_signed_order_is_logged_without_its_signature() -> None:
    api = ClobApi("http://127.0.0.1:9", load_credentials(ENV))
    pc = api._pc
    api._client._ClobClient__tick_sizes["123"] = "0.01"  # the venue's answer, cached: no HTTP
    info_options = pc.PartialCreateOrderOptions(tick_size="0.01", neg_risk=False, version=2)
    signed = api._client.create_order(
        pc.OrderArgs(token_id="123", price=0.45, size=10, side="BUY"), info_options
    )
    fields = order_fields(signed)
    assert "signature" not in fields and fields["tokenId"] == "123"
    assert fields["makerAmount"] == "4500000" and fields["takerAmount"] == "10000000"
    assert signed.signature not in json.dumps(fields)


def test_the_clients_own_log_lines_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    api_with({})  # installs the filter
    with caplog.at_level(logging.ERROR):
        logging.getLogger("py_clob_client_v2.http_helpers.helpers").error(
            "request error body=%s", f"echo {PASS} {SECRET}"
        )
    assert PASS not in caplog.text and SECRET not in caplog.text and "***" in caplog.text


def test_without_the_client_installed_the_error_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "py_clob_client_v2", None)  # import fails
    with pytest.raises(VenueError) as err:
        ClobApi("http://127.0.0.1:9", load_credentials(ENV))
    assert str(err.value) == "real mode needs Polymarket's client: pip install 'pk8opt[real]'"
