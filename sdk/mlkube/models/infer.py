"""Inferring a signature from example data, the way MLflow's ``infer_signature`` does for the
common cases: DataFrames and Series become columns, numpy arrays become tensors, params become
typed ParamSpecs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlkube.models.errors import ModelError
from mlkube.models.signature import (
    ColSpec,
    DataType,
    ParamSchema,
    ParamSpec,
    Schema,
    Signature,
    TensorInfo,
    TensorSpec,
)

_BY_KIND = {"b": DataType.BOOLEAN, "M": DataType.DATETIME, "U": DataType.STRING}
_BY_DTYPE = {
    np.dtype("int8"): DataType.INTEGER,
    np.dtype("int16"): DataType.INTEGER,
    np.dtype("int32"): DataType.INTEGER,
    np.dtype("int64"): DataType.LONG,
    np.dtype("uint8"): DataType.INTEGER,
    np.dtype("uint16"): DataType.INTEGER,
    np.dtype("uint32"): DataType.LONG,
    np.dtype("float16"): DataType.FLOAT,
    np.dtype("float32"): DataType.FLOAT,
    np.dtype("float64"): DataType.DOUBLE,
}


def infer_signature(
    model_input: Any, model_output: Any = None, params: Mapping[str, Any] | None = None
) -> Signature:
    """A Signature for ``model_input`` (and ``model_output`` and ``params`` when given)."""
    return Signature(
        inputs=infer_schema(model_input, "model_input"),
        outputs=None if model_output is None else infer_schema(model_output, "model_output"),
        params=None if not params else infer_params(params),
    )


def infer_schema(data: Any, what: str = "data") -> Schema:
    if isinstance(data, pd.DataFrame):
        return Schema(
            columns=tuple(
                ColSpec(type=_column_type(data[name], f"{what}[{name!r}]"), name=str(name))
                for name in data.columns
            )
        )
    if isinstance(data, pd.Series):
        return Schema(columns=(ColSpec(type=_column_type(data, what)),))
    if isinstance(data, np.ndarray):
        shape = (-1, *data.shape[1:]) if data.ndim else ()
        dtype = data.dtype.name if data.dtype.kind != "O" else "object"
        return Schema(tensors=(TensorSpec(tensor_spec=TensorInfo(dtype=dtype, shape=shape)),))
    if isinstance(data, list) and data and all(isinstance(row, Mapping) for row in data):
        return infer_schema(pd.DataFrame(data), what)
    if isinstance(data, Mapping):
        return infer_schema(pd.DataFrame([data]), what)
    raise ModelError(
        f"cannot infer a schema from {what} of type {type(data).__name__}; pass a pandas "
        "DataFrame or Series, a numpy array, or build the Signature by hand"
    )


def infer_params(params: Mapping[str, Any]) -> ParamSchema:
    specs = []
    for name, value in params.items():
        if isinstance(value, list | tuple):
            if not value:
                raise ModelError(f"params[{name!r}]: cannot infer the type of an empty list")
            specs.append(
                ParamSpec(name=name, type=_scalar_type(value[0], name), default=list(value))
            )
            specs[-1] = specs[-1].model_copy(update={"shape": (-1,)})
        else:
            specs.append(ParamSpec(name=name, type=_scalar_type(value, name), default=value))
    return ParamSchema(params=tuple(specs))


def _scalar_type(value: Any, name: str) -> DataType:
    # bool before int: a bool is an int in Python.
    if isinstance(value, bool | np.bool_):
        return DataType.BOOLEAN
    if isinstance(value, int | np.integer):
        return DataType.LONG
    if isinstance(value, float | np.floating):
        return DataType.DOUBLE
    if isinstance(value, str):
        return DataType.STRING
    if isinstance(value, bytes):
        return DataType.BINARY
    raise ModelError(
        f"params[{name!r}]: cannot infer a type for {type(value).__name__}; use a bool, int, "
        "float, str or bytes (or a list of them)"
    )


def _column_type(values: pd.Series[Any], where: str) -> str:
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype):
        return DataType.STRING
    if dtype in _BY_DTYPE:
        return _BY_DTYPE[dtype]
    if dtype.kind in _BY_KIND:
        return _BY_KIND[dtype.kind]
    if dtype.kind == "O":
        present = values.dropna()
        if all(isinstance(v, str) for v in present):
            return DataType.STRING
        if all(isinstance(v, bytes | bytearray) for v in present):
            return DataType.BINARY
    raise ModelError(
        f"{where}: cannot infer a column type for dtype {dtype}; convert the column to a "
        "numeric, bool, string or datetime dtype"
    )
