"""End-to-end tier: the real local control plane (etcd, kube-apiserver, kube-controller-manager,
MinIO) started once per session by the `cluster` fixture; tests act as users do, with kubectl,
helm and the Python clients, and every wait is bounded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.platform import start_operator, stop_operator


@pytest.fixture(scope="session")
def operator(cluster: LocalCluster) -> Iterator[LocalCluster]:
    """The cluster with `mlkube-operator` running against it (stopped at the end)."""
    start_operator(cluster, tracking_uri="http://127.0.0.1:1")  # no tracking server needed yet
    try:
        yield cluster
    finally:
        stop_operator(cluster)
