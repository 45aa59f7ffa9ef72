"""The paper engine shared by replay and the live runner (see docs/engine.md)."""

from pk8opt.engine.config import ENGINE_PARAMS
from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.fees import taker_fee_usdc
from pk8opt.engine.market import MarketSpec
from pk8opt.engine.orders import Order, Status
from pk8opt.engine.paper import PaperEngine

__all__ = [
    "ENGINE_PARAMS",
    "EventLog",
    "MarketSpec",
    "Order",
    "PaperEngine",
    "Status",
    "taker_fee_usdc",
]
