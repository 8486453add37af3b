"""Integration tier: real local services (the API server and MinIO of the session `cluster`
fixture); no operator runs, and no test here needs pods. Stores are tested against them in
workspaces (namespaces) created per test."""

from __future__ import annotations

import pytest


@pytest.fixture
def workspace(namespace: str) -> str:
    """The MLflow workspace a store test works in: a fresh namespace."""
    return namespace


@pytest.fixture
def other_workspace(other_namespace: str) -> str:
    """A second fresh workspace, for tests of isolation between workspaces."""
    return other_namespace
