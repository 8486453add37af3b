"""Integration tests of the tracking server against real services, nothing mocked.

Boundary: the local control plane's kube-apiserver and MinIO (the `cluster` fixture), a real
`mlkube-server` subprocess, and a real `mlflow server` (SQLite, proxied artifacts) as the
reference; the stock `mlflow` client drives both. Every server listens on 127.0.0.1 and is
stopped with bounded timeouts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pytest
from e2e.cluster.cluster import LocalCluster

# The shared contract suite is a helper module, not a test file: rewrite its asserts too.
pytest.register_assert_rewrite("tests.contracts.tracking")

START_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class TrackingServer:
    kind: str  # "mlkube" or "mlflow"
    url: str
    namespace: str | None  # the default workspace (mlkube only)
    log: Path


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy after {START_TIMEOUT}s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)


def start_mlkube(
    cluster: LocalCluster | None, namespace: str, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """``mlkube-server`` on the cluster's API server and MinIO; without a cluster, on its memory
    backend as a single user (no tokens)."""
    port = free_port()
    # The `mlkube-server` console script's module: the script itself exists only once
    # `make setup` has reinstalled the package.
    command = [
        sys.executable,
        "-m",
        "mlkube_operator.server.main",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--namespace",
        namespace,
    ]
    if cluster is None:
        command += ["--backend", "memory", "--auth", "none"]
    env = {**os.environ, **(cluster.env() if cluster is not None else {})}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process, f"http://127.0.0.1:{port}"


def start_mlflow(state: Path, log: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """`mlflow server` with SQLite and proxied artifacts under ``state``, plus ``options``."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{state / 'mlflow.db'}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(state / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        *options,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=state, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def tracking_namespace(cluster: LocalCluster) -> Iterator[str]:
    """The default workspace of the session's mlkube server."""
    name = f"track-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def mlkube_server(
    cluster: LocalCluster, tracking_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrackingServer]:
    log = tmp_path_factory.mktemp("mlkube-server") / "server.log"
    process, url = start_mlkube(cluster, tracking_namespace, log)
    try:
        wait_healthy(url, process, log)
        yield TrackingServer("mlkube", url, tracking_namespace, log)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    state = tmp_path_factory.mktemp("mlflow-server")
    log = state / "server.log"
    process, url = start_mlflow(state, log)
    try:
        wait_healthy(url, process, log)
        yield TrackingServer("mlflow", url, None, log)
    finally:
        stop(process)


@pytest.fixture(params=["mlkube", "mlflow"])
def server(request: pytest.FixtureRequest) -> TrackingServer:
    """The same tests against mlkube and against MLflow itself: they test MLflow's behaviour."""
    found: TrackingServer = request.getfixturevalue(f"{request.param}_server")
    return found


@pytest.fixture
def tracking(server: TrackingServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[TrackingServer]:
    """The mlflow client pointed at ``server`` (fluent API and MlflowClient alike)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(server.url)
    try:
        yield server
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None resets to the default
