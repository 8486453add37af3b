"""What the UI tests let pass: failed requests and console errors that are not mlkube's to fix,
and API calls made on one server only by design. Each entry says why; keep the list short.

A request matches an entry by its endpoint (network.endpoint), a console error by its text. An
endpoint listed here is left out of the comparison of the two servers' successful endpoints too.
"""

from __future__ import annotations

from e2e.ui.network import Call, ConsoleError

ENDPOINTS: dict[str, str] = {
    "GET /ajax-api/2.0/mlflow/users/current": (
        "served only by MLflow's basic-auth app (`mlflow server --app-name basic-auth`); the "
        "plain `mlflow server` answers 404 as well, and the UI then shows no user menu"
    ),
    "GET /ajax-api/3.0/mlflow/assistant/config": (
        "the MLflow Assistant, a GenAI chat panel backed by an LLM provider on the server's "
        "machine; mlkube has no assistant"
    ),
    "GET /ajax-api/3.0/mlflow/assistant/providers": "the MLflow Assistant (see assistant/config)",
    "GET /ajax-api/2.0/mlflow/gateway-proxy": (
        "MLflow's AI Gateway (GenAI model endpoints), which mlkube does not have: its "
        "server-info says features_enabled.gateway is false"
    ),
}

CONSOLE: dict[str, str] = {
    "Cannot read properties of undefined (reading 'includes')": (
        "MLflow 3.17.2's compare-runs page, on `mlflow server` itself: its Artifacts section "
        "reads `files` of every run's artifact listing, which that server leaves out for a run "
        "without artifacts; when a run with artifacts answers first, the section throws and "
        "shows 'Something went wrong with this section'"
    ),
    "Failed to load resource": (
        "the browser's note of a failed request: the request itself is judged by its endpoint"
    ),
}


def allowed_call(call: Call) -> bool:
    return call.endpoint in ENDPOINTS


def allowed_console(error: ConsoleError) -> bool:
    return any(text in error.text for text in CONSOLE)
