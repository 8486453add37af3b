"""Unit tests of the tracking server: pure code and the in-memory store, no services.

The REST layer runs in-process (Starlette's test client over the in-memory store and in-memory
object storage); the store contract (tests/contracts/tracking.py) runs against the in-memory
store here and against the Kubernetes store in tests/integration/tracking.
"""

import pytest

# The shared contract suite is a helper module, not a test file: rewrite its asserts too.
pytest.register_assert_rewrite("tests.contracts.tracking")
