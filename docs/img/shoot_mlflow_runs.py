"""Regenerate docs/img/mlflow_runs.png: the MLflow Runs view after `make sweep`.

    make sweep
    .venv/bin/pk8opt ui --no-browser --port 5077 &       # wait until it answers
    .venv/bin/python docs/img/shoot_mlflow_runs.py http://127.0.0.1:5077

Drives Debian's headless chromium over the DevTools protocol: opens the URL `pk8opt ui`
prints (the sweep's shared Runs view), with MLflow's assistant panel closed the way a
user closes it once (its two localStorage flags), and saves a 1600x1000 PNG.
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

import websockets

OUT = Path(__file__).with_name("mlflow_runs.png")
PORT = 9333


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
        await asyncio.sleep(3)  # the table's columns settle
        shot = await call("Page.captureScreenshot", format="png")
        OUT.write_bytes(base64.b64decode(shot["data"]))


def main() -> None:
    base = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:5077"
    from pk8opt.sweep.config import default_tracking_uri
    from pk8opt.tracking import runs_view_url

    url = runs_view_url(base, default_tracking_uri())
    with tempfile.TemporaryDirectory() as profile:
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
