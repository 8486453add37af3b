"""Unit tests of the tracking server: pure code and the in-memory store, no services.

The REST layer runs in-process (Starlette's test client over the in-memory store and in-memory
object storage); the store contract (tests/contracts/tracking.py) runs against the in-memory
store here and against the Kubernetes store in tests/integration/tracking.

One module, test_tracking_server_bounds.py, runs the real server process (memory backend, a
loopback port) because what it checks happens in uvicorn, below the app: the server's memory
while a body streams in, and the deadlines on request heads and bodies (issue 13).
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

# The shared contract suite is a helper module, not a test file: rewrite its asserts too.
pytest.register_assert_rewrite("tests.contracts.tracking")


@pytest.fixture
def client() -> Iterator[TestClient]:
    """The whole API (tracking and registry) over the in-memory stores, as a single user (no
    tokens)."""
    services = Services(
        InMemoryStore(), MemoryObjects(), "default", "0.1.0", SingleUser(lambda: ["default"])
    )
    app = build_app(services, InMemoryRegistryStore())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
