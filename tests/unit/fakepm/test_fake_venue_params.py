"""The fake venue's parameters: parsed from `--venue-param NAME=VALUE` with one clear error
line, listed for `serve --help`; and its fee and wire helpers."""

from __future__ import annotations

import dataclasses

import pytest

from pk8opt.errors import ConfigError
from pk8opt.fakepm.auth import derive_creds, hmac_signature
from pk8opt.fakepm.ledger import num, taker_fee
from pk8opt.fakepm.venue_params import NAMES, VenueParams, parse_venue_params, venue_params_help
from pk8opt.polymarket.endpoints import Endpoints


def test_defaults_and_overrides() -> None:
    p = parse_venue_params([])
    assert p == VenueParams()
    assert (p.post_latency_ms, p.queue_frac, p.trade_through, p.balance_usdc) == (
        100,
        1,
        True,
        1000,
    )
    assert p.heartbeat_timeout_s == 10
    q = parse_venue_params(["queue_frac=0.25", "trade_through=0", "chain_id=80002"])
    assert (q.queue_frac, q.trade_through, q.chain_id) == (0.25, False, 80002)


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("bogus=1", "--venue-param 'bogus=1': expected NAME=VALUE with NAME one of: "),
        ("queue_frac", "expected NAME=VALUE"),
        ("queue_frac=1.5", "--venue-param queue_frac='1.5': must be <= 1"),
        ("post_latency_ms=-1", "must be >= 0"),
        ("balance_usdc=lots", "balance_usdc='lots': not a number"),
        ("chain_id=1.5", "not a whole number"),
        ("trade_through=maybe", "expected 1 or 0"),
        ("heartbeat_timeout_s=nan", "must be a finite number"),
    ],
)
def test_a_bad_item_is_one_line_naming_it_and_the_valid_names(item: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_venue_params([item])
    text = str(info.value)
    assert "\n" not in text and says in text
    assert all(name in text for name in NAMES)


def test_help_lists_every_parameter_with_its_default() -> None:
    lines = venue_params_help().splitlines()
    assert [ln.split()[0] for ln in lines] == [f.name for f in dataclasses.fields(VenueParams)]
    assert "post_latency_ms (default 100): " in lines[0]
    assert any(ln.startswith("trade_through (default 1)") for ln in lines)


def test_taker_fee_follows_the_schedule() -> None:
    assert taker_fee(10, 0.5, 0.07, 1.0) == 0.175
    assert taker_fee(1, 0.01, 0.0001, 1.0) == 0.00001  # the minimum
    assert taker_fee(10, 0.5, 0.0, 1.0) == 0.0
    assert (num(3.0), num(2.5), num(0.47), num(1e-7)) == ("3", "2.5", "0.47", "0")


def test_keys_are_derived_the_same_each_time_and_sign_as_the_client_does() -> None:
    a, b = derive_creds("0xAbC", 0), derive_creds("0xabc", 0)
    assert a.api_key == b.api_key and a.secret == b.secret
    assert derive_creds("0xabc", 1).api_key != a.api_key
    from py_clob_client_v2.signing.hmac import build_hmac_signature

    body = '{"orderID":"0x1"}'
    assert hmac_signature(a.secret, "17", "DELETE", "/order", body) == build_hmac_signature(
        a.secret, "17", "DELETE", "/order", body
    )


def test_endpoints_name_the_clob_and_the_user_socket() -> None:
    e = Endpoints.resolve(env={})
    assert e.clob_url == "https://clob.polymarket.com"
    assert e.user_ws_url == "wss://ws-subscriptions-clob.polymarket.com/ws/user"
    e = Endpoints.resolve(
        env={"PK8_CLOB_URL": "http://h:1/", "PK8_USER_WS_URL": "ws://h:2/ws/user"}
    )
    assert (e.clob_url, e.user_ws_url) == ("http://h:1", "ws://h:2/ws/user")
