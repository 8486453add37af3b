"""Marks every test with its tier by where it lives: tests/unit, tests/integration, e2e/; the fault
suite in e2e/faults/ is also marked `faults`."""

from __future__ import annotations

from pathlib import Path

import pytest

# The local control plane's fixtures (`cluster`, `namespace`) for the integration and e2e tiers.
pytest_plugins = ["e2e.cluster.fixtures"]

ROOT = Path(__file__).parent
TIERS = {
    ROOT / "tests" / "unit": "unit",
    ROOT / "tests" / "integration": "integration",
    ROOT / "e2e": "e2e",
    ROOT / "e2e" / "faults": "faults",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        for root, tier in TIERS.items():
            if root in path.parents:
                item.add_marker(getattr(pytest.mark, tier))
