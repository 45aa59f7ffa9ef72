"""`pk8opt live --real` against `pk8opt serve` taking orders, over real sockets and HTTP.

The fake venue fills by its own rules (`pk8opt/fakepm/fills.py`); the runner posts and
cancels through Polymarket's own client (`py_clob_client_v2`) with a throwaway key. Each
test reads the venue's own counters and accounts (`GET /_stats`) against the run's log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from support.live import BIN, LEAD, START, clean_env, duration_for, serve_env

from pk8opt.recordings.manifest import read_manifest

pytest.importorskip("py_clob_client_v2")
eth_account = pytest.importorskip("eth_account")
simulate = pytest.importorskip("pk8opt.simulate")

BASE_ENV = "PM_STRATEGY=balanced_arb\nPM_WATCHLIST=BTC:5m\nPM_TRADELIST=BTC:5m\n"
REAL = "PM_PAPER_TRADING=0\nPM_DRY_RUN=0\n"


class Served:
    """`pk8opt serve` of two simulated 5-minute windows, taking orders."""

    def __init__(self, tmp_path: Path, speed: float, venue_params: list[str]) -> None:
        src = tmp_path / "served"
        folders = [
            simulate.simulate_session(src, "BTC", START + i * 300, seed=7, timeframe="5m")
            for i in range(2)
        ]
        self.manifests = [read_manifest(f) for f in folders]
        params = [a for p in venue_params for a in ("--venue-param", p)]
        # the same wall time before the first frame at every speed (LEAD is at 60x)
        self.lead = LEAD * speed / 60
        self.proc = subprocess.Popen(
            [str(BIN / "pk8opt"), "serve", str(src), "--now", "--speed", str(speed)]
            + ["--port", "0", "--lead", str(self.lead), *params],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        self.env = serve_env(self.proc)
        assert "PK8_CLOB_URL" in self.env and "PK8_USER_WS_URL" in self.env

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.env["PK8_CLOB_URL"] + "/_stats", timeout=30) as r:
            return json.loads(r.read())

    def fault(self, what: str) -> None:
        with urllib.request.urlopen(self.env["PK8_GAMMA_URL"] + what, timeout=30) as r:
            r.read()

    def token_ids(self) -> dict[tuple[str, str], str]:
        out = {}
        for m in self.manifests:
            out[(m.slug, "Up")], out[(m.slug, "Down")] = m.token_up, m.token_down
        return out

    def stop(self) -> str:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        return out


@pytest.fixture
def key() -> str:
    return "0x" + eth_account.Account.create().key.hex().removeprefix("0x")


def address_of(key: str) -> str:
    return eth_account.Account.from_key(key).address.lower()


def env_file(tmp_path: Path, key: str, lines: str) -> Path:
    path = tmp_path / "real.env"
    path.write_text(BASE_ENV + lines + f"PM_PRIVATE_KEY={key}\n")
    path.chmod(0o600)  # a file holding the key is refused when others can read it
    return path


def live_args(tmp_path: Path, env_path: Path, duration_s: float, *extra: str) -> list[str]:
    return [
        str(BIN / "pk8opt"),
        "live",
        "--env-file",
        str(env_path),
        "--headless",
        "--duration",
        str(duration_s),
        "--log-dir",
        str(tmp_path / "logs"),
        *extra,
    ]


def events_of(tmp_path: Path) -> list[dict[str, Any]]:
    text = (tmp_path / "logs" / "live_console_events.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_for_line(proc: subprocess.Popen[str], needle: str) -> list[str]:
    """Lines of the run's stdout up to the first holding `needle` (one per event)."""
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never came; the run said: {''.join(seen)[-3000:]}")


def wait_until(check: Any, what: str, timeout_s: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def held_by_log(events: list[dict[str, Any]], tokens: dict[tuple[str, str], str]) -> dict:
    """Shares per token id: every real fill, less those the venue took back."""
    held: dict[str, float] = defaultdict(float)
    fills = {}
    for e in events:
        if e["event"] == "real_fill":
            fills[(e["trade_id"], e["venue_order_id"])] = e
            held[tokens[(e["slug"], e["outcome"])]] += e["qty"]
        elif e["event"] == "real_trade_failed":
            f = fills[(e["trade_id"], e["venue_order_id"])]
            held[tokens[(f["slug"], f["outcome"])]] -= f["qty"]
    return {t: q for t, q in held.items() if abs(q) > 1e-9}


@pytest.mark.slow
def test_a_real_run_posts_fills_cancels_and_ends_holding_what_the_venue_holds(
    tmp_path: Path, key: str
) -> None:
    """A whole run of two windows; the user socket is cut after the first fill (the
    fills meanwhile come back by the REST reconcile). Nothing credential-like leaks."""
    served = Served(tmp_path, 60, ["heartbeat_timeout_s=0"])
    try:
        path = env_file(tmp_path, key, REAL)
        args = live_args(tmp_path, path, duration_for(served.manifests, served.lead), "--real")
        args += ["--record", str(tmp_path / "rec")]
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=served.env
        )
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        head = wait_for_line(proc, " real_fill ")
        served.fault("/_fault/drop?socket=user")
        rest, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        stats = served.stats()
    finally:
        serve_out = served.stop()
    events = events_of(tmp_path)
    names = [e["event"] for e in events]
    # orders posted, filled and cancelled at the venue, as the venue counts them
    assert names.count("real_order_open") == stats["posts_accepted"] > 0
    assert "real_order_cancelled" in names and stats["orders_cancelled"] > 0
    assert names.index("venue_started") < names.index("real_order_submit")
    # the socket was cut and came back; what we hold is what the venue says we hold
    sockets = [e for e in events if e["event"] == "real_socket" and e["state"] == "connected"]
    assert len(sockets) >= 2
    venue_held = {
        t: q for t, q in stats["accounts"][address_of(key)]["tokens"].items() if abs(q) > 1e-9
    }
    assert held_by_log(events, served.token_ids()) == pytest.approx(venue_held)
    # every exit cancels: nothing is left open, nothing failed to cancel
    assert stats["open_orders"] == 0
    assert [e["not_cancelled"] for e in events if e["event"] == "real_stop"] == [[]]
    # one metrics line per real fill, with the venue's ids and time
    metrics = [
        json.loads(line)
        for f in (tmp_path / "logs" / "real" / "metrics").glob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert len(metrics) == names.count("real_fill") > 0
    assert all(m["venue_order_id"].startswith("0x") and m["trade_id"] for m in metrics)
    # `compare` replays the recording on paper and sets every real fill against it
    cmp = subprocess.run(
        [str(BIN / "pk8opt"), "compare", str(tmp_path / "rec"), "--log-dir"]
        + [str(tmp_path / "logs"), "--json"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
    )
    assert cmp.returncode == 0, cmp.stderr[-3000:]
    windows = json.loads(cmp.stdout)["windows"]
    assert {w["slug"] for w in windows} == {m.slug for m in served.manifests}
    real_fills = sum(len(w["matched"]) + len(w["real_only"]) for w in windows)
    assert real_fills == names.count("real_fill") - names.count("real_trade_failed")
    # the venue fills by its own rules: paper and reality part somewhere
    assert any(w["real_only"] or w["paper_only"] for w in windows)
    # the credentials are nowhere: argv, stdout, stderr, logs, metrics, recordings
    bare = key.removeprefix("0x")
    assert bare not in cmdline
    texts = [cmdline, "".join(head), rest, err, serve_out, cmp.stdout, cmp.stderr]
    texts += [p.read_text(errors="replace") for p in tmp_path.rglob("*") if _readable(p)]
    assert not [t for t in texts if bare in t or bare.upper() in t.upper()]


def _readable(path: Path) -> bool:
    return path.is_file() and path.name != "real.env" and path.suffix != ".zst"


@pytest.mark.slow
def test_sigterm_cancels_everything_and_a_restart_cancels_what_kill_9_left(
    tmp_path: Path, key: str
) -> None:
    """SIGTERM: every open order cancelled before the run ends. `kill -9`: nothing
    runs, the orders stay at the venue (its heartbeat timeout is off here); the next
    run lists and cancels them before it quotes."""
    # fills rare (a whole displayed queue ahead, no trade-through): orders left resting
    # by the killed run are still resting when the next run starts
    quiet = ["queue_frac=1", "trade_through=0", "decrease_fills=0"]
    served = Served(tmp_path, 2, ["heartbeat_timeout_s=0", *quiet])
    try:
        path = env_file(tmp_path, key, REAL)
        args = live_args(tmp_path, path, 600, "--real")
        env = served.env
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        wait_for_line(proc, " real_order_open ")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        events = events_of(tmp_path)
        kill = [e for e in events if e["event"] == "kill"]
        assert kill and kill[0]["reason"] == "SIGTERM"
        assert [e["not_cancelled"] for e in events if e["event"] == "real_stop"] == [[]]
        assert served.stats()["open_orders"] == 0

        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        wait_for_line(proc, " real_order_open ")
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        left = served.stats()["open_orders"]
        assert left > 0  # no handler ran: the orders rest at the venue
        killed = {
            e["venue_order_id"] for e in events_of(tmp_path) if e["event"] == "real_order_open"
        }

        (tmp_path / "logs" / "live_console_events.jsonl").unlink()
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        wait_for_line(proc, " real_order_submit ")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        served_open = served.stats()["open_orders"]
    finally:
        served.stop()
    events = events_of(tmp_path)
    names = [e["event"] for e in events]
    started = next(e for e in events if e["event"] == "venue_started")
    # what the killed run left (less what filled meanwhile), each cancelled before quoting
    assert 0 < len(started["orphans"]) <= left
    assert set(started["orphans"]) <= killed
    assert started["orphans_cancelled"] == len(started["orphans"])
    assert names.index("venue_started") < names.index("real_order_submit")
    assert served_open == 0


@pytest.mark.slow
def test_the_venue_cancels_a_silent_clients_orders(tmp_path: Path, key: str) -> None:
    """Against a death no handler sees, the run's heartbeats: once they stop, the venue
    cancels its orders (here after 2 s)."""
    served = Served(tmp_path, 2, ["heartbeat_timeout_s=2"])
    try:
        path = env_file(tmp_path, key, REAL)
        proc = subprocess.Popen(
            live_args(tmp_path, path, 600, "--real"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=served.env,
        )
        wait_for_line(proc, " real_order_open ")
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        assert served.stats()["heartbeats"] > 0
        # the window runs 150 s of wall time more: only the heartbeat cancels before
        wait_until(lambda: served.stats()["open_orders"] == 0, "the venue's cancel", 100)
    finally:
        served.stop()


@pytest.mark.slow
def test_the_daily_loss_limit_cancels_all_and_stops_quoting(tmp_path: Path, key: str) -> None:
    # a loss for certain: nothing queued ahead of our orders (the first trade at a price
    # we bid fills us), and only the token that loses the first window is bought, so its
    # settlement (if no mark before it) takes the run past the limit
    served = Served(tmp_path, 60, ["heartbeat_timeout_s=0", "queue_frac=0"])
    try:
        loser = "down" if served.manifests[0].resolution.outcome == "Up" else "up"
        path = tmp_path / "real.env"
        path.write_text(
            f"PM_STRATEGY=join\nPM_JOIN_TOKEN={loser}\nPM_WATCHLIST=BTC:5m\n"
            f"PM_TRADELIST=BTC:5m\n{REAL}PM_DAILY_LOSS_LIMIT=0.01\nPM_PRIVATE_KEY={key}\n"
        )
        path.chmod(0o600)
        proc = subprocess.run(
            live_args(tmp_path, path, duration_for(served.manifests, served.lead), "--real"),
            capture_output=True,
            text=True,
            env=served.env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        stats = served.stats()
    finally:
        served.stop()
    events = events_of(tmp_path)
    names = [e["event"] for e in events]
    assert "real_halt" in names and "quoting_halted" in names
    halt = names.index("real_halt")
    after = events[halt + 1 :]
    # no order leaves after the halt: each one asked for is refused, naming it
    asked = {(e["slug"], e["order_id"]) for e in after if e["event"] == "real_order_submit"}
    refused = {
        (e["slug"], e["order_id"]): e["reason"]
        for e in after
        if e["event"] == "real_order_rejected" and (e["slug"], e["order_id"]) in asked
    }  # (a post already on its way may be refused by the venue after the halt)
    assert asked == set(refused) and all(r.startswith("halted") for r in refused.values())

    # an order whose post was on its way at the halt is cancelled once it opens (the
    # cancel leaves at once; the venue may have filled it before the cancel landed)
    def ids(name: str, why: str = "") -> set[tuple[str, int]]:
        return {
            (e["slug"], e["order_id"])
            for e in after
            if e["event"] == name and why in str(e.get("why", ""))
        }

    opened = ids("real_order_open")
    assert opened <= ids("real_order_cancel_sent")
    assert opened <= ids("real_order_cancelled") | ids("real_order_cancel_failed", "matched")
    assert stats["open_orders"] == 0
    assert "HALTED" not in proc.stdout  # headless: one line per event, no screen


@pytest.mark.slow
def test_a_dry_run_signs_and_logs_every_order_and_sends_none(tmp_path: Path, key: str) -> None:
    served = Served(tmp_path, 60, [])
    try:
        path = env_file(tmp_path, key, "PM_PAPER_TRADING=0\n")
        proc = subprocess.run(
            live_args(tmp_path, path, served.lead + 200),
            capture_output=True,
            text=True,
            env=served.env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        stats = served.stats()
    finally:
        served.stop()
    assert stats["posts_received"] == 0 and stats["cancels_received"] == 0
    events = events_of(tmp_path)
    submits = [e for e in events if e["event"] == "real_order_submit"]
    refused = {(e["slug"], e["order_id"]) for e in events if e["event"] == "real_order_rejected"}
    dry = [e for e in events if e["event"] == "real_order_dry_run"]
    assert submits and len(dry) == len(submits) - len(refused)
    assert all(d["tokenId"] and d["makerAmount"] and "signature" not in d for d in dry)
    assert "real_fill" not in {e["event"] for e in events}
    # a signed order rests locally, never at the venue
    opened = [e for e in events if e["event"] == "real_order_open"]
    assert opened and all(
        e["venue_status"] == "dry_run" and e["venue_order_id"] is None for e in opened
    )
    assert "dry run" in proc.stderr  # the summary names the mode
