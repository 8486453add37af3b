"""The in-memory store passes the store contract."""

from __future__ import annotations

import pytest
from tests.contracts.tracking import StoreContract

from mlkube_operator.server.store.tracking.base import TrackingStore
from mlkube_operator.server.store.tracking.memory import InMemoryStore


@pytest.fixture(scope="module")
def store() -> TrackingStore:
    return InMemoryStore()


@pytest.fixture
def workspace() -> str:
    return "team-a"


@pytest.fixture
def other_workspace() -> str:
    return "team-b"


class TestInMemoryStore(StoreContract):
    pass
