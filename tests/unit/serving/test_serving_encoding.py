"""Predictions are written as MLflow writes them: arrays as lists, tables as records."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd

from mlkube.serving.encoding import encode_predictions


def decoded(value: object) -> object:
    return orjson.loads(encode_predictions(value))["predictions"]  # type: ignore[index]


def test_arrays_become_lists() -> None:
    assert decoded(np.array([1.5, 2.0])) == [1.5, 2.0]
    assert decoded(np.array([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    assert decoded(np.array(["a", "b"])) == ["a", "b"]
    assert decoded(np.array([True, False])) == [True, False]


def test_float32_widens_exactly_as_tolist_does() -> None:
    values = np.array([0.1, 1 / 3], dtype=np.float32)
    assert decoded(values) == values.tolist()


def test_frames_and_series_become_records() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]})
    assert decoded(frame) == [{"x": 1.0, "y": "a"}, {"x": 2.0, "y": "b"}]
    assert decoded(pd.Series([1.0, 2.0], name="p")) == [{"p": 1.0}, {"p": 2.0}]
    assert decoded(pd.Series([1.0])) == [{"0": 1.0}]


def test_plain_values_pass_through() -> None:
    assert decoded([1, "a", None]) == [1, "a", None]
    assert decoded({"answer": np.int64(42)}) == {"answer": 42}
