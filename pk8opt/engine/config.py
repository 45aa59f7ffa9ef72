"""The paper engine's settings, declared once (the `PM_PAPER_*` variables), and the
typed object the engines read them from (`EngineSettings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pk8opt.params import Param, ParamSet

ENGINE_PARAMS = ParamSet(
    [
        Param(
            "starting_cash_usdc",
            float,
            10000.0,
            "PM_PAPER_STARTING_CASH",
            "Cash at the start of every session",
            low=0.0,
            high=1e9,
            unit="USDC",
        ),
        Param(
            "feed_clock",
            str,
            "venue",
            "PM_PAPER_FEED_CLOCK",
            "Clock of market updates: venue (venue timestamp; decisions a feed latency "
            "later) or local (receive time for both)",
            choices=("venue", "local"),
        ),
        Param(
            "feed_latency_ms",
            float,
            43.0,
            "PM_PAPER_FEED_LATENCY_MS",
            "On the venue clock: delay from the venue's timestamp to our decision",
            low=0.0,
            high=10000.0,
            unit="ms",
        ),
        Param(
            "post_latency_ms",
            float,
            50.0,
            "PM_PAPER_POST_LATENCY_MS",
            "Delay between posting an order and it resting on the book",
            low=0.0,
            high=10000.0,
            unit="ms",
        ),
        Param(
            "cancel_req_latency_ms",
            float,
            50.0,
            "PM_PAPER_CANCEL_REQ_LATENCY_MS",
            "Delay until a cancel request is acknowledged (the order can still fill)",
            low=0.0,
            high=10000.0,
            unit="ms",
        ),
        Param(
            "cancel_clear_latency_ms",
            float,
            50.0,
            "PM_PAPER_CANCEL_CLEAR_LATENCY_MS",
            "Further delay after the acknowledgement until the order is gone",
            low=0.0,
            high=10000.0,
            unit="ms",
        ),
        Param(
            "response_latency_ms",
            float,
            43.0,
            "PM_PAPER_RESPONSE_LATENCY_MS",
            "Delay until the trade loop hears of a fill, an acknowledgement or a cancel",
            low=0.0,
            high=10000.0,
            unit="ms",
        ),
        Param(
            "take_depletes",
            bool,
            True,
            "PM_PAPER_TAKE_DEPLETES",
            "Our takes use up the visible asks they filled against until the venue's book "
            "changes at that price (0: the asks stay visible, as before)",
        ),
        Param(
            "trade_through_volume",
            bool,
            False,
            "PM_PAPER_TRADE_THROUGH_VOLUME",
            "A trade printed through a resting order's price fills it up to the trade's "
            "size (1), or fills all of it (0)",
        ),
        Param(
            "queue_ahead_frac",
            float,
            1.0,
            "PM_PAPER_QUEUE_AHEAD_FRAC",
            "Fraction of the size displayed at an order's price when it rests that is ahead "
            "of it (1: behind all of it)",
            low=0.0,
            high=1.0,
        ),
        Param(
            "queue_add_ahead_frac",
            float,
            0.0,
            "PM_PAPER_QUEUE_ADD_AHEAD_FRAC",
            "Fraction of size added at an order's price later that goes ahead of it",
            low=0.0,
            high=1.0,
        ),
        Param(
            "maker_flow",
            bool,
            False,
            "PM_PAPER_MAKER_FLOW",
            "Add simulated sell flow hitting resting bids, beside the recorded trades",
        ),
        Param(
            "flow_base",
            float,
            5.0,
            "PM_PAPER_FLOW_BASE",
            "Maker flow: arrivals of simulated sell orders per second per token",
            low=0.0,
            high=1000.0,
            unit="1/s",
        ),
        Param(
            "flow_depth_scale",
            float,
            0.2,
            "PM_PAPER_FLOW_DEPTH_SCALE",
            "Maker flow: size of one arrival as a multiple of the best bid's size",
            low=0.0,
            high=100.0,
        ),
        Param(
            "flow_noise",
            float,
            0.5,
            "PM_PAPER_FLOW_NOISE",
            "Maker flow: log-normal sigma of the arrival size",
            low=0.0,
            high=5.0,
        ),
        Param(
            "seed", int, 1, "PM_PAPER_SEED", "Seed of the maker-flow noise", low=0, high=2**31 - 1
        ),
    ]
)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """The engine's settings as the engines use them: resolved `ENGINE_PARAMS` values,
    latencies in ns. Built once per run (`from_params`); `PaperEngine` and the compiled
    replay's packer (`pk8opt.backtest.compiled.session`) both read this, so a new engine
    parameter is declared above, converted here, and read where it is used.
    """

    starting_cash_usdc: float
    venue_clock: bool  # feed_clock == "venue"
    feed_delay_ns: int  # on the venue clock: feed_latency_ms in ns (0 on the local clock)
    post_ns: int
    cancel_req_ns: int
    cancel_clear_ns: int
    response_ns: int
    take_depletes: bool
    trade_through_volume: bool
    queue_ahead_frac: float
    queue_add_ahead_frac: float
    maker_flow: bool  # maker flow on: asked for, at a positive base rate
    flow_base: float
    flow_depth_scale: float
    flow_noise: float
    seed: int

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EngineSettings:
        """From resolved `ENGINE_PARAMS` values (e.g. `RunConfig.engine_params`)."""
        venue = str(params["feed_clock"]) == "venue"
        flow_base = float(params["flow_base"])
        return cls(
            starting_cash_usdc=float(params["starting_cash_usdc"]),
            venue_clock=venue,
            feed_delay_ns=_ns(params["feed_latency_ms"]) if venue else 0,
            post_ns=_ns(params["post_latency_ms"]),
            cancel_req_ns=_ns(params["cancel_req_latency_ms"]),
            cancel_clear_ns=_ns(params["cancel_clear_latency_ms"]),
            response_ns=_ns(params["response_latency_ms"]),
            take_depletes=bool(params["take_depletes"]),
            trade_through_volume=bool(params["trade_through_volume"]),
            queue_ahead_frac=float(params["queue_ahead_frac"]),
            queue_add_ahead_frac=float(params["queue_add_ahead_frac"]),
            maker_flow=bool(params["maker_flow"]) and flow_base > 0,
            flow_base=flow_base,
            flow_depth_scale=float(params["flow_depth_scale"]),
            flow_noise=float(params["flow_noise"]),
            seed=int(params["seed"]),
        )


def _ns(ms: Any) -> int:
    """Milliseconds to whole nanoseconds, as every latency is converted."""
    return int(round(float(ms) * 1e6))
