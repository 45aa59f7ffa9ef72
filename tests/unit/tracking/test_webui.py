"""The MLflow UI `pk8opt ui` serves opens a trial in the model-training view: the
installed MLflow's UI still keys its mode on what `webui` sets, and the page served
carries the script that sets it."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
from pathlib import Path

import mlflow

from pk8opt.tracking import ui_command, ui_environment, webui

BUILD = Path(mlflow.__file__).parent / "server" / "js" / "build"


def _ui_code() -> str:
    return "".join(p.read_text(errors="replace") for p in (BUILD / "static" / "js").glob("*.js"))


def test_the_installed_mlflow_ui_keys_its_mode_on_what_pk8opt_sets() -> None:
    code = _ui_code()
    # the browser's choice: localStorage `<key>_v<version>`, JSON, "genai" by default
    key, version = webui.MODE_KEY.rsplit("_v", 1)
    assert f'key:"{key}",version:{version}' in code
    assert "`${e}_v${t}`" in code and "JSON.parse(e)" in code
    # the page URL's parameter comes first, and names the model-training mode so
    assert f'.get("{webui.MODE_PARAM}")' in code
    assert f'MACHINE_LEARNING="{webui.MODEL_TRAINING}"' in code


def test_the_page_sets_model_training_once_and_keeps_the_rest() -> None:
    html = (BUILD / "index.html").read_bytes()
    page = webui.with_model_training(html)
    assert page.replace(webui._SCRIPT, b"") == html
    assert page.index(webui._SCRIPT) < page.index(b"<script defer")  # before the UI's code
    text = page.decode()
    assert json.dumps(webui.MODE_KEY) in text and "if(!localStorage.getItem(k))" in text


def test_the_app_serves_the_page_with_the_script_and_the_rest_untouched() -> None:
    async def inner(scope, receive, send):  # MLflow's app, in short
        body = (
            b"<html><head><script src=x></script></head></html>" if scope["path"] == "/" else b"{}"
        )
        assert not any(k == b"if-none-match" for k, _ in scope["headers"])  # whole page
        kind = b"text/html" if scope["path"] == "/" else b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def get(path: str) -> tuple[dict, bytes]:
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request"}

        scope = {"type": "http", "path": path, "headers": [(b"if-none-match", b'"x"')]}
        if path != "/":
            scope["headers"] = []
        await webui.ModelTrainingFirst(inner)(scope, receive, send)
        return sent[0], b"".join(m.get("body", b"") for m in sent[1:])

    start, body = asyncio.run(get("/"))
    assert webui._SCRIPT in body
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()
    _, body = asyncio.run(get("/ajax-api/2.0/mlflow/experiments/search"))
    assert body == b"{}"


def test_the_ui_runs_as_the_pk8opt_app_without_job_runners(tmp_path: Path) -> None:
    cmd = ui_command("sqlite:///x/mlflow.db", 5000)
    assert cmd[cmd.index("--app-name") + 1] == webui.APP_NAME
    env = ui_environment({"PYTHONPATH": "/elsewhere"}, tmp_path)
    assert env["PYTHONPATH"].split(":") == [str(tmp_path), "/elsewhere"]
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    found = importlib.metadata.entry_points(group="mlflow.app")
    assert webui.APP_NAME not in [e.name for e in found]  # declared only for the UI
    (point,) = [
        e
        for d in importlib.metadata.distributions(path=[str(tmp_path)])
        for e in d.entry_points
        if e.group == "mlflow.app"
    ]
    assert point.name == webui.APP_NAME and point.load() is webui.app
