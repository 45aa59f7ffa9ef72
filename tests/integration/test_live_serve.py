"""`pk8opt live --headless` against `pk8opt serve` of simulated sessions, over real sockets.

Two consecutive 5-minute BTC windows are simulated and served at high speed; the runner
must discover the first, roll over to the second, settle each when its resolution
arrives, write its logs and record what it received as sessions the backtest can read.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.live import (
    BIN,
    clean_env,
    duration_for,
    run_live,
    served,  # noqa: F401  (a fixture)
    serving,
    simulate_windows,
)

from pk8opt.recordings.manifest import Resolution, read_manifest
from pk8opt.recordings.raw import FrameWriter, frames_path, read_frames
from pk8opt.recordings.session import finish_session


@pytest.mark.slow
def test_discovers_rolls_over_settles_and_records(tmp_path: Path, served) -> None:  # noqa: F811
    env, manifests = served
    proc, events = run_live(tmp_path, env, duration_for(manifests))
    names = [e["event"] for e in events]
    slugs = [m.slug for m in manifests]
    discovered = [e["slug"] for e in events if e["event"] == "market_discovered"]
    assert discovered == slugs  # the first window, then the rollover to the next
    resolved = {e["slug"]: e["winner"] for e in events if e["event"] == "market_resolved"}
    assert resolved == {m.slug: m.resolution.outcome for m in manifests}
    assert names[0] == "live_started" and names[-1] == "live_stopped"
    assert "feed_connected" in names
    # the paper engine quoted, filled and settled each window
    assert "paper_order_submit" in names and "paper_fill" in names
    assert names.count("paper_settlement") == 2
    # one compact line per event on stdout
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == len(events)
    assert any(" market_resolved " in line for line in lines)
    # the recording is a finished session per window, in the recorder's format
    for m in manifests:
        rec = read_manifest(tmp_path / "live_rec" / m.slug)
        assert rec.status == "complete"
        assert rec.resolution.outcome == m.resolution.outcome
        assert (rec.token_up, rec.token_down) == (m.token_up, m.token_down)
        assert rec.counts.get("price_change", 0) > 0 and rec.frames > 100


@pytest.mark.slow
def test_dropped_connection_reconnects_and_marks_a_gap(tmp_path: Path, served) -> None:  # noqa: F811
    """The venue cuts the market socket once the runner trades on it (the drop is
    triggered by the runner's own events, not scheduled on a clock it may not reach)."""
    import urllib.request

    env, manifests = served
    env_file = tmp_path / ".env"
    env_file.write_text(
        "PM_STRATEGY=balanced_arb\nPM_WATCHLIST=BTC:5m\nPM_TRADELIST=BTC:5m\n"
        "PM_PAPER_TRADING=1\nPM_DRY_RUN=1\n"
    )
    args = ["--env-file", str(env_file), "--headless", "--log-dir", str(tmp_path / "logs")]
    args += ["--duration", str(duration_for(manifests)), "--record", str(tmp_path / "live_rec")]
    proc = subprocess.Popen(
        [str(BIN / "pk8opt"), "live", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    dropped = False
    for line in proc.stdout:  # one line per event
        if not dropped and " paper_order_submit " in line:  # market data flows
            url = env["PK8_GAMMA_URL"] + "/_fault/drop?socket=market"
            with urllib.request.urlopen(url, timeout=30) as answer:
                assert json.loads(answer.read())["dropped"] >= 1
            dropped = True
    assert proc.wait(timeout=120) == 0, proc.stderr.read()[-3000:]
    assert dropped
    events = [
        json.loads(line)
        for line in (tmp_path / "logs" / "live_console_events.jsonl").read_text().splitlines()
    ]
    names = [e["event"] for e in events]
    assert names.count("feed_disconnected") >= 1
    drop = names.index("feed_disconnected")
    assert "feed_connected" in names[drop:]  # reconnected after the drop
    rec = read_manifest(tmp_path / "live_rec" / manifests[0].slug)
    assert rec.gaps and rec.gaps[0].socket == "market"
    assert rec.counts.get("note:disconnected", 0) >= 1


ZERO_LATENCY = (
    "PM_PAPER_POST_LATENCY_MS=0\nPM_PAPER_CANCEL_REQ_LATENCY_MS=0\n"
    "PM_PAPER_CANCEL_CLEAR_LATENCY_MS=0\nPM_PAPER_FEED_CLOCK=local\n"
    "PM_PAPER_RESPONSE_LATENCY_MS=0\n"
)
# Paper-engine settings the agreement is checked under: time advances only with frames,
# so latencies (post, cancel, feed on the venue clock, responses), queue position and
# seeded maker flow act alike in live and in replay.
PAPER = {
    "zero-latency": ZERO_LATENCY,
    "default-latency": "",
    "slow-queue-flow": (
        "PM_PAPER_POST_LATENCY_MS=400\nPM_PAPER_CANCEL_REQ_LATENCY_MS=150\n"
        "PM_PAPER_CANCEL_CLEAR_LATENCY_MS=300\nPM_PAPER_QUEUE_ADD_AHEAD_FRAC=0.5\n"
        "PM_PAPER_MAKER_FLOW=1\nPM_PAPER_FEED_LATENCY_MS=150\n"
        "PM_PAPER_RESPONSE_LATENCY_MS=250\n"
    ),
}
POST_LATENCY_MS = {"zero-latency": 0, "default-latency": 50, "slow-queue-flow": 400}
RUNNER_EVENTS = {
    "live_started",
    "live_stopped",
    "market_discovered",
    "market_resolved",
    "feed_connected",
    "feed_disconnected",
    "discovery_failed",
    "resolution_missing",
    "quoting_paused",
    "quoting_resumed",
}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.parametrize("paper", list(PAPER), ids=list(PAPER))
def test_replay_of_the_live_recording_takes_the_same_decisions_and_fills(
    tmp_path: Path,
    served,  # noqa: F811
    paper: str,
) -> None:
    env, manifests = served
    _, live_events = run_live(tmp_path, env, duration_for(manifests), env_lines=PAPER[paper])
    live_engine = [e for e in live_events if e["event"] not in RUNNER_EVENTS]
    names = [e["event"] for e in live_engine]
    assert "paper_order_submit" in names and "paper_fill" in names
    assert "paper_order_cancelled" in names
    assert names.count("paper_settlement") == 2
    # the settings took effect live: no order rests before its post latency has passed
    submitted = {
        (e["slug"], e["order_id"]): e["ts_ns"]
        for e in live_engine
        if e["event"] == "paper_order_submit"
    }
    waits_ms = [
        (e["ts_ns"] - submitted[e["slug"], e["order_id"]]) / 1e6
        for e in live_engine
        if e["event"] == "paper_order_open"
    ]
    assert waits_ms and min(waits_ms) >= POST_LATENCY_MS[paper]
    (live_metrics_path,) = (tmp_path / "logs" / "paper" / "metrics").glob("live-*.jsonl")
    live_metrics = read_jsonl(live_metrics_path)
    assert len(live_metrics) == names.count("paper_fill")

    assert_replay_agrees(tmp_path, manifests, live_engine, live_metrics)


def assert_replay_agrees(
    tmp_path: Path, manifests: list, live_engine: list[dict], live_metrics: list[dict]
) -> None:
    """The recording of the live run in `tmp_path`, replayed with the same .env in each
    mode, takes the same decisions and fills as live did."""
    from pk8opt.backtest.replay import run_backtest
    from pk8opt.live.keys import read_env_file
    from pk8opt.recordings.load import load_sessions
    from pk8opt.trading.run_config import RunConfig

    # the same .env, the recording of the live run
    config = RunConfig.from_env(read_env_file(tmp_path / ".env"))
    sessions = load_sessions([tmp_path / "live_rec"])
    assert [s.slug for s in sessions] == [m.slug for m in manifests]
    for mode in ("fast", "events"):
        out = tmp_path / f"replay_{mode}"
        out.mkdir()
        run_backtest(
            sessions,
            config,
            event_log=out / "events.jsonl",
            metrics_log=out / "metrics.jsonl",
            mode=mode,  # type: ignore[arg-type]
        )
        replay_engine = read_jsonl(out / "events.jsonl")
        # Live windows overlap (the next one trades while the last awaits its
        # resolution); replay runs them one after the other: compare window by window.
        # Every decision (submit, cancel), fill, expiry and settlement, field for field.
        assert by_slug(replay_engine) == by_slug(live_engine), mode
        assert by_slug(read_jsonl(out / "metrics.jsonl")) == by_slug(live_metrics), mode


def drop_market_resolved(folder: Path) -> None:
    """The session as recorded without custom features: no `market_resolved`; the
    winner, from Gamma, is known when Gamma shows the market closed (as before)."""
    m = read_manifest(folder)
    path = frames_path(folder)
    assert path is not None
    frames = read_frames(path)[0]
    path.unlink()
    writer = FrameWriter(folder)
    for f in frames:
        if not (f.ch == "market" and '"market_resolved"' in f.raw):
            writer.write(f.t, f.ch, f.raw, f.src)
    writer.close()
    known = Resolution(m.resolution.outcome, "gamma", m.resolution.known_at_ns)
    finish_session(folder, m, resolution=known)


@pytest.mark.slow
def test_a_window_settled_from_gamma_replays_the_same(tmp_path: Path) -> None:
    """Without `market_resolved` the runner learns each winner from a Gamma poll, some
    time after the window's last frame: the replay of its recording must still settle
    as live did. (With `market_resolved` on, Gamma answers closed at the moment that
    frame is sent, and which of the two the runner reads first is a race.)"""
    src = tmp_path / "served"
    folders = simulate_windows(src)
    for folder in folders:
        drop_market_resolved(folder)
    manifests = [read_manifest(f) for f in folders]
    with serving(src) as env:
        _, live_events = run_live(tmp_path, env, duration_for(manifests), env_lines=ZERO_LATENCY)
    resolved = [(e["slug"], e["source"]) for e in live_events if e["event"] == "market_resolved"]
    assert resolved == [(m.slug, "gamma") for m in manifests]
    live_engine = [e for e in live_events if e["event"] not in RUNNER_EVENTS]
    names = [e["event"] for e in live_engine]
    assert "paper_fill" in names and names.count("paper_settlement") == 2
    (live_metrics_path,) = (tmp_path / "logs" / "paper" / "metrics").glob("live-*.jsonl")
    assert_replay_agrees(tmp_path, manifests, live_engine, read_jsonl(live_metrics_path))


def by_slug(events: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in events:
        out.setdefault(e["slug"], []).append(e)
    return out


def compare_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pk8opt"), "compare", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
    )


@pytest.mark.slow
def test_compare_finds_a_live_run_identical_to_its_replay_and_shows_a_difference(
    tmp_path: Path,
    served,  # noqa: F811
) -> None:
    env, manifests = served
    paper = PAPER["slow-queue-flow"]
    run_live(tmp_path, env, duration_for(manifests), env_lines=paper)
    rec, logs = str(tmp_path / "live_rec"), str(tmp_path / "logs")
    same = compare_cli(rec, "--log-dir", logs)
    assert (same.returncode, same.stdout, same.stderr) == (0, "", "")
    # replayed with other settings than live ran with: the windows that traded differ
    other = tmp_path / "other.env"
    other.write_text((tmp_path / ".env").read_text() + "PM_PAPER_POST_LATENCY_MS=5\n")
    diff = compare_cli(rec, "--log-dir", logs, "--env-file", str(other))
    assert diff.returncode == 1, diff.stderr
    assert any(diff.stdout.startswith(f"{m.slug}: live ") for m in manifests)
    assert "first difference at event" in diff.stdout and "Traceback" not in diff.stderr
    # a fill the replay does not make (a log edited by hand) is found in its window
    log = tmp_path / "logs" / "live_console_events.jsonl"
    lines = log.read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if '"paper_fill"' in line)
    fill = json.loads(lines[i])
    fill["qty"] = fill["qty"] + 1.0
    lines[i] = json.dumps(fill)
    log.write_text("\n".join(lines) + "\n")
    edited = compare_cli(rec, "--log-dir", logs)
    assert edited.returncode == 1
    assert edited.stdout.startswith(f"{fill['slug']}: live ")
    assert len([x for x in edited.stdout.splitlines() if ": live " in x]) == 1
    missing = compare_cli(rec, "--log-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "live_console_events.jsonl" in missing.stderr
    assert "Traceback" not in missing.stderr
