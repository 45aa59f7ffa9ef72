"""`pk8opt compare`: replay what `live --record` kept and say where it differs from live.

The live runner writes every engine event to `<log-dir>/live_console_events.jsonl` and,
in its `live_started` event, the settings it ran with (`config`: every `PM_*` value).
A window's recording (`live --record DIR`) replayed with those settings must give the
same decisions (posts, cancels), fills, expiries and settlement, field for field: the
engine and the trade loop are the same code and time comes only from the frames.

Windows are compared one by one, in the order of the recording. A window live watched
without trading is replayed without trading. A window that has no resolution (the run
stopped first) is compared up to its last recorded update: what live did after that
(timers run at shutdown) is not in the recording.

A real (or dry) run logs its venue's events (`real_*`) instead of the engine's: its
windows are compared fill by fill by `pk8opt.backtest.compare_real` instead.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pk8opt.backtest.replay import drive_events, run_session
from pk8opt.backtest.replay_handle import session_cache
from pk8opt.engine.eventlog import EventLog
from pk8opt.engine.feed import FeedClock, frame_times
from pk8opt.errors import ConfigError
from pk8opt.strategies import get_strategy
from pk8opt.trading.run_config import RunConfig
from pk8opt.trading.runlog import EVENTS_LOG_NAME
from pk8opt.trading.stepper import SessionStepper

if TYPE_CHECKING:
    from pk8opt.backtest.session_cache import ReplaySession

DECISIONS = ("paper_order_submit", "paper_order_cancel_req")
ENGINE_PREFIX = "paper_"
REAL_PREFIX = "real_"


@dataclass
class LiveWindow:
    """What the live log says about one window: how it ran, and its engine events
    (a real or dry run's window: `real`, with its venue's events in `real_events`)."""

    slug: str
    config_env: dict[str, str] | None
    traded: bool = True
    events: list[dict[str, Any]] = field(default_factory=list)
    real: bool = False
    real_events: list[dict[str, Any]] = field(default_factory=list)
    winner: str | None = None  # its `market_resolved`


@dataclass
class WindowDiff:
    slug: str
    live: list[dict[str, Any]]
    replay: list[dict[str, Any]]
    at: int  # index of the first event that differs
    note: str = ""

    def lines(self) -> list[str]:
        out = [
            f"{self.slug}: live {_counts(self.live)}; replay {_counts(self.replay)}"
            + (f" ({self.note})" if self.note else "")
        ]
        if self.at >= 0:
            out.append(f"  first difference at event {self.at + 1}:")
            out.append(f"    live:   {_show(self.live, self.at)}")
            out.append(f"    replay: {_show(self.replay, self.at)}")
        return out


def read_live_log(log_dir: Path) -> dict[str, LiveWindow]:
    """The windows of every run in `<log_dir>/live_console_events.jsonl`, by slug."""
    path = Path(log_dir) / EVENTS_LOG_NAME
    if not path.is_file():
        raise ConfigError(
            f"{path}: no live event log there (give the --log-dir the live run wrote to)"
        )
    windows: dict[str, LiveWindow] = {}
    config: dict[str, str] | None = None
    run: list[LiveWindow] = []  # the windows of the current run
    real_run = False  # the current run logged `real_*` events (its venue's, or the broker's)
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            raise ConfigError(f"{path}:{lineno}: not a JSON line (a damaged log?)") from None
        name = str(ev.get("event", ""))
        if name == "live_started":
            raw = ev.get("config")
            config = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else None
            run, real_run = [], False
        elif name == "market_discovered":
            slug = str(ev.get("slug"))
            windows[slug] = LiveWindow(slug, config, bool(ev.get("traded", True)), real=real_run)
            run.append(windows[slug])
        elif name == "market_resolved" and str(ev.get("slug")) in windows:
            windows[str(ev.get("slug"))].winner = str(ev.get("winner"))
        elif name.startswith(REAL_PREFIX):
            real_run = True
            for known in run:
                known.real = True
            slug = str(ev.get("slug") or "")
            if slug:  # the broker's own events (start, balance, stop) name no window
                if slug not in windows:
                    windows[slug] = LiveWindow(slug, config)
                    run.append(windows[slug])
                windows[slug].real = True
                windows[slug].real_events.append(ev)
        elif name.startswith(ENGINE_PREFIX):
            slug = str(ev.get("slug"))
            win = windows.get(slug)
            if win is None:
                win = windows[slug] = LiveWindow(slug, config)
            win.events.append(ev)
    return windows


def replay_events(session: ReplaySession, config: Any, traded: bool) -> list[dict[str, Any]]:
    """The engine events a replay of one recorded window writes, as live writes them."""

    if not traded:
        config = config.updated({"trade_enabled": False})
    buf = io.StringIO()
    log = EventLog(buf)
    if session.manifest.resolution.outcome in ("Up", "Down"):
        strategy = get_strategy(config.strategy)(**config.strategy_params)
        run_session(session, strategy, config, log=log, mode="events")
    elif session.n_events:
        drive_events(session, SessionStepper(session.manifest, config, log))
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def compare(
    sessions: Iterable[ReplaySession], windows: dict[str, LiveWindow], env_override: Any = None
) -> list[WindowDiff]:
    """Replay each recorded window with its live run's settings; the windows that differ."""

    diffs = []
    for session in sessions:
        win = windows.get(session.slug)
        if win is None:
            diffs.append(WindowDiff(session.slug, [], [], -1, "not in the live log"))
            continue
        if env_override is not None:
            config = env_override
        elif win.config_env is None:
            raise ConfigError(
                f"{session.slug}: the live run did not log its settings (a log from before "
                "they were kept); give them with --env-file"
            )
        else:
            config = RunConfig.from_env(win.config_env, where="the live run's settings")
        replay = replay_events(session, config, win.traded)
        live = win.events
        if session.manifest.resolution.outcome not in ("Up", "Down"):
            last = _last_update_ns(session, config)
            live = [e for e in live if int(e.get("ts_ns", 0)) <= last]
            replay = [e for e in replay if int(e.get("ts_ns", 0)) <= last]
        if live != replay:
            at = next(
                (i for i, (a, b) in enumerate(zip(live, replay, strict=False)) if a != b),
                min(len(live), len(replay)),
            )
            diffs.append(WindowDiff(session.slug, live, replay, at))
    return diffs


def _last_update_ns(session: ReplaySession, config: Any) -> int:

    cache = session_cache(session)
    times = frame_times(
        FeedClock.from_params(config.engine_params), cache.frame_time, cache.frame_exch_ms
    )
    return times[-1] if times else 0


def _counts(events: list[dict[str, Any]]) -> str:
    decisions = sum(1 for e in events if e.get("event") in DECISIONS)
    fills = sum(1 for e in events if e.get("event") == "paper_fill")
    return f"{len(events)} events ({decisions} decisions, {fills} fills)"


def _show(events: list[dict[str, Any]], i: int) -> str:
    if i >= len(events):
        return "(nothing more)"
    e = events[i]
    skip = {"event", "ts", "ts_ns", "slug", "symbol"}
    rest = " ".join(f"{k}={v}" for k, v in e.items() if k not in skip)
    return f"{e.get('ts', '')} {e.get('event')} {rest}"
