"""mlkube's own processes on the local stack: the operator (and the tracking server), run on the
host against the local control plane, until the Helm chart runs them in-cluster."""

from __future__ import annotations

import sys

from e2e.cluster.cluster import LocalCluster, free_port
from e2e.cluster.processes import Service, http_ok

OPERATOR = "mlkube-operator"


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
            "MLKUBE_ID_NAMESPACE": "default",
            "PYTHONUNBUFFERED": "1",
        },
        start_timeout=60,
    )


def start_operator(cluster: LocalCluster, tracking_uri: str) -> None:
    if OPERATOR not in cluster.running():
        cluster.supervisor.start(operator_service(cluster, tracking_uri))


def stop_operator(cluster: LocalCluster) -> None:
    cluster.supervisor.stop([OPERATOR])
