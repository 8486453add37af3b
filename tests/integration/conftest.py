"""Integration tier: real local services (the API server and MinIO of the session `cluster`
fixture); no operator runs, and no test here needs pods. Stores are tested against them in
workspaces (namespaces) created per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from e2e.cluster.cluster import LocalCluster


@pytest.fixture
def workspace(namespace: str) -> str:
    """The MLflow workspace a store test works in: a fresh namespace."""
    return namespace


@pytest.fixture
def other_workspace(cluster: LocalCluster) -> Iterator[str]:
    """A second fresh workspace, for tests of isolation between workspaces."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
