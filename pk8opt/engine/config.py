"""The paper engine's settings, declared once (the `PM_PAPER_*` variables)."""

from __future__ import annotations

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
