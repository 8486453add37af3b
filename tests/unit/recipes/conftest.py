"""Unit tests of recipes (mlkube.recipes): recipe.yaml and profile validation, metrics, plots,
cards and cache keys.

Boundary: recipes written by ``mlkube recipes init`` into pytest's tmp_path; no tracking server
(the runs themselves are tests/integration/recipes), no subprocess.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.recipes import commands


@pytest.fixture
def regression(tmp_path: Path) -> Path:
    directory = tmp_path / "diabetes"
    assert commands.init("regression", directory) == 0
    return directory


@pytest.fixture
def classification(tmp_path: Path) -> Path:
    directory = tmp_path / "cancer"
    assert commands.init("classification", directory) == 0
    return directory
