"""Where the trade loop's orders go: a venue.

The trade loop (`pk8opt.trading`) talks to one `Venue` per market window. Two venues
implement it: the paper engine (`pk8opt.engine.paper.PaperEngine`, backtests and paper
runs) and the real venue (`pk8opt.venue.real`, orders on Polymarket's CLOB through its own
Python client, `py-clob-client-v2`, the optional `pk8opt[real]` extra).

The real venue's pieces, each importable alone (this face stays light: the trade loop
imports it in every backtest worker):

    credentials  the wallet key and API credentials (`Secret` never prints)
    limits       PM_MAX_ORDER_SIZE, PM_MAX_WINDOW_NOTIONAL, PM_MAX_EXPOSURE,
                 PM_DAILY_LOSS_LIMIT, PM_POST_ONLY: checked before every order
    client       the thin synchronous wrapper over Polymarket's client
    userws       the user channel: our order and trade events, parsed
    account      one window's account as the venue's messages build it
    real         `RealVenue`, one market window
    broker       `Broker`, one per run: start, worker, socket, heartbeat, reconcile, stop
"""

from pk8opt.venue.base import Venue

__all__ = ["Venue"]
