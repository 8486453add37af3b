"""Signature enforcement: columns reordered and converted safely, clear errors otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlkube.models import InputError
from mlkube.models.enforce import enforce_params, enforce_schema
from mlkube.models.signature import ParamSchema, Schema

NAMED = Schema.from_json(
    '[{"type": "double", "name": "a"}, {"type": "long", "name": "b"}, '
    '{"type": "string", "name": "c", "required": false}]',
    "inputs",
)


def test_columns_come_out_in_signature_order_without_extras() -> None:
    frame = pd.DataFrame({"extra": [0], "b": [2], "a": [1.5]})
    out = enforce_schema(frame, NAMED)
    assert list(out.columns) == ["a", "b"]
    assert out.dtypes.tolist() == [np.float64, np.int64]


def test_safe_conversions_happen() -> None:
    out = enforce_schema({"a": np.array([1, 2], dtype=np.int32), "b": [3, 4]}, NAMED)
    assert out["a"].dtype == np.float64
    assert out["a"].tolist() == [1.0, 2.0]


def test_missing_columns_are_named_with_the_expected_types() -> None:
    with pytest.raises(InputError) as err:
        enforce_schema(pd.DataFrame({"a": [1.0]}), NAMED)
    assert str(err.value) == (
        "missing input column(s) ['b']; the model's signature expects: "
        "a (double), b (long), c (string)"
    )


def test_lossy_conversion_names_the_column_and_type() -> None:
    with pytest.raises(
        InputError, match=r"column 'b': expected long \(int64\), got values of type"
    ):
        enforce_schema(pd.DataFrame({"a": [1.0], "b": [1.5]}), NAMED)


def test_strings_for_a_number_are_refused() -> None:
    with pytest.raises(InputError, match=r"column 'a': expected double"):
        enforce_schema(pd.DataFrame({"a": ["x"], "b": [1]}), NAMED)


def test_missing_values_in_an_integer_column_get_a_hint() -> None:
    with pytest.raises(InputError, match="declare the column as double"):
        enforce_schema(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, None]}), NAMED)


def test_a_single_record_dict_is_one_row() -> None:
    out = enforce_schema({"a": 1.0, "b": 2}, NAMED)
    assert out.to_dict(orient="records") == [{"a": 1.0, "b": 2}]


def test_unnamed_columns_count() -> None:
    schema = Schema.from_json('[{"type": "double"}, {"type": "double"}]', "inputs")
    with pytest.raises(InputError, match="declares 2 unnamed input columns, but the input has 1"):
        enforce_schema(pd.DataFrame({"a": [1.0]}), schema)
    assert enforce_schema(np.array([[1.0, 2.0]]), schema).shape == (1, 2)


TENSOR = Schema.from_json(
    '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]', "inputs"
)


def test_tensors_check_shape_and_dtype() -> None:
    array = np.ones((3, 2))
    assert enforce_schema(array, TENSOR) is array
    with pytest.raises(InputError, match=r"expected shape \[-1, 2\], got \[3, 3\]"):
        enforce_schema(np.ones((3, 3)), TENSOR)
    with pytest.raises(InputError, match="expected dtype float64, got int64"):
        enforce_schema(np.ones((3, 2), dtype=np.int64), TENSOR)


def test_a_table_feeds_a_tensor() -> None:
    out = enforce_schema(pd.DataFrame({"a": [1.0], "b": [2.0]}), TENSOR)
    assert out.tolist() == [[1.0, 2.0]]


def test_named_tensors() -> None:
    schema = Schema.from_json(
        '[{"name": "x", "type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        "inputs",
    )
    assert enforce_schema({"x": np.array([1, 2])}, schema)["x"].tolist() == [1, 2]
    with pytest.raises(InputError, match=r"missing input tensor\(s\) \['x'\]"):
        enforce_schema({"y": np.array([1])}, schema)


PARAMS = ParamSchema.from_json(
    '[{"name": "k", "default": 0.5, "shape": null, "type": "double"}, '
    '{"name": "n", "default": 1, "shape": null, "type": "integer"}, '
    '{"name": "tags", "default": [], "shape": [-1], "type": "string"}]'
)


def test_params_default_convert_and_drop_unknowns() -> None:
    assert enforce_params({"k": 2, "n": 3, "unknown": 1}, PARAMS) == {"k": 2.0, "n": 3, "tags": []}
    assert enforce_params(None, PARAMS) == {"k": 0.5, "n": 1, "tags": []}


def test_bad_params_are_named() -> None:
    with pytest.raises(InputError) as err:
        enforce_params({"n": 1.5, "tags": "a"}, PARAMS)
    assert str(err.value) == (
        "params.n: expected integer, got float value 1.5; "
        "params.tags: expected a list of string, got str"
    )


def test_params_without_a_schema_are_ignored() -> None:
    assert enforce_params({"k": 1}, None) == {}
    assert enforce_params(None, None) is None
