"""Simulator speed: seconds per simulated 15-minute session, frames and bytes per session."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

START = 1_791_986_400  # 2026-10-14T14:00:00Z


def main() -> None:
    from pk8opt.recordings.manifest import read_manifest
    from pk8opt.simulate import simulate_session

    simulate_session(tempfile.mkdtemp(), "BTC", START - 900, seed=0)  # warm imports
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for symbol in ("BTC", "ETH", "SOL", "XRP"):
            for k in range(2):
                t0 = time.perf_counter()
                folder = simulate_session(Path(tmp), symbol, START + 900 * k, seed=1)
                dt = time.perf_counter() - t0
                m = read_manifest(folder)
                rows.append((dt, m.frames, (folder / m.frames_file).stat().st_size))
    secs = sum(r[0] for r in rows) / len(rows)
    frames = sum(r[1] for r in rows) / len(rows)
    size = sum(r[2] for r in rows) / len(rows)
    print(f"   sessions simulated:        {len(rows)} (15m, 4 symbols)")
    print(f"   seconds per session:       {secs:.2f} (max {max(r[0] for r in rows):.2f})")
    print(f"   frames per session:        {frames:,.0f}")
    print(f"   frames per second written: {frames / secs:,.0f}")
    print(f"   MB per session (gzip):     {size / 1e6:.2f}")
