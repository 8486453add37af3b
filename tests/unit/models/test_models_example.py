"""Input examples are stored and read back as MLflow stores them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlkube.models import MLModel, ModelError
from mlkube.models.example import load_example, save_example


def roundtrip(tmp_path: Path, example: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    model = MLModel.new()
    model.saved_input_example_info = save_example(tmp_path, example)
    stored = json.loads((tmp_path / "input_example.json").read_text())
    serving = json.loads((tmp_path / "serving_input_example.json").read_text())
    return load_example(tmp_path, model), stored, serving


def test_dataframe(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, float("nan")], "b": ["x", "y"]})
    loaded, stored, serving = roundtrip(tmp_path, frame)
    assert stored == {"columns": ["a", "b"], "data": [[1.0, "x"], [None, "y"]]}
    assert serving == {"dataframe_split": stored}
    assert loaded["b"].tolist() == ["x", "y"]


def test_ndarray_with_params(tmp_path: Path) -> None:
    loaded, stored, serving = roundtrip(tmp_path, (np.array([[1, 2]]), {"k": 1}))
    assert stored == {"inputs": [[1, 2]], "params": {"k": 1}}
    assert serving == {"inputs": [[1, 2]], "params": {"k": 1}}
    assert loaded.tolist() == [[1, 2]]


def test_json_object(tmp_path: Path) -> None:
    loaded, stored, serving = roundtrip(tmp_path, {"question": "why?"})
    assert loaded == stored == {"question": "why?"}
    assert serving == {"inputs": {"question": "why?"}}


def test_unsupported_examples_say_what_works(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="use a pandas DataFrame"):
        save_example(tmp_path, object())
