"""MLflow's UI telemetry endpoint (``/ajax-api/3.0/mlflow/ui-telemetry``), answered "disabled".

The UI's telemetry worker asks for its configuration (GET) and then posts batches of usage events
(POST). mlkube sends usage data nowhere, so the configuration is the one MLflow's server gives
when telemetry is off, and the UI collects nothing. A batch posted anyway is read within a small
bound and dropped, and the answer, ``{"status": "disabled"}``, tells the UI to stop sending.

Neither asks for a token: both answers are constants that hold nothing of any workspace, nothing
posted is kept, and the worker fetches on its own, outside the UI's API client, so from a
browser it has no credentials to send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from mlkube_operator.server.http.bodies import body_pieces
from mlkube_operator.server.http.bounds import BodyLimit, Bounds
from mlkube_operator.server.http.serialize import JsonResponse

PATH = "/ajax-api/3.0/mlflow/ui-telemetry"
# mlflow.telemetry.constant.FALLBACK_UI_CONFIG: what MLflow answers with telemetry disabled.
DISABLED = {"disable_ui_telemetry": True, "disable_ui_events": [], "ui_rollout_percentage": 0}
MAX_BATCH_BYTES = 1024 * 1024


def endpoints(bounds: Bounds) -> dict[str, Callable[[Request], Awaitable[Response]]]:
    """The endpoint of each method."""
    batch = BodyLimit(
        "a UI telemetry batch",
        MAX_BATCH_BYTES,
        "no setting: mlkube drops UI telemetry unread",
        bounds.body_idle_seconds,
        bounds.json_body_seconds,
    )

    async def config(request: Request) -> Response:
        return JsonResponse(DISABLED)

    async def discard(request: Request) -> Response:
        async for _ in body_pieces(request, batch):
            pass
        return JsonResponse({"status": "disabled"})

    return {"GET": config, "POST": discard}
