"""The recorder's settings (`RecordConfig`) and their check."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from pk8opt.errors import ConfigError
from pk8opt.polymarket.endpoints import Endpoints, VenueClock
from pk8opt.polymarket.sockets import MAX_FRAME_BYTES, OPEN_TIMEOUT_S, STABLE_AFTER_S


@dataclass
class RecordConfig:
    symbols: list[str]
    timeframe: str = "15m"
    out: Path = Path("recordings")
    duration_s: float | None = None  # wall seconds
    sessions: int | None = None  # stop after this many finished sessions
    endpoints: Endpoints = field(default_factory=Endpoints)
    clock: VenueClock = field(default_factory=VenueClock)
    lead_s: float = 60.0  # venue seconds before a window ends to subscribe the next
    ping_s: float = 10.0
    live_ping_s: float = 5.0
    stale_s: float = 30.0  # wall seconds without PONG (market) / any frame (live)
    resolve_after_s: float = 10.0  # first Gamma poll, venue seconds after the window end
    resolve_timeout_s: float = 1800.0  # give up waiting for a resolution (venue seconds)
    status: bool = False  # show the live status table on stdout
    max_frame_bytes: int = MAX_FRAME_BYTES  # a bigger frame is refused: a gap, a reconnect
    stable_after_s: float = STABLE_AFTER_S  # a connection held this long resets the backoff
    timeout_s: float = OPEN_TIMEOUT_S  # connect / answer timeout of Gamma and the sockets

    def validate(self) -> None:
        """Raise `ConfigError` naming the setting that cannot work."""
        positive = {
            "--ping": self.ping_s,
            "--stale": self.stale_s,
            "--timeout": self.timeout_s,
            "live_ping_s": self.live_ping_s,
            "stable_after_s": self.stable_after_s,
            "resolve_timeout_s": self.resolve_timeout_s,
        }
        if self.duration_s is not None:
            positive["--duration"] = self.duration_s
        for name, value in positive.items():
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name} {value}: must be a number of seconds above 0")
        for name, value in {"--lead": self.lead_s, "resolve_after_s": self.resolve_after_s}.items():
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} {value}: must be a number of seconds, 0 or more")
        if self.sessions is not None and self.sessions < 1:
            raise ConfigError(f"--sessions {self.sessions}: must be 1 or more")
        if self.max_frame_bytes < 1024:
            raise ConfigError(f"--max-frame {self.max_frame_bytes}: must be at least 1024 bytes")
        if not self.symbols:
            raise ConfigError("--symbols: give at least one symbol, e.g. BTC")
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out {self.out}: is a file; give a folder (it is created)")
