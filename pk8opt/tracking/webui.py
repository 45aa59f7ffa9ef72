"""The MLflow UI as `pk8opt ui` serves it: a trial opens in the model-training view.

MLflow 3's UI has two modes: GenAI (traces, "Evaluations", judges, prompts) and model
training (runs, metrics, charts, artifacts). Every page takes its mode from its URL's
`workflowType` query parameter (`genai` or `machine_learning`), else from the
browser's own choice, kept in its localStorage under `mlflow.workflowType_v1` (JSON),
which is "genai" until the user flips the switch in the UI's sidebar. The experiment
tag `mlflow.experimentKind` is not read for it. The Runs view URL `pk8opt ui` prints
carries `workflowType=machine_learning`, but a run opened from the Runs table, or a
link to a run, carries no parameter: it opened in GenAI mode.

So `pk8opt ui` runs MLflow's own server with its own app (`mlflow ui --app-name
pk8opt`, MLflow's hook for a server app, found through the `mlflow.app` entry point
that `plugin_folder` declares), changed in one place: the UI's page sets the browser's
choice to model training when the browser has made none. The sidebar's switch changes
it as usual and is then kept.

The query parameter, the localStorage key and its JSON form are MLflow's private
details: `tests/unit/tracking/test_webui.py` reads the installed MLflow's UI code and
fails first when they change.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

APP_NAME = "pk8opt"  # the name `mlflow ui --app-name` is given
MODE_PARAM = "workflowType"  # the page URL's query parameter
MODEL_TRAINING = "machine_learning"  # its value for the model-training view
MODE_KEY = "mlflow.workflowType_v1"  # the browser's choice (localStorage), JSON

_KEY_JS, _VALUE_JS = json.dumps(MODE_KEY), json.dumps(json.dumps(MODEL_TRAINING))
_SCRIPT = (
    f"<script>try{{var k={_KEY_JS};if(!localStorage.getItem(k))"
    f"localStorage.setItem(k,{_VALUE_JS})}}catch(e){{}}</script>"
).encode()

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def with_model_training(html: bytes) -> bytes:
    """The UI's page with the script that makes model training the browser's default
    mode, run before the UI's own scripts."""
    at = html.find(b"<script")
    if at < 0:
        at = html.find(b"</head>")
    return html if at < 0 else html[:at] + _SCRIPT + html[at:]


class ModelTrainingFirst:
    """An ASGI app: MLflow's, with its page (`/`) changed by `with_model_training`."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ("/", "/index.html"):
            await self.inner(scope, receive, send)
            return
        # the whole page every time: a cached copy may predate the script
        headers = [
            (k, v)
            for k, v in scope.get("headers", [])
            if k.lower() not in (b"if-none-match", b"if-modified-since")
        ]
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def page(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            data = b"".join(body)
            kept = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            if start.get("status") == 200 and any(
                k.lower() == b"content-type" and b"text/html" in v for k, v in kept
            ):
                data = with_model_training(data)
            kept.append((b"content-length", str(len(data)).encode()))
            await send({**start, "headers": kept})
            await send({"type": "http.response.body", "body": data})

        await self.inner({**scope, "headers": headers}, receive, page)


def app() -> ModelTrainingFirst:
    """The app factory `mlflow ui --app-name pk8opt` starts (in uvicorn)."""
    from mlflow.server.fastapi_app import app as mlflow_app

    return ModelTrainingFirst(mlflow_app)


def plugin_folder(folder: Path) -> Path:
    """A folder to put on the UI's PYTHONPATH that declares this app to MLflow: the
    entry point `pk8opt = pk8opt.tracking.webui:app` in the group `mlflow.app`."""
    info = folder / "pk8opt_ui-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pk8opt-ui\nVersion: 0\n")
    (info / "entry_points.txt").write_text(f"[mlflow.app]\n{APP_NAME} = {__name__}:app\n")
    return folder
