"""Unit tests of the model registry's REST layer and stores: pure code, no services.

The REST layer runs in-process (Starlette's test client over the in-memory tracking and registry
stores and in-memory object storage); the registry store contract (tests/contracts/registry.py)
runs against the in-memory store here and against the Kubernetes store in
tests/integration/registry.
"""

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mlkube.objects import MemoryObjects
from mlkube_operator.server.auth.guard import SingleUser
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.store.registry.memory import InMemoryRegistryStore
from mlkube_operator.server.store.tracking.memory import InMemoryStore

# The shared helper modules are not test files: rewrite their asserts too.
pytest.register_assert_rewrite("tests.contracts.registry", "tests.unit.registry.rest")


@pytest.fixture
def objects() -> MemoryObjects:
    return MemoryObjects()


@pytest.fixture
def client(objects: MemoryObjects) -> Iterator[TestClient]:
    """The whole app over in-memory tracking and registry stores."""
    services = Services(
        InMemoryStore(), objects, "default", "0.1.0", SingleUser(lambda: ["default"])
    )
    app = build_app(services, InMemoryRegistryStore())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
