"""Health, version, metrics and routing of the scoring app."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from mlkube import __version__


def test_health_answers_once_loaded_and_503_while_draining(client: TestClient) -> None:
    for path in ("/ping", "/health"):
        assert client.get(path).status_code == 200
    app = client.app
    app.draining = True  # type: ignore[attr-defined]
    assert client.get("/health").status_code == 503  # readiness: take me out of the Service
    assert client.get("/ping").status_code == 200  # liveness: do not restart me


def test_version(client: TestClient) -> None:
    response = client.get("/version")
    assert (response.status_code, response.text) == (200, __version__)


def test_unknown_paths_and_methods(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert client.get("/invocations").status_code == 405
    assert client.post("/ping").status_code == 405


def sample(text: str, name: str, **labels: str) -> float:
    rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}\{{{re.escape(rendered)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_requests_errors_and_latency(client: TestClient) -> None:
    body = {"inputs": {"a": [1.0], "b": [2.0], "c": [3.0]}}
    for _ in range(3):
        assert client.post("/invocations", json=body).status_code == 200
    client.post("/invocations", content=b"{", headers={"Content-Type": "application/json"})
    client.post("/invocations", content=b"x", headers={"Content-Type": "text/plain"})
    client.get("/nope/1")
    client.get("/nope/2")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert sample(text, "mlkube_serve_requests_total", path="/invocations", status="200") == 3
    assert sample(text, "mlkube_serve_requests_total", path="/invocations", status="400") == 1
    assert sample(text, "mlkube_serve_requests_total", path="/invocations", status="415") == 1
    # Unknown paths share one label value, so scanners cannot blow up the series count.
    assert sample(text, "mlkube_serve_requests_total", path="other", status="404") == 2
    assert sample(text, "mlkube_serve_errors_total", error_code="BAD_REQUEST") == 2
    assert sample(text, "mlkube_serve_errors_total", error_code="ENDPOINT_NOT_FOUND") == 2
    assert sample(text, "mlkube_serve_request_duration_seconds_count", path="/invocations") == 5
    assert 'le="0.005"' in text
