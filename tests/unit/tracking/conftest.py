"""Unit tests of the tracking server: pure code and the in-memory store, no services.

The REST layer runs in-process (Starlette's test client over the in-memory store and in-memory
object storage); the store contract (tests/contracts/tracking.py) runs against the in-memory
store here and against the Kubernetes store in tests/integration/tracking.

One module, test_tracking_server_bounds.py, runs the real server process (memory backend, a
loopback port) because what it checks happens in uvicorn, below the app: the server's memory
while a body streams in, and the deadlines on request heads and bodies (issue 13).
"""

import pytest

# The shared contract suite is a helper module, not a test file: rewrite its asserts too.
pytest.register_assert_rewrite("tests.contracts.tracking")
