"""pytest fixtures for the local control plane (loaded by the root conftest.py).

- ``cluster``: one LocalCluster for the whole session, in a temporary state directory, stopped
  at the end (its processes also die with the session if pytest is killed).
- ``namespace``: a fresh namespace per test, deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.cluster.cluster import LocalCluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state: Path = tmp_path_factory.mktemp("cluster")
    local = LocalCluster(state)
    try:
        local.start()
        yield local
    finally:
        local.stop()


@pytest.fixture
def namespace(cluster: LocalCluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
