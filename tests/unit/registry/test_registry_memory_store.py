"""The in-memory registry store passes the registry store contract."""

from __future__ import annotations

import pytest
from tests.contracts.registry import RegistryContract

from mlkube_operator.server.store.registry.base import RegistryStore
from mlkube_operator.server.store.registry.memory import InMemoryRegistryStore


@pytest.fixture(scope="module")
def registry() -> RegistryStore:
    return InMemoryRegistryStore()


@pytest.fixture
def workspace() -> str:
    return "team-a"


@pytest.fixture
def other_workspace() -> str:
    return "team-b"


class TestInMemoryRegistryStore(RegistryContract):
    pass
