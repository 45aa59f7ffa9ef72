"""pk8opt: record Polymarket's 15-minute crypto Up/Down markets, replay them through a
paper engine, sweep strategy parameters with Optuna, and deploy the winner as a `.env`."""

__version__ = "0.1.0"
