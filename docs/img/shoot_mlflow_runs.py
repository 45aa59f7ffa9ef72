"""Regenerate docs/img/mlflow_runs.png: the MLflow Runs view of a small sweep.

    .venv/bin/pk8opt sweep configs/balanced_arb.yaml --trials 8 \
        --storage /tmp/shot/o.journal --tracking-uri sqlite:////tmp/shot/m.db
    .venv/bin/pk8opt ui --no-browser --port 5077 --tracking-uri sqlite:////tmp/shot/m.db &
    # it prints the Runs view's URL once the UI answers
    .venv/bin/python docs/img/shoot_mlflow_runs.py 'http://127.0.0.1:5077/#/experiments/...'

Drives Debian's headless chromium over the DevTools protocol: opens the URL `pk8opt ui`
printed (the sweep's shared Runs view, in the model-training view), with MLflow's
assistant panel closed the way a user closes it once (its two localStorage flags), waits
until the table shows the trials and stops changing, and saves a 1600x1000 PNG. Given
only the UI's address (`http://127.0.0.1:5077`), it opens the newest sweep's Runs view
of `--tracking-uri`'s store (the second argument), else of the default store.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websockets

OUT = Path(__file__).with_name("mlflow_runs.png")
PORT = 9333


async def settled(js: Any) -> None:
    """Until the page's text is the same on three polls in a row (the table's columns and
    the nested trials have loaded)."""
    seen: list[object] = []
    for _ in range(300):
        seen = [*seen[-2:], await js("document.body.innerText")]
        if len(seen) == 3 and seen[0] == seen[1] == seen[2]:
            return
        await asyncio.sleep(0.5)


async def shoot(base: str, url: str) -> None:
    for _ in range(100):
        try:
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json"))
            break
        except OSError:
            time.sleep(0.2)
    ws_url = next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"]
    async with websockets.connect(ws_url, max_size=None) as ws:
        n = 0

        async def call(method: str, **params: object) -> dict:
            nonlocal n
            n += 1
            await ws.send(json.dumps({"id": n, "method": method, "params": params}))
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("id") == n:
                    return msg.get("result", {})

        async def js(expr: str) -> object:
            got = await call("Runtime.evaluate", expression=expr, returnByValue=True)
            return got.get("result", {}).get("value")

        await call("Page.navigate", url=f"{base}/")
        for _ in range(600):  # the page's origin, to set its localStorage
            if await js("document.readyState") == "complete":
                break
            await asyncio.sleep(0.1)
        await js(
            "localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1','true');"
            "localStorage.setItem('mlflow.assistant.panelOpen_v1','false')"
        )
        await call("Page.navigate", url=url)
        for _ in range(600):
            if await js("document.body.innerText.includes('trial-')"):
                break
            await asyncio.sleep(0.1)
        await settled(js)
        shot = await call("Page.captureScreenshot", format="png")
        OUT.write_bytes(base64.b64decode(shot["data"]))


def main() -> None:
    given = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5077"
    base = given.split("#", 1)[0].rstrip("/")
    if "#" in given:  # the URL `pk8opt ui` printed
        url = given
    else:
        from pk8opt.sweep.config import default_tracking_uri
        from pk8opt.tracking import runs_view_url

        url = runs_view_url(base, sys.argv[2] if len(sys.argv) > 2 else default_tracking_uri())
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = subprocess.Popen(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--remote-debugging-port={PORT}",
                "--window-size=1600,1000",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            asyncio.run(shoot(base, url))
        finally:
            browser.terminate()
            browser.wait()
    print(f"{OUT}: {OUT.stat().st_size // 1024} KB of {url}")


if __name__ == "__main__":
    main()
