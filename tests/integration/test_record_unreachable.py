"""An unreachable venue is said at once: every failed attempt is an event with its cause
and the next try, on the status display and in the log; the run ends saying why."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from support.record_cli import start_serve
from support.recorder import START, Events, config, notes, run_with_fault, serving

from pk8opt.fakepm.broken import Silent, Slammer, StatusServer, closed_port
from pk8opt.fakepm.build import fixture_session
from pk8opt.polymarket.endpoints import Endpoints, VenueClock
from pk8opt.polymarket.sockets import LiveSocket
from pk8opt.record import RecordConfig, Recorder

PK8 = str(Path(sys.executable).with_name("pk8opt"))
CAUSES = {
    "refused": "connection refused",
    "silent": "no answer within 0.5 s",
    "503": "HTTP 503 Service Unavailable",
}


async def wait_for(cond: Callable[[], object], limit_s: float = 30.0) -> None:
    async with asyncio.timeout(limit_s):  # a failure limit, not a pace
        while not cond():
            await asyncio.sleep(0.01)


@asynccontextmanager
async def broken(kind: str) -> AsyncIterator[Callable[[str, str], str]]:
    """An endpoint that fails the `kind` way; yields `url(scheme, path)`."""
    if kind == "refused":
        port = closed_port()
        yield lambda scheme, path: f"{scheme}://127.0.0.1:{port}{path}"
        return
    server = Silent() if kind == "silent" else StatusServer(503)
    async with server:
        yield server.url


@pytest.mark.parametrize("kind", list(CAUSES))
def test_gamma_failures_are_events_at_once_and_the_reason_at_the_end(
    tmp_path: Path, kind: str
) -> None:
    from rich.console import Console

    from pk8opt.record.status import StatusView

    async def main() -> tuple[Recorder, Events, str]:
        async with broken(kind) as url:
            log = Events()
            port = closed_port()
            cfg = RecordConfig(
                ["BTC"],
                timeframe="5m",
                out=tmp_path / "out",
                timeout_s=0.5,
                endpoints=Endpoints(
                    url("http", ""), f"ws://127.0.0.1:{port}/ws", f"ws://127.0.0.1:{port}/l"
                ),
            )
            rec = Recorder(cfg, log)
            task = asyncio.create_task(rec.run())
            await wait_for(lambda: log.named("connect_failed", endpoint="gamma"))
            console = Console(record=True, width=200)
            console.print(StatusView(rec).links_table())
            rec.stop_event.set()
            await asyncio.wait_for(task, 15)
            return rec, log, console.export_text()

    rec, log, screen = asyncio.run(main())
    first = log.named("connect_failed", endpoint="gamma")[0]
    assert first["error"] == CAUSES[kind] and first["attempt"] == 1
    assert first["next_try_in_s"] > 0 and re.fullmatch(r"\d\d:\d\d:\d\d", first["next_try_at"])
    gamma_row = next(line for line in screen.splitlines() if line.startswith("Gamma"))
    assert "retrying since" in gamma_row and CAUSES[kind] in gamma_row
    assert not rec.reached_venue
    assert re.search(rf"Gamma unreachable for \d+ s: {CAUSES[kind]}", rec.closing_line())


@pytest.mark.parametrize("kind", list(CAUSES))
def test_socket_failures_are_events_for_both_sockets(
    tmp_path: Path, fixtures_dir: Path, kind: str
) -> None:
    src = tmp_path / "src"
    fixture_session(src, fixtures_dir, "BTC", START, "5m", first_offset_s=0.5, repeat=3)

    async def main() -> Events:
        async with serving([src]) as server, broken(kind) as url:
            log = Events()
            cfg = config(server, tmp_path / "out", ["BTC"], timeout_s=0.5)
            cfg.endpoints = Endpoints(
                cfg.endpoints.gamma_url, url("ws", "/ws/market"), url("ws", "/live")
            )
            rec = Recorder(cfg, log)
            task = asyncio.create_task(rec.run())
            await wait_for(
                lambda: (
                    log.named("connect_failed", endpoint="market")
                    and log.named("connect_failed", endpoint="live")
                )
            )
            rec.stop_event.set()
            await asyncio.wait_for(task, 15)
            return log

    log = asyncio.run(main())
    for endpoint in ("market", "live"):
        failure = log.named("connect_failed", endpoint=endpoint)[0]
        assert failure["error"] == CAUSES[kind], failure
        assert failure["attempt"] == 1 and failure["next_try_in_s"] > 0
    assert not log.named("connect_failed", endpoint="gamma")


def _record_cli(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PK8_")}
    return subprocess.run(
        [PK8, "record", "--symbols", "BTC", "--out", str(tmp_path / "out"), "--quiet", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_a_run_that_never_reached_the_venue_says_why_and_fails(tmp_path: Path) -> None:
    port = closed_port()
    proc = _record_cli(
        tmp_path,
        "--duration",
        "1",
        "--gamma-url",
        f"http://127.0.0.1:{port}",
        "--clob-ws-url",
        f"ws://127.0.0.1:{port}",
        "--live-ws-url",
        f"ws://127.0.0.1:{port}",
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.strip().splitlines()  # the summary on stdout, the JSON log on stderr
    assert '"event":"connect_failed"' in proc.stderr and '"error":"connection refused"' in (
        proc.stderr
    )
    assert all(json.loads(x)["event"] for x in proc.stderr.splitlines() if x.strip())
    assert re.fullmatch(
        r"0 complete session\(s\) in .*: Gamma unreachable for \d+ s: connection refused; "
        r"the live-data socket unreachable for \d+ s: connection refused",
        lines[-1],
    ), lines[-1]


def test_check_prints_what_answered(tmp_path: Path, fixtures_dir: Path) -> None:
    src = tmp_path / "src"
    fixture_session(src, fixtures_dir, "BTC", START, "5m", first_offset_s=0.5, repeat=3)
    serve, env = start_serve(src)
    try:
        good = subprocess.run(
            [PK8, "record", "--check", "--symbols", "BTC", "--timeframe", "5m"],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=60,
        )
    finally:
        serve.terminate()
        serve.wait(5)
    assert good.returncode == 0, good.stdout + good.stderr
    rows = good.stdout.strip().splitlines()
    assert rows[0].split() == ["endpoint", "url", "result", "time"]
    assert [r.split("  ")[0] for r in rows[1:]] == ["Gamma", "market socket", "live-data socket"]
    assert "ok: answered" in rows[1] and "btc-updown-5m-" in rows[1]
    assert "ok: connected; PONG received" in rows[2]
    assert "ok: connected;" in rows[3]


def test_check_names_each_failure(tmp_path: Path) -> None:
    async def main() -> subprocess.CompletedProcess:
        async with StatusServer(503) as s503, Silent() as silent:
            proc = await asyncio.create_subprocess_exec(
                PK8,
                "record",
                "--check",
                "--timeout",
                "0.5",
                "--gamma-url",
                f"http://127.0.0.1:{closed_port()}",
                "--clob-ws-url",
                s503.url("ws", "/ws/market"),
                "--live-ws-url",
                silent.url("ws", "/live"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            return subprocess.CompletedProcess([], proc.returncode or 0, out.decode(), err.decode())

    proc = asyncio.run(main())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = proc.stdout.strip().splitlines()
    assert "FAILED: connection refused" in rows[1]
    assert "FAILED: HTTP 503 Service Unavailable" in rows[2]
    assert "FAILED: no answer within 0.5 s" in rows[3]


def test_live_with_the_venue_unreachable_ends_at_its_duration(tmp_path: Path) -> None:
    async def main() -> tuple[subprocess.CompletedProcess, float]:
        async with Silent() as silent:
            env_file = tmp_path / ".env"
            env_file.write_text(
                "PM_STRATEGY=balanced_arb\nPM_WATCHLIST=BTC:5m\nPM_TRADELIST=BTC:5m\n"
                "PM_PAPER_TRADING=1\nPM_DRY_RUN=1\n"
            )
            t0 = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                PK8,
                "live",
                "--env-file",
                str(env_file),
                "--headless",
                "--duration",
                "3",
                "--log-dir",
                str(tmp_path / "logs"),
                "--gamma-url",
                silent.url("http"),
                "--clob-ws-url",
                silent.url("ws"),
                "--live-ws-url",
                silent.url("ws"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={k: v for k, v in os.environ.items() if not k.startswith(("PM_", "PK8_"))},
            )
            out, err = await asyncio.wait_for(proc.communicate(), 90)
            elapsed = time.monotonic() - t0
            done = subprocess.CompletedProcess([], proc.returncode or 0, out.decode(), err.decode())
            return done, elapsed

    proc, _ = asyncio.run(main())
    assert proc.returncode == 0, proc.stderr
    events = [
        json.loads(line)
        for line in (tmp_path / "logs" / "live_console_events.jsonl").read_text().splitlines()
    ]
    ran_s = (events[-1]["ts_ns"] - events[0]["ts_ns"]) / 1e9
    assert (events[0]["event"], events[-1]["event"]) == ("live_started", "live_stopped")
    # a silent Gamma times out after 10 s per attempt: the run must not wait for it
    assert ran_s < 6.0, f"live --duration 3 ran {ran_s:.1f} s"


def test_a_socket_closed_right_after_accept_meets_a_growing_backoff() -> None:
    class Quiet:
        def on_connected(self, sock: Any, t_ns: int) -> None: ...
        def on_frame(self, sock: Any, t_ns: int, raw: str) -> None: ...
        def on_disconnected(self, sock: Any, t_ns: int, reason: str) -> None: ...

    async def main(stable_after_s: float) -> list[float]:
        async with Slammer() as slam:
            sock = LiveSocket(
                slam.url("ws"),
                Quiet(),
                VenueClock(),
                symbols=["BTC"],
                backoff_s=0.01,
                max_backoff_s=10.0,
                stable_after_s=stable_after_s,
            )
            task = asyncio.create_task(sock.run())
            await wait_for(lambda: slam.accepted >= 6)
            await sock.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return list(sock.delays)

    grew = asyncio.run(main(stable_after_s=10.0))
    assert grew[:5] == [0.01, 0.02, 0.04, 0.08, 0.16]
    # a connection that held for `stable_after_s` starts the backoff again
    assert asyncio.run(main(stable_after_s=0.0))[:5] == [0.01] * 5


def test_an_oversized_frame_is_a_gap_and_recording_goes_on(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    async def big(server: Any, rec: Recorder) -> None:
        assert await server.big("market", 200_000) == 1

    rec, folder, m = run_with_fault(tmp_path, fixtures_dir, big, max_frame_bytes=64 * 1024)
    assert m.status == "complete" and m.resolution.outcome == "Up"
    assert [g.socket for g in m.gaps] == ["market"]
    assert rec.symbols[0].market.oversized == 1 and rec.symbols[0].market.connects == 2
    (disc,) = notes(folder, "disconnected")
    assert "larger than max_size (65536 bytes)" in disc["reason"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--ping", "0"], "--ping 0.0"),
        (["--ping", "nan"], "--ping nan"),
        (["--sessions", "0"], "--sessions 0"),
        (["--stale", "-1"], "--stale -1.0"),
        (["--max-frame-mb", "0"], "--max-frame-mb 0.0"),
    ],
)
def test_settings_that_cannot_work_are_one_line(
    tmp_path: Path, args: list[str], field: str
) -> None:
    proc = _record_cli(tmp_path, *args, "--gamma-url", f"http://127.0.0.1:{closed_port()}")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), proc.stderr


def test_out_a_file_and_log_in_a_missing_folder_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    proc = subprocess.run(
        [PK8, "record", "--out", str(tmp_path / "afile"), "--quiet", "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and proc.stderr.strip().splitlines() == [
        f"error: --out {tmp_path / 'afile'}: is a file; give a folder (it is created)"
    ]
    proc = _record_cli(tmp_path, "--log", str(tmp_path / "no" / "such" / "r.log"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "--log" in lines[0], proc.stderr
