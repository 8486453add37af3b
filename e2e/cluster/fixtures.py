"""pytest fixtures for the local control plane (loaded by the root conftest.py).

- ``cluster``: one LocalCluster for the whole session, in a temporary state directory, stopped
  at the end (its processes also die with the session if pytest is killed).
- ``namespace``: a fresh namespace per test, deleted afterwards; ``other_namespace``: a second.

The session's clients authenticate as the local cluster's user (identities.local_user_token):
MLFLOW_TRACKING_TOKEN is set while the cluster runs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.identities import local_user_token


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state: Path = tmp_path_factory.mktemp("cluster")
    local = LocalCluster(state)
    before = os.environ.get("MLFLOW_TRACKING_TOKEN")
    try:
        local.start()
        # The tracking server wants a token (issue 13): every client in the session is the
        # local cluster's user, as `make up`'s env file makes a shell.
        os.environ["MLFLOW_TRACKING_TOKEN"] = local_user_token(local)
        yield local
    finally:
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        else:
            os.environ["MLFLOW_TRACKING_TOKEN"] = before
        local.stop()


@contextmanager
def fresh_namespace(cluster: LocalCluster) -> Iterator[str]:
    """A new namespace, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespace(cluster: LocalCluster) -> Iterator[str]:
    with fresh_namespace(cluster) as name:
        yield name


@pytest.fixture
def other_namespace(cluster: LocalCluster) -> Iterator[str]:
    """A second fresh namespace, for tests of isolation between namespaces (workspaces)."""
    with fresh_namespace(cluster) as name:
        yield name
