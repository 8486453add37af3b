"""End-to-end tier: the real local cluster (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, MinIO, and one node: kubelet, containerd, runc, kube-proxy, CoreDNS, running
mlkube's own images) started once per session by the `cluster` fixture; tests act as users do,
with kubectl, helm and the Python clients, and every wait is bounded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.platform import start_platform, stop_platform


@pytest.fixture(scope="session")
def operator(cluster: LocalCluster) -> Iterator[LocalCluster]:
    """The cluster with mlkube's tracking server and operator running against it, as `make up`
    runs them (stopped at the end of the session)."""
    start_platform(cluster)
    try:
        yield cluster
    finally:
        stop_platform(cluster)


@pytest.fixture(scope="session")
def tracking_uri(operator: LocalCluster) -> str:
    """The tracking server's URL (what MLFLOW_TRACKING_URI is set to)."""
    return (operator.state / "tracking-uri").read_text().strip()
