"""mlkube's own processes on the local stack: the tracking server and the operator, run on the
host against the local control plane (until the Helm chart runs them in-cluster there too)."""

from __future__ import annotations

import sys

from e2e.cluster.cluster import LocalCluster, free_port
from e2e.cluster.processes import Service, http_ok

SERVER = "mlkube-server"
OPERATOR = "mlkube-operator"
# The platform's own namespace on the local stack: experiment-id counter, default workspace.
PLATFORM_NAMESPACE = "default"


def server_service(cluster: LocalCluster, port: int) -> Service:
    """`mlkube server` on 127.0.0.1:<port> against the stack's API server and MinIO."""
    return Service(
        SERVER,
        [
            sys.executable,
            "-m",
            "mlkube.cli",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--namespace",
            PLATFORM_NAMESPACE,
        ],
        http_ok(f"http://127.0.0.1:{port}/health"),
        env={**cluster.env(), "MLKUBE_ID_NAMESPACE": PLATFORM_NAMESPACE, "PYTHONUNBUFFERED": "1"},
        start_timeout=60,
    )


def operator_service(cluster: LocalCluster, tracking_uri: str) -> Service:
    """`mlkube-operator` watching every namespace, with the stack's object storage."""
    health = f"http://127.0.0.1:{free_port()}/healthz"
    return Service(
        OPERATOR,
        [sys.executable, "-m", "mlkube_operator.main"],
        http_ok(health),
        env={
            **cluster.env(),
            "MLKUBE_LIVENESS_ENDPOINT": health,
            "MLKUBE_METRICS_PORT": str(free_port()),
            "MLKUBE_TRACKING_URI": tracking_uri,
            "MLKUBE_ID_NAMESPACE": PLATFORM_NAMESPACE,
            "PYTHONUNBUFFERED": "1",
        },
        start_timeout=60,
    )


def start_server(cluster: LocalCluster) -> str:
    """Start the tracking server unless it runs; return its URL."""
    record = cluster.state / "tracking-uri"
    if SERVER in cluster.running() and record.exists():
        return record.read_text().strip()
    port = free_port()
    cluster.supervisor.start(server_service(cluster, port))
    uri = f"http://127.0.0.1:{port}"
    record.write_text(uri)
    return uri


def start_operator(cluster: LocalCluster, tracking_uri: str) -> None:
    if OPERATOR not in cluster.running():
        cluster.supervisor.start(operator_service(cluster, tracking_uri))


def start_platform(cluster: LocalCluster) -> str:
    """The tracking server, then the operator pointing run pods at it; returns the tracking URI."""
    uri = start_server(cluster)
    start_operator(cluster, uri)
    return uri


def stop_platform(cluster: LocalCluster) -> None:
    cluster.supervisor.stop([OPERATOR, SERVER])
