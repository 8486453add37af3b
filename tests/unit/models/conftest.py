"""Unit tests of mlkube.models: the MLmodel format, signatures, enforcement, flavors.

Boundary: pure code plus files under pytest's tmp_path; scikit-learn estimators are trained in
the test on tiny data. Interop with the real `mlflow` package is tested in
tests/integration/models.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 0.0, 1.0, 0.5]})


@pytest.fixture(scope="session")
def regressor(frame: pd.DataFrame) -> LinearRegression:
    return LinearRegression().fit(frame, [1.0, 2.0, 3.0, 4.0])


@pytest.fixture(scope="session")
def classifier(frame: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(frame, [0, 1, 0, 1])
