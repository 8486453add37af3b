"""The MLmodel file: typed, read and written the way MLflow 3.17 does.

Known keys are typed; keys mlkube does not know (other flavors' settings, ``prompts``,
``metadata``, ...) are kept as they are, so a model read and written again loses nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlkube.api.errors import problems_of
from mlkube.models.errors import ModelError
from mlkube.models.signature import Signature

MLMODEL = "MLmodel"
PYFUNC = "python_function"
SKLEARN = "sklearn"


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


F = TypeVar("F", bound=_Section)


class PyFuncEnv(_Section):
    conda: str | None = None
    virtualenv: str | None = None


class PyFuncFlavor(_Section):
    """``flavors.python_function``: how any pyfunc loader finds and wraps the model."""

    loader_module: str
    model_path: str | None = None
    python_model: str | None = None
    data: str | None = None
    code: str | None = None
    env: PyFuncEnv | str | None = None
    predict_fn: str | None = None
    python_version: str | None = None
    artifacts: dict[str, dict[str, str]] | None = None
    cloudpickle_version: str | None = None
    model_config_: dict[str, Any] | None = Field(default=None, alias="model_config")
    streamable: bool | None = None


class SklearnFlavor(_Section):
    """``flavors.sklearn``: the serialized estimator and how it was serialized."""

    pickled_model: str
    serialization_format: str = "pickle"
    sklearn_version: str | None = None
    code: str | None = None
    skops_trusted_types: list[str] | None = None


class SavedInputExampleInfo(_Section):
    artifact_path: str
    type: str
    serving_input_path: str | None = None
    pandas_orient: str | None = None
    format: str | None = None
    params: str | None = Field(default=None, description="'true' when the example has params")


class MLModel(_Section):
    """The whole MLmodel file."""

    artifact_path: str | None = None
    flavors: dict[str, dict[str, Any]]
    model_uuid: str | None = None
    model_id: str | None = None
    run_id: str | None = None
    utc_time_created: str | None = None
    mlflow_version: str | None = None
    model_size_bytes: int | None = None
    saved_input_example_info: SavedInputExampleInfo | None = None
    signature: dict[str, str | None] | None = None
    metadata: dict[str, Any] | None = None

    @classmethod
    def new(cls, **fields: Any) -> MLModel:
        """A fresh MLmodel as ``save_model`` writes it: a uuid and the creation time."""
        created = datetime.now(UTC).replace(tzinfo=None)
        return cls(model_uuid=uuid.uuid4().hex, utc_time_created=str(created), flavors={}, **fields)

    @property
    def pyfunc(self) -> PyFuncFlavor | None:
        return self.flavor(PYFUNC, PyFuncFlavor) if PYFUNC in self.flavors else None

    def flavor(self, name: str, kind: type[F]) -> F:
        """``flavors.<name>`` parsed as ``kind``; errors name the field and the fix."""
        if name not in self.flavors:
            present = ", ".join(self.flavors) or "none"
            raise ModelError(f"flavors.{name}: missing (the model's flavors: {present})")
        try:
            return kind.model_validate(self.flavors[name])
        except ValidationError as err:
            raise ModelError("; ".join(problems_of(err, f"flavors.{name}"))) from None

    def get_signature(self) -> Signature | None:
        if not self.signature:
            return None
        return Signature.from_mlmodel(self.signature)

    def set_signature(self, signature: Signature | None) -> None:
        self.signature = None if signature is None else signature.to_mlmodel()

    def to_yaml(self) -> str:
        data = self.model_dump(by_alias=True, exclude_none=True)
        return yaml.safe_dump(data, default_flow_style=False, sort_keys=True)

    def save(self, directory: Path) -> Path:
        path = directory / MLMODEL
        path.write_text(self.to_yaml())
        return path

    @classmethod
    def load(cls, directory: Path) -> MLModel:
        """Read ``<directory>/MLmodel``; errors name the file, the field and the fix."""
        path = directory / MLMODEL if directory.is_dir() else directory
        if not path.is_file():
            raise ModelError(
                f"{path}: no MLmodel file; a model directory holds one (save the model with "
                "mlflow or mlkube.models)"
            )
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ModelError(f"{path}: not valid YAML ({err})") from None
        if not isinstance(raw, dict):
            raise ModelError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
        try:
            model = cls.model_validate(raw)
        except ValidationError as err:
            raise ModelError(f"{path}: " + "; ".join(problems_of(err))) from None
        model.get_signature()  # validate eagerly, so a bad signature fails at load time
        return model
