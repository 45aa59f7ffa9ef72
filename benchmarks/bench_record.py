"""Recorder throughput: four symbols at 20x the busiest real message rate, one core.

Builds one 5-minute session per symbol from the real captured frames at
`BUSIEST_PER_S` market frames/s (plus 2 live frames/s), serves them with
`pk8opt serve --speed 20` on one core and records them with `pk8opt record` pinned to
another, then reports frames/s, CPU use, receive lag and resident memory of the recorder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SYMBOLS = ["BTC", "ETH", "SOL", "XRP"]
START = 1790658000
BUSIEST_PER_S = 50.0  # market frames/s of one busy 15-minute market (end-of-window bursts)
SPEED = float(os.environ.get("PK8_BENCH_SPEED", "20"))  # 20x the busiest real rate
SPAN_S = 150.0  # venue seconds of frames per session
LEAD_WALL_S = 4.0  # wall seconds from serve start to the first frame (recorder start-up)


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() > 1 else []


def _mem_kb(pid: int, field: str = "VmRSS") -> int:
    """VmRSS (now) or VmHWM (peak since exec) of a running process, in kB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    from pk8opt.fakepm.build import fixture_session
    from pk8opt.recordings.raw import frames_path, read_frames

    # the captured frames, kept with the tests
    fixtures = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "polymarket"
    pk8 = str(Path(sys.executable).with_name("pk8opt"))
    tmp = Path(tempfile.mkdtemp(prefix="bench_record_"))
    try:
        src, out = tmp / "src", tmp / "out"
        t0 = time.perf_counter()
        for sym in SYMBOLS:
            fixture_session(
                src,
                fixtures,
                sym,
                START,
                "5m",
                market_every_s=1 / BUSIEST_PER_S,
                live_every_s=0.5,
                first_offset_s=1.0,
                span_s=SPAN_S,
                repeat=200,
                live_tail_s=SPAN_S - 300,
            )
        print(f"   built {len(SYMBOLS)} sessions in {time.perf_counter() - t0:.1f} s")
        serve = subprocess.Popen(
            [
                *_pin(1),
                pk8,
                "serve",
                str(src),
                "--now",
                "--speed",
                f"{SPEED:g}",
                "--port",
                "0",
                "--lead",
                f"{LEAD_WALL_S * SPEED:g}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        env = dict(os.environ)
        assert serve.stdout is not None
        exported = 0
        while exported < 6:
            line = serve.stdout.readline()
            if line.startswith("export "):
                k, _, v = line[7:].strip().partition("=")
                env[k] = v
                exported += 1
        duration = LEAD_WALL_S + SPAN_S / SPEED + 1.0
        rec = subprocess.Popen(
            [
                *_pin(0),
                pk8,
                "record",
                "--symbols",
                ",".join(SYMBOLS),
                "--timeframe",
                "5m",
                "--out",
                str(out),
                "--quiet",
                "--duration",
                f"{duration:.1f}",
                "--log",
                str(tmp / "log"),
            ],
            env=env,
        )
        samples: list[int] = []
        peak = [0]

        # Sampled from /proc: the rusage of wait4 would report the bench process's own
        # memory, which the child had between fork and exec.
        def sample() -> None:
            while rec.poll() is None:
                samples.append(_mem_kb(rec.pid))
                peak[0] = max(peak[0], _mem_kb(rec.pid, "VmHWM"))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample)
        sampler.start()
        wall0 = time.perf_counter()
        _, status, usage = os.wait4(rec.pid, 0)
        wall = time.perf_counter() - wall0
        rec.returncode = os.waitstatus_to_exitcode(status)
        sampler.join()
        serve.terminate()
        serve.wait(5)

        n_src = n_rec = 0
        lags: list[int] = []
        for sym in SYMBOLS:
            slug = f"{sym.lower()}-updown-5m-{START}"
            source = [f for f in read_frames(frames_path(src / slug))[0] if f.ch == "market"]
            mine = [f for f in read_frames(frames_path(out / slug))[0] if f.ch == "market"]
            n_src += len(source)
            n_rec += len(mine)
            # after the subscribe snapshot, the recording is the source stream in order
            k = len(source) - (len(mine) - 1)
            for s, m in zip(source[k:], mine[1:], strict=True):
                assert s.raw == m.raw
                lags.append(m.t - s.t)
        lags.sort()
        cpu = usage.ru_utime + usage.ru_stime
        steady = [s for s in samples if s][2:] or [0]
        rate_in = n_rec / ((SPAN_S) / SPEED)
        print(
            f"   target: {SPEED:g}x {BUSIEST_PER_S:g} frames/s x {len(SYMBOLS)} symbols = "
            f"{BUSIEST_PER_S * SPEED * len(SYMBOLS):.0f} market frames/s (+ live {2 * SPEED * len(SYMBOLS):.0f}/s)"
        )
        print(
            f"   recorded {n_rec} of {n_src} market frames (missing {n_src - n_rec} from before it subscribed, "
            f"offered at ~{rate_in:.0f} frames/s)"
        )
        print(
            f"   recorder cpu {cpu:.1f} s over {wall:.1f} s wall "
            f"({cpu / wall * 100:.0f}% of one core), exit {rec.returncode}"
        )
        ms = 1e-6 / SPEED
        print(
            f"   receive lag (wall): p50 {lags[len(lags) // 2] * ms:.1f} ms, "
            f"p99 {lags[int(len(lags) * 0.99)] * ms:.1f} ms, max {lags[-1] * ms:.1f} ms"
        )
        print(
            f"   recorder RSS: peak {peak[0] / 1024:.0f} MB; samples after start: first/mid/last "
            f"{steady[0] / 1024:.0f}/{steady[len(steady) // 2] / 1024:.0f}/{steady[-1] / 1024:.0f} MB"
        )
    finally:
        if not os.environ.get("PK8_BENCH_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
