"""Planted truth against the fake venue: `pk8opt serve` fills by its own rules with a post
latency and a queue position pk8opt is not told (`--venue-param`); `pk8opt live --real
--record` trades against it through Polymarket's client; `pk8opt calibrate` on that run's
log and recording finds them again, and the calibrated engine predicts the held-out
windows' fills better than the defaults.

The venue counts a post's latency from the order's own signing time (its v2
`timestamp`), so that the wall time the client spends signing and sending, multiplied by
the served clock's speed, does not blur it (docs/serve.md); the run logs that time
(`real_order_sent`) and calibrate replays each order from it.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
from mlflow import MlflowClient
from support.live import BIN, START, clean_env, duration_for, serve_env

from pk8opt.recordings.manifest import read_manifest

pytest.importorskip("py_clob_client_v2")
eth_account = pytest.importorskip("eth_account")
simulate = pytest.importorskip("pk8opt.simulate")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

# the served clock's speed: a post's 800 venue ms are 67 wall ms, time enough for the
# client to sign and send it on a busy machine (a later one meets the book on arrival)
SPEED = 12
N_WINDOWS = 10
HIDDEN = {"post_latency_ms": 800.0, "queue_frac": 0.4}
# the venue's rules the engine shares: a fall of a level no trade explains is cancels
# (the size ahead shrinks pro rata), not fills
RULES = {"decrease_fills": 0}
# a market where the queue decides: levels of ~100 shares, takers of ~80 (the simulator's
# default levels of ~600 shares are rarely traded through, so nothing tells where in the
# queue an order stood)
MARKET = {"level_size_median": 100.0, "trade_size_median": 80.0, "trade_rate": 0.3}
# every parameter but the queue add-ahead: the venue matches by price, then time (size
# added after an order queues behind it, the engine's default), as Polymarket does
FIT = ("post_latency_ms", "cancel_latency_ms", "response_latency_ms", "trade_through_volume")
FIT += ("queue_ahead_frac", "maker_flow", "flow_base")
# balanced_arb joining the best bid on both legs (no extra tick on the lagging one, which
# rests alone at a new price), so that its orders queue; the limits raised so that it
# trades what it asks for (the defaults refuse most of its orders: calibration wants many)
ENV = (
    "PM_STRATEGY=balanced_arb\nPM_WATCHLIST=BTC:5m\nPM_TRADELIST=BTC:5m\n"
    "PM_ARB_LAG_BOOST_TICKS=0\n"
    "PM_PAPER_TRADING=0\nPM_DRY_RUN=0\n"
    "PM_MAX_WINDOW_NOTIONAL=100000\nPM_MAX_EXPOSURE=100000\nPM_DAILY_LOSS_LIMIT=100000\n"
)


def _serve(src: Path, lead: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    params = [f"{k}={v:g}" for k, v in HIDDEN.items()] + ["heartbeat_timeout_s=0"]
    params += [f"{k}={v}" for k, v in RULES.items()]
    params += ["balance_usdc=100000"]
    proc = subprocess.Popen(
        [str(BIN / "pk8opt"), "serve", str(src), "--now", "--speed", str(SPEED)]
        + ["--port", "0", "--lead", str(lead)]
        + [a for p in params for a in ("--venue-param", p)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    return proc, serve_env(proc)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    """The real run against the venue, then calibrate on it: (calibrate's JSON, the venue's
    counters, the folder)."""
    tmp = tmp_path_factory.mktemp("venue_truth")
    src = tmp / "served"
    manifests = [
        read_manifest(
            simulate.simulate_session(
                src, "BTC", START + i * 300, seed=11 + i, timeframe="5m", **MARKET
            )
        )
        for i in range(N_WINDOWS)
    ]
    lead = 5.0 * SPEED  # 5 s of wall time before the first frame
    key = "0x" + eth_account.Account.create().key.hex().removeprefix("0x")
    path = tmp / "real.env"
    path.write_text(ENV + f"PM_PRIVATE_KEY={key}\n")
    path.chmod(0o600)
    proc, env = _serve(src, lead)
    try:
        done = subprocess.run(
            [str(BIN / "pk8opt"), "live", "--env-file", str(path), "--headless", "--real"]
            + ["--duration", str(duration_for(manifests, lead))]
            + ["--log-dir", str(tmp / "logs"), "--record", str(tmp / "rec")],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        with urllib.request.urlopen(env["PK8_CLOB_URL"] + "/_stats", timeout=30) as r:
            stats = json.loads(r.read())
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    cal = subprocess.run(
        [str(BIN / "pk8opt"), "calibrate", "--log", str(tmp / "logs"), "--recording"]
        + [str(tmp / "rec"), "--out", str(tmp / "out"), "--json", "--fit", ",".join(FIT)]
        + ["--trials", "150"]
        + ["--tracking-uri", f"sqlite:///{tmp / 'mlflow.db'}"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=tmp,
        timeout=1200,
    )
    assert cal.returncode == 0, cal.stderr[-3000:]
    (tmp / "calibrate.json").write_text(cal.stdout)
    (tmp / "stats.json").write_text(json.dumps(stats))
    return json.loads(cal.stdout), stats, tmp


def test_the_venues_hidden_parameters_are_found_again(run) -> None:
    doc, stats, _ = run
    got = {p["name"]: p for p in doc["parameters"]}
    late = f"{stats['posts_late']} of {stats['posts_accepted']} posts reached the venue late"
    post = got["post_latency_ms"]
    assert post["value"] == pytest.approx(HIDDEN["post_latency_ms"], rel=0.2), (post, late)
    assert post["identified"]
    queue = got["queue_ahead_frac"]
    assert queue["value"] == pytest.approx(HIDDEN["queue_frac"], abs=0.1), queue
    # the venue's own rules, found too: no flow beyond the recorded trades; a trade
    # through an order fills only its volume (when the run's orders tell: few rest better
    # than a trade when they join the best bid)
    assert got["maker_flow"]["value"] is False
    through = got["trade_through_volume"]
    assert through["value"] is True or not through["identified"], through
    # what is written adds the run's own delay from deciding to sending
    env = {e["name"]: e["value"] for e in doc["pm_paper"]}
    delay = doc["client_delay_ms"]["median"]
    assert delay > 0
    assert env["PM_PAPER_POST_LATENCY_MS"] == pytest.approx(post["value"] + delay, abs=0.2)


def test_the_calibrated_engine_predicts_held_out_windows_better(run) -> None:
    doc, _, _ = run
    held = doc["holdout"]
    assert held["windows"] >= 2 and held["calibrated"]["orders"] > 50
    assert held["calibrated"]["score"] < 0.5 * held["defaults"]["score"], held
    assert held["calibrated"]["real_filled"] > 0


def test_the_mlflow_run_holds_the_report_and_plots(run) -> None:
    doc, _, tmp = run
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    r = client.get_run(doc["mlflow_run_id"])
    assert r.info.status == "FINISHED" and r.data.tags["pk8opt.role"] == "calibrate"
    names = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert {"reliability.png", "time_to_fill.png", "pnl_per_window.png"} <= names
    assert {"calibration.json", "calibration.env", "engine.yaml"} <= names
