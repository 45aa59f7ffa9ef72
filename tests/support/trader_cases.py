"""Strategy and setting cases (CASES) every replay mode must agree on."""

CASES = [
    ("balanced_arb", {"edge": 0.0}),
    (
        "balanced_arb",
        {
            "edge": 0.0,
            "join_ticks": -1,
            "requote_min_ticks": 0,
            "min_requote_seconds": 0.0,
            "post_latency_ms": 0.0,
        },
    ),
    (
        "balanced_arb",
        {
            "edge": 0.0,
            "maker_flow": True,
            "flow_base": 3.0,
            "queue_add_ahead_frac": 0.3,
            "requote_max_age_seconds": 2.0,
        },
    ),
    ("fixed", {"up_price": 0.5, "down_price": 0.5, "size": 7.0}),
    ("balanced_arb", {"edge": 0.0, "response_latency_ms": 120.0, "min_requote_seconds": 0.0}),
    ("balanced_arb", {"edge": 0.0, "feed_clock": "local", "response_latency_ms": 30.0}),
    ("balanced_arb", {"edge": 0.0, "feed_latency_ms": 0.0, "maker_flow": True}),
    (
        "balanced_arb",
        {"edge": 0.0, "feed_latency_ms": 400.0, "post_latency_ms": 0.0, "maker_flow": True},
    ),
    ("fixed", {"up_price": 0.5, "down_price": 0.5, "size": 7.0, "feed_latency_ms": 250.0}),
    ("fixed", {"up_price": 0.6, "down_price": 0.6, "size": 400.0, "min_requote_seconds": 0.2}),
    (
        "balanced_arb",
        {"edge": 0.0, "response_latency_ms": 40.0, "maker_flow": True, "flow_base": 3.0},
    ),
]
