"""The user channel's frames, every fixture of fixtures/polymarket/user_ws/, parsed into
the project's own events; and the subscription message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pk8opt.venue.credentials import ApiKeys, Secret
from pk8opt.venue.userws import OrderEvent, TradeEvent, parse_user_frame, subscribe_message

ORDER_FILES = {
    "legacy_order_cancel.json": ("CANCELLATION", "CANCELED", True),
    "legacy_order_placement.json": ("PLACEMENT", "LIVE", False),
    "ws_user_order_cancellation.json": ("CANCELLATION", "CANCELED", True),
    "ws_user_order_fok_killed.json": ("CANCELLATION", "CANCELED_order", True),
    "ws_user_order_matched.json": ("UPDATE", "MATCHED", False),
    "ws_user_order_msg.json": ("PLACEMENT", "LIVE", False),
    "ws_user_order_placement.json": ("PLACEMENT", "LIVE", False),
    "ws_user_order_update.json": ("UPDATE", "LIVE", False),
    "ws_user_order_venue_cancel.json": ("CANCELLATION", "INVALID", True),
}
TRADE_FILES = {
    # file: (status, legs, the taker's size)
    "legacy_user_trade1.json": ("MINED", 7, 1096.87),
    "legacy_user_trade2.json": ("MATCHED", 2, 5.0),
    "ws_user_trade.json": ("CONFIRMED", 2, 25.0),
    "ws_user_trade_msg.json": ("CONFIRMED", 1, 25.0),
}


def test_every_fixture_is_named_here(fixtures_dir: Path) -> None:
    files = {p.name for p in (fixtures_dir / "user_ws").glob("*.json")}
    assert files == set(ORDER_FILES) | set(TRADE_FILES)


@pytest.mark.parametrize("name", sorted(ORDER_FILES))
def test_order_events(fixtures_dir: Path, name: str) -> None:
    raw = (fixtures_dir / "user_ws" / name).read_bytes()
    (ev,) = parse_user_frame(raw)
    assert isinstance(ev, OrderEvent)
    kind, status, done = ORDER_FILES[name]
    obj = json.loads(raw)
    assert ev.kind == kind and ev.status.startswith(status) and ev.done is done
    assert ev.venue_order_id == obj["id"] and ev.condition_id == obj["market"]
    assert ev.asset_id == obj["asset_id"]
    assert ev.price == float(obj["price"]) and ev.original_size == float(obj["original_size"])
    assert ev.size_matched == float(obj["size_matched"] or 0)
    assert ev.venue_ms == int(obj["timestamp"])


@pytest.mark.parametrize("name", sorted(TRADE_FILES))
def test_trade_events(fixtures_dir: Path, name: str) -> None:
    raw = (fixtures_dir / "user_ws" / name).read_bytes()
    (ev,) = parse_user_frame(raw)
    assert isinstance(ev, TradeEvent)
    status, legs, taker_size = TRADE_FILES[name]
    obj = json.loads(raw)
    assert ev.status == status and len(ev.legs) == legs and not ev.failed
    taker = ev.legs[0]
    assert not taker.maker and taker.venue_order_id == obj["taker_order_id"]
    assert taker.size == taker_size and taker.price == float(obj["price"])
    for leg, mo in zip(ev.legs[1:], obj["maker_orders"], strict=True):
        assert leg.maker and leg.venue_order_id == mo["order_id"]
        assert leg.size == float(mo["matched_amount"]) and leg.price == float(mo["price"])
        assert leg.asset_id == mo["asset_id"]  # a maker may be on the other token
    assert ev.venue_ms == int(obj["timestamp"])


def test_a_failed_trade_and_other_shapes(fixtures_dir: Path) -> None:
    obj = json.loads((fixtures_dir / "user_ws" / "legacy_user_trade2.json").read_text())
    obj["status"] = "FAILED"
    obj["size"] = 5  # numbers are accepted where the wire sends strings
    (ev,) = parse_user_frame(json.dumps(obj))
    assert isinstance(ev, TradeEvent) and ev.failed and ev.legs[0].size == 5.0


def test_frames_are_objects_or_arrays_and_text_is_skipped(fixtures_dir: Path) -> None:
    items = [json.loads(p.read_text()) for p in sorted((fixtures_dir / "user_ws").glob("*.json"))]
    events = parse_user_frame(json.dumps(items))
    assert len(events) == len(items)
    for text in (
        "PONG",
        "",
        "{not json",
        '{"type": "subscribed"}',
        "[1, 2]",
        '{"event_type": "order"}',
    ):
        assert parse_user_frame(text) == []


def test_the_subscription_carries_the_credentials_and_markets() -> None:
    keys = ApiKeys(Secret("key-123456"), Secret("secret-123456"), Secret("pass-123456"))
    msg = json.loads(subscribe_message(keys, ["0xabc", "0xdef"]))
    assert msg == {
        "auth": {"apiKey": "key-123456", "secret": "secret-123456", "passphrase": "pass-123456"},
        "markets": ["0xabc", "0xdef"],
        "type": "user",
    }
