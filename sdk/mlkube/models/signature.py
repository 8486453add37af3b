"""Model signatures: what a model takes (inputs, params) and returns (outputs).

The MLmodel file stores each part as a JSON string, exactly as MLflow writes it:

- a column-based schema: ``[{"type": "double", "name": "age", "required": true}, ...]`` (names
  are optional; composite types such as ``array``, ``object`` and ``map`` carry extra keys);
- a tensor-based schema: ``[{"type": "tensor", "tensor-spec": {"dtype": "float64",
  "shape": [-1, 10]}, "name": "x"}]``;
- params: ``[{"name": "k", "default": 0.5, "shape": null, "type": "double"}]``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlkube.api.errors import problems_of
from mlkube.models.errors import ModelError


class DataType(StrEnum):
    """MLflow's scalar column types."""

    BOOLEAN = "boolean"
    INTEGER = "integer"
    LONG = "long"
    FLOAT = "float"
    DOUBLE = "double"
    STRING = "string"
    BINARY = "binary"
    DATETIME = "datetime"

    @property
    def numpy(self) -> np.dtype[Any]:
        """The numpy dtype a column of this type has once enforced."""
        return np.dtype(_NUMPY[self])


_NUMPY = {
    DataType.BOOLEAN: "bool",
    DataType.INTEGER: "int32",
    DataType.LONG: "int64",
    DataType.FLOAT: "float32",
    DataType.DOUBLE: "float64",
    DataType.STRING: "object",
    DataType.BINARY: "object",
    DataType.DATETIME: "datetime64[ns]",
}
# Types whose values mlkube passes through without checking them (documented as a limit).
COMPOSITE_TYPES = frozenset({"array", "object", "map", "any", "sparkml_vector"})


class ColSpec(BaseModel):
    """One column: a scalar DataType, or a composite type whose extra keys are kept as written."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str
    name: str | None = None
    required: bool = True

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in set(DataType) and value not in COMPOSITE_TYPES:
            known = ", ".join([*DataType, *sorted(COMPOSITE_TYPES)])
            raise ValueError(f"unknown column type {value!r}; expected one of {known}")
        return value

    @property
    def data_type(self) -> DataType | None:
        """The scalar type, or None for a composite type."""
        return DataType(self.type) if self.type in set(DataType) else None

    def to_dict(self) -> dict[str, Any]:
        # MLflow's key order: type, the composite's own keys, name, required.
        out: dict[str, Any] = {"type": self.type, **(self.model_extra or {})}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


class TensorInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dtype: str
    shape: tuple[int, ...]

    @field_validator("dtype")
    @classmethod
    def _numpy_dtype(cls, value: str) -> str:
        try:
            np.dtype(value)
        except TypeError:
            raise ValueError(f"{value!r} is not a numpy dtype (e.g. float64, int32)") from None
        return value


class TensorSpec(BaseModel):
    """One tensor: a numpy dtype and a shape where -1 is a free dimension."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    type: str = Field(default="tensor", pattern="^tensor$")
    tensor_spec: TensorInfo = Field(alias="tensor-spec")
    name: str | None = None

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(self.tensor_spec.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.tensor_spec.shape

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.name is None else {"name": self.name}
        out["type"] = "tensor"
        out["tensor-spec"] = {"dtype": self.tensor_spec.dtype, "shape": list(self.shape)}
        return out


class Schema(BaseModel):
    """A list of columns or a list of tensors (never both)."""

    model_config = ConfigDict(frozen=True)

    columns: tuple[ColSpec, ...] = ()
    tensors: tuple[TensorSpec, ...] = ()

    @property
    def is_tensor(self) -> bool:
        return bool(self.tensors)

    @property
    def specs(self) -> tuple[ColSpec | TensorSpec, ...]:
        return self.tensors or self.columns

    @property
    def has_names(self) -> bool:
        specs = self.specs
        return bool(specs) and all(spec.name is not None for spec in specs)

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.specs if spec.name is not None]

    def to_json(self) -> str:
        return json.dumps([spec.to_dict() for spec in self.specs])

    @classmethod
    def from_json(cls, text: str, field: str) -> Schema:
        """Parse the JSON string of ``signature.<field>``; errors name the entry and the fix."""
        items = _json_list(text, f"signature.{field}")
        if not items:
            return cls()
        kinds = {isinstance(item, dict) and item.get("type") == "tensor" for item in items}
        if len(kinds) > 1:
            raise ModelError(
                f"signature.{field}: mixes tensors and columns; a schema holds one kind only"
            )
        try:
            if kinds == {True}:
                return cls(tensors=tuple(TensorSpec.model_validate(item) for item in items))
            return cls(columns=tuple(ColSpec.model_validate(item) for item in items))
        except ValidationError as err:
            index = _failing_index(items, TensorSpec if kinds == {True} else ColSpec)
            prefix = f"signature.{field}[{index}]"
            raise ModelError("; ".join(problems_of(err, prefix))) from None


class ParamSpec(BaseModel):
    """One inference parameter with its default; ``shape`` (-1,) means a list of values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: DataType
    default: Any = None
    shape: tuple[int, ...] | None = None

    @field_validator("shape")
    @classmethod
    def _shape(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value not in (None, (-1,)):
            raise ValueError("a param's shape is null (a scalar) or [-1] (a list)")
        return value

    def to_dict(self) -> dict[str, Any]:
        shape = None if self.shape is None else list(self.shape)
        return {"name": self.name, "default": self.default, "shape": shape, "type": self.type}


class ParamSchema(BaseModel):
    model_config = ConfigDict(frozen=True)

    params: tuple[ParamSpec, ...] = ()

    def to_json(self) -> str:
        return json.dumps([param.to_dict() for param in self.params], default=str)

    @classmethod
    def from_json(cls, text: str) -> ParamSchema:
        items = _json_list(text, "signature.params")
        try:
            return cls(params=tuple(ParamSpec.model_validate(item) for item in items))
        except ValidationError as err:
            prefix = f"signature.params[{_failing_index(items, ParamSpec)}]"
            raise ModelError("; ".join(problems_of(err, prefix))) from None


class Signature(BaseModel):
    """Inputs, outputs and params, each optional."""

    model_config = ConfigDict(frozen=True)

    inputs: Schema | None = None
    outputs: Schema | None = None
    params: ParamSchema | None = None

    def to_mlmodel(self) -> dict[str, str | None]:
        """The ``signature`` mapping of an MLmodel file: JSON strings or null."""
        return {
            "inputs": None if self.inputs is None else self.inputs.to_json(),
            "outputs": None if self.outputs is None else self.outputs.to_json(),
            "params": None if self.params is None else self.params.to_json(),
        }

    @classmethod
    def from_mlmodel(cls, raw: dict[str, Any]) -> Signature:
        def text(key: str) -> str | None:
            value = raw.get(key)
            if value is not None and not isinstance(value, str):
                raise ModelError(
                    f"signature.{key}: expected a JSON string (as MLflow writes it), "
                    f"got {type(value).__name__}"
                )
            return value

        inputs, outputs, params = text("inputs"), text("outputs"), text("params")
        return cls(
            inputs=None if inputs is None else Schema.from_json(inputs, "inputs"),
            outputs=None if outputs is None else Schema.from_json(outputs, "outputs"),
            params=None if params is None else ParamSchema.from_json(params),
        )


def _json_list(text: str, where: str) -> list[Any]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelError(f"{where}: not valid JSON ({err})") from None
    if not isinstance(items, list):
        raise ModelError(f"{where}: expected a JSON list of specs, got {type(items).__name__}")
    return items


def _failing_index(items: list[Any], model: type[BaseModel]) -> int:
    for index, item in enumerate(items):
        try:
            model.model_validate(item)
        except ValidationError:
            return index
    return 0
