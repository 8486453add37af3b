"""Integration tests of the model registry's Kubernetes store against the local control plane.

Boundary: the `cluster` fixture's real kube-apiserver (with the CRDs installed), nothing mocked;
no operator runs here, so versions stay PENDING_REGISTRATION (registration itself is tested end
to end in e2e/test_registry_api.py).
"""

import pytest

# The shared contract suite is a helper module, not a test file: rewrite its asserts too.
pytest.register_assert_rewrite("tests.contracts.registry")
