"""Signatures read and write MLflow's JSON strings, and infer from data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlkube.models import ModelError, infer_signature
from mlkube.models.signature import ColSpec, ParamSchema, Schema, Signature

# As MLflow 3.17 writes them (observed with mlflow.models.infer_signature).
COLUMNS = (
    '[{"type": "long", "name": "a", "required": true}, '
    '{"type": "double", "name": "b", "required": true}, '
    '{"type": "string", "name": "c", "required": true}, '
    '{"type": "boolean", "name": "d", "required": true}]'
)
TENSOR = '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]'
PARAMS = (
    '[{"name": "p", "default": 1, "shape": null, "type": "long"}, '
    '{"name": "q", "default": "x", "shape": null, "type": "string"}]'
)
COMPOSITE = '[{"type": "array", "items": {"type": "string"}, "name": "b", "required": false}]'


@pytest.mark.parametrize("text", [COLUMNS, TENSOR, COMPOSITE])
def test_schemas_round_trip_byte_for_byte(text: str) -> None:
    assert Schema.from_json(text, "inputs").to_json() == text


def test_params_round_trip() -> None:
    assert ParamSchema.from_json(PARAMS).to_json() == PARAMS


def test_inference_matches_mlflow() -> None:
    frame = pd.DataFrame({"a": [1], "b": [1.5], "c": ["x"], "d": [True]})
    signature = infer_signature(frame, np.array([1, 2]), params={"p": 1, "q": "x"})
    assert signature.to_mlmodel() == {
        "inputs": COLUMNS,
        "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        "params": PARAMS,
    }
    assert infer_signature(np.zeros((2, 3), dtype="float32")).inputs == Schema.from_json(
        TENSOR, "inputs"
    )


def test_list_params_have_shape() -> None:
    params = infer_signature(pd.DataFrame({"a": [1.0]}), params={"tags": ["a", "b"]}).params
    assert params is not None
    assert json.loads(params.to_json()) == [
        {"name": "tags", "default": ["a", "b"], "shape": [-1], "type": "string"}
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"type": "dbl", "name": "a"}]', "signature.inputs[0].type: unknown column type 'dbl'"),
        ("{", "signature.inputs: not valid JSON"),
        ('{"type": "double"}', "signature.inputs: expected a JSON list"),
        (
            '[{"type": "double"}, {"type": "tensor", "tensor-spec": {"dtype": "f8", "shape": []}}]',
            "mixes tensors and columns",
        ),
        (
            '[{"type": "tensor", "tensor-spec": {"dtype": "nope", "shape": [-1]}}]',
            "signature.inputs[0].tensor-spec.dtype: 'nope' is not a numpy dtype",
        ),
    ],
)
def test_bad_schemas_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ModelError, match=None) as err:
        Schema.from_json(text, "inputs")
    assert message in str(err.value)


def test_signature_parts_must_be_strings() -> None:
    with pytest.raises(ModelError, match=r"signature.inputs: expected a JSON string"):
        Signature.from_mlmodel({"inputs": [{"type": "double"}]})


def test_colspec_knows_scalar_and_composite_types() -> None:
    assert ColSpec(type="double").data_type == "double"
    assert ColSpec(type="array", items={"type": "long"}).data_type is None


def test_uninferable_data_says_what_to_pass() -> None:
    with pytest.raises(ModelError, match="build the Signature by hand"):
        infer_signature(object())
