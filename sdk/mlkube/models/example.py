"""Input examples: ``input_example.json`` and the request that scores it,
``serving_input_example.json``, described by ``saved_input_example_info`` in the MLmodel.

An example is a DataFrame, a numpy array (or a dict of them), a JSON value, or a tuple of one
of those and a params dict.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlkube.models.errors import ModelError
from mlkube.models.mlmodel import MLModel, SavedInputExampleInfo

EXAMPLE = "input_example.json"
SERVING_EXAMPLE = "serving_input_example.json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        import base64

        return base64.encodebytes(bytes(value)).decode("ascii")
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def save_example(directory: Path, example: Any) -> SavedInputExampleInfo:
    """Write the example files into ``directory`` and describe them."""
    params = None
    if isinstance(example, tuple) and len(example) == 2 and isinstance(example[1], dict):
        example, params = example
    info: dict[str, Any] = {"artifact_path": EXAMPLE, "serving_input_path": SERVING_EXAMPLE}
    if isinstance(example, pd.DataFrame):
        split = example.astype(object).where(example.notna(), None).to_dict(orient="split")
        del split["index"]
        if list(example.columns) == list(range(len(example.columns))):
            del split["columns"]
        stored: Any = split
        serving: dict[str, Any] = {"dataframe_split": split}
        info.update(type="dataframe", pandas_orient="split" if "columns" in split else "values")
    elif isinstance(example, np.ndarray) or (
        isinstance(example, dict) and any(isinstance(v, np.ndarray) for v in example.values())
    ):
        if isinstance(example, dict) and not all(
            isinstance(v, np.ndarray) for v in example.values()
        ):
            raise ModelError("input_example: a dict example holds only arrays or no arrays")
        stored = example
        serving = {"inputs": example}
        info["type"] = "ndarray"
    elif isinstance(example, dict | list | str | int | float | bool):
        stored = example
        serving = {"inputs": example}
        info["type"] = "json_object"
    else:
        raise ModelError(
            f"input_example: cannot store a {type(example).__name__}; use a pandas DataFrame, "
            "a numpy array, a dict of arrays, or a JSON value (dict, list, scalar)"
        )
    if params is not None:
        stored = {"inputs": stored, "params": params}
        serving["params"] = params
        info["params"] = "true"
    (directory / EXAMPLE).write_text(json.dumps(_jsonable(stored)))
    (directory / SERVING_EXAMPLE).write_text(json.dumps(_jsonable(serving), indent=2))
    return SavedInputExampleInfo.model_validate(info)


def load_example(directory: Path, model: MLModel) -> Any:
    """The example data as the model scores it (DataFrame, array, or JSON value); None when the
    model has no example."""
    info = model.saved_input_example_info
    if info is None:
        return None
    path = directory / info.artifact_path
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ModelError(
            f"saved_input_example_info.artifact_path: cannot read {path}: {err}"
        ) from None
    if info.params:
        stored = stored["inputs"]
    if info.type == "dataframe":
        if isinstance(stored, dict):
            return pd.DataFrame(data=stored.get("data"), columns=stored.get("columns"))
        return pd.DataFrame(stored)
    if info.type == "ndarray":
        if isinstance(stored, dict):
            return {name: np.array(values) for name, values in stored.items()}
        return np.array(stored)
    if info.type == "json_object":
        return stored
    raise ModelError(
        f"saved_input_example_info.type: mlkube reads dataframe, ndarray and json_object "
        f"examples, not {info.type!r}"
    )


def load_serving_example(directory: Path, model: MLModel) -> str | None:
    """The body of a request that scores the example, as stored; None when there is none."""
    info = model.saved_input_example_info
    if info is None or not info.serving_input_path:
        return None
    return (directory / info.serving_input_path).read_text()
