"""The MLmodel file: MLflow's layout read, unknown keys kept, errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.models import MLModel, ModelError
from mlkube.models.mlmodel import PyFuncFlavor, SklearnFlavor

# Written by mlflow 3.17.2's `mlflow.sklearn.log_model` (trimmed signature).
LOGGED = """\
artifact_path: /tmp/mlruns/0/models/m-cd7e/artifacts
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.skops
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.skops
    serialization_format: skops
    sklearn_version: 1.9.1
    skops_trusted_types:
    - sklearn.tree._tree.Tree
is_signature_from_type_hint: false
mlflow_version: 3.17.2
model_id: m-cd7ee412e33844318aedf6dadebfd623
model_size_bytes: 113936
model_uuid: m-cd7ee412e33844318aedf6dadebfd623
prompts: null
run_id: 983ac4f3710a4d82b005f2ce5b408801
saved_input_example_info:
  artifact_path: input_example.json
  pandas_orient: split
  serving_input_path: serving_input_example.json
  type: dataframe
signature:
  inputs: '[{"type": "double", "name": "age", "required": true}]'
  outputs: '[{"type": "double", "required": true}]'
  params: null
type_hint_from_example: false
utc_time_created: '2026-11-26 08:38:47.093873'
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "MLmodel").write_text(text)
    return tmp_path


def test_reads_what_mlflow_logs(tmp_path: Path) -> None:
    model = MLModel.load(write(tmp_path, LOGGED))
    assert model.run_id == "983ac4f3710a4d82b005f2ce5b408801"
    assert model.model_id == "m-cd7ee412e33844318aedf6dadebfd623"
    assert model.mlflow_version == "3.17.2"
    pyfunc = model.flavor("python_function", PyFuncFlavor)
    assert (pyfunc.loader_module, pyfunc.model_path) == ("mlflow.sklearn", "model.skops")
    sklearn = model.flavor("sklearn", SklearnFlavor)
    assert sklearn.skops_trusted_types == ["sklearn.tree._tree.Tree"]
    assert model.saved_input_example_info is not None
    assert model.saved_input_example_info.serving_input_path == "serving_input_example.json"
    signature = model.get_signature()
    assert signature is not None
    assert signature.inputs is not None
    assert signature.inputs.names == ["age"]


def test_unknown_keys_survive_a_round_trip(tmp_path: Path) -> None:
    model = MLModel.load(write(tmp_path, LOGGED))
    out = tmp_path / "copy"
    out.mkdir()
    model.save(out)
    again = MLModel.load(out)
    # Unknown keys are kept; null values (prompts: null) are not written back.
    assert again.model_extra == {
        "is_signature_from_type_hint": False,
        "type_hint_from_example": False,
    }
    assert again.model_dump() == model.model_dump(exclude={"prompts"})


def test_new_models_get_a_uuid_and_a_creation_time() -> None:
    model = MLModel.new()
    assert model.model_uuid is not None
    assert len(model.model_uuid) == 32
    assert model.utc_time_created is not None
    assert model.utc_time_created[:2] == "20"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("flavors: {}\nmodel_size_bytes: lots\n", "model_size_bytes: input should be a valid"),
        ("run_id: x\n", "flavors: required field is missing"),
        ("- a\n", "expected a mapping of fields, got list"),
        ('flavors: {}\nsignature:\n  inputs: \'[{"type": "blob"}]\'\n', "signature.inputs[0]"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ModelError) as err:
        MLModel.load(write(tmp_path, text))
    assert message in str(err.value)


def test_a_missing_flavor_lists_the_present_ones(tmp_path: Path) -> None:
    model = MLModel.load(write(tmp_path, LOGGED))
    with pytest.raises(ModelError, match=r"flavors.xgboost: missing \(the model's flavors: "):
        model.flavor("xgboost", SklearnFlavor)


def test_a_directory_without_mlmodel(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no MLmodel file"):
        MLModel.load(tmp_path)
