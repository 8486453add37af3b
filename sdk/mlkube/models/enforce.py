"""Signature enforcement: shape the input the way MLflow's pyfunc does before ``predict``.

Column-based signatures turn the input into a DataFrame holding the signature's columns, in its
order, each converted to its type when that is safe (int -> double, float32 -> double, ...);
extra columns are dropped. Tensor-based signatures check shape and dtype. Params are checked
against their specs and filled with defaults. Errors are ``InputError`` naming the column or
param and the expected type.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from mlkube.models.errors import InputError
from mlkube.models.signature import DataType, ParamSchema, ParamSpec, Schema, TensorSpec


def enforce_schema(data: Any, schema: Schema) -> Any:
    """``data`` shaped and typed to fit ``schema``; raises InputError."""
    if schema.is_tensor:
        return _enforce_tensors(data, schema)
    frame = _as_frame(data)
    if schema.has_names:
        return _enforce_named_columns(frame, schema)
    return _enforce_unnamed_columns(frame, schema)


def _is_scalar(value: Any) -> bool:
    return value is None or bool(np.isscalar(value))


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if _is_scalar(data):
        return pd.DataFrame([data])
    if isinstance(data, dict):
        # One row when every value is a scalar (or a list of strings, a single text cell);
        # otherwise columns of values.
        if all(
            _is_scalar(v) or (isinstance(v, list) and all(isinstance(i, str) for i in v))
            for v in data.values()
        ):
            return pd.DataFrame([data])
        try:
            return pd.DataFrame(
                {
                    key: value.tolist()
                    if isinstance(value, np.ndarray) and value.ndim > 1
                    else value
                    for key, value in data.items()
                }
            )
        except ValueError as err:
            raise InputError(f"the input columns do not form a table: {err}") from None
    if isinstance(data, list | np.ndarray):
        return pd.DataFrame(data)
    raise InputError(
        f"this model's signature has columns, so the input must be table-like; got "
        f"{type(data).__name__}"
    )


def _enforce_named_columns(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    present = set(frame.columns)
    missing = [c.name for c in schema.columns if c.required and c.name not in present]
    if missing:
        expected = ", ".join(f"{c.name} ({c.type})" for c in schema.columns)
        raise InputError(
            f"missing input column(s) {missing}; the model's signature expects: {expected}"
        )
    columns: dict[str, Any] = {}
    for spec in schema.columns:
        assert spec.name is not None  # has_names
        if spec.name not in present:
            continue
        data_type = spec.data_type
        values = frame[spec.name]
        columns[spec.name] = (
            values if data_type is None else enforce_column(spec.name, values, data_type)
        )
    return pd.DataFrame(columns, index=frame.index)


def _enforce_unnamed_columns(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    if len(frame.columns) < len(schema.columns):
        raise InputError(
            f"the model's signature declares {len(schema.columns)} unnamed input columns, but "
            f"the input has {len(frame.columns)}"
        )
    columns: dict[Any, Any] = {}
    for name, spec in zip(frame.columns, schema.columns, strict=False):
        data_type = spec.data_type
        values = frame[name]
        columns[name] = values if data_type is None else enforce_column(name, values, data_type)
    return pd.DataFrame(columns, index=frame.index)


def enforce_column(name: Any, values: pd.Series[Any], expected: DataType) -> pd.Series[Any]:
    """One column converted to ``expected`` when that loses nothing, else an InputError."""
    if values.dtype.kind == "O" and expected not in (DataType.STRING, DataType.BINARY):
        values = values.infer_objects()
    dtype = values.dtype
    if expected in (DataType.STRING, DataType.BINARY) and (
        dtype.kind == "O" or isinstance(dtype, pd.StringDtype)
    ):
        return values
    target = expected.numpy
    if dtype == target:
        return values
    if expected == DataType.BINARY and dtype.kind == "S":
        return values
    if expected == DataType.DATETIME and dtype.kind in "MO":
        try:
            return values.astype("datetime64[ns]")
        except (TypeError, ValueError) as err:
            raise _mismatch(name, values, expected, f" ({err})") from None
    if expected == DataType.BOOLEAN and dtype.kind == "O":
        return values  # converting would turn None into False
    if _safe_cast(dtype, target) or (
        dtype == np.int64
        and target.kind == "f"
        and all(pd.isnull(v) or v in (0, 1) for v in values)
    ):
        return values.astype(target)
    hint = ""
    if dtype == np.float64 and target.kind in "iu" and values.hasnans:
        hint = (
            "; integers cannot hold missing values, so they arrive as floats: declare the "
            "column as double in the signature if it may be missing"
        )
    raise _mismatch(name, values, expected, hint)


def _safe_cast(source: np.dtype[Any], target: np.dtype[Any]) -> bool:
    if source.kind == target.kind:
        return source.itemsize <= target.itemsize
    if source.kind == "u" and target.kind == "i":
        return source.itemsize < target.itemsize
    if source.kind in "iu" and target == np.float64:
        # Integers up to 48 bits are exact in a double.
        return source.itemsize <= 6
    return False


def _mismatch(name: Any, values: pd.Series[Any], expected: DataType, hint: str) -> InputError:
    return InputError(
        f"column {name!r}: expected {expected} ({expected.numpy}), got values of type "
        f"{values.dtype} that cannot be converted without loss{hint}"
    )


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    if schema.has_names:
        if isinstance(data, pd.DataFrame):
            return {
                spec.name: _column_as_tensor(spec.name, data[spec.name], spec)
                for spec in schema.tensors
                if spec.name is not None
            }
        if not isinstance(data, dict):
            raise InputError(
                "this model's signature has named tensors, so the input must map each name to "
                f"an array; got {type(data).__name__}"
            )
        missing = [spec.name for spec in schema.tensors if spec.name not in data]
        if missing:
            raise InputError(f"missing input tensor(s) {missing}")
        out = {}
        for spec in schema.tensors:
            assert spec.name is not None
            value = data[spec.name]
            if not isinstance(value, np.ndarray):
                raise InputError(
                    f"tensor {spec.name!r}: expected an array, got {type(value).__name__}"
                )
            out[spec.name] = check_tensor(spec.name, value, spec)
        return out
    spec = schema.tensors[0]
    if isinstance(data, pd.DataFrame):
        if data.empty:
            raise InputError("the input is empty")
        if len(data.columns) == 1:
            return _column_as_tensor(None, data[data.columns[0]], spec)
        if spec.shape != (-1, len(data.columns)):
            raise InputError(
                f"the model expects a tensor of shape {list(spec.shape)}; the input table has "
                f"{len(data.columns)} columns"
            )
        return check_tensor(None, data.to_numpy(), spec)
    if isinstance(data, np.ndarray):
        return check_tensor(None, data, spec)
    raise InputError(
        f"this model's signature is a tensor, so the input must be an array; got "
        f"{type(data).__name__}"
    )


def check_tensor(name: str | None, value: np.ndarray[Any, Any], spec: TensorSpec) -> Any:
    """``value`` when its shape and dtype fit ``spec``, else an InputError."""
    what = "the input" if name is None else f"tensor {name!r}"
    expected, actual = spec.shape, value.shape
    if spec.dtype.kind == "O" and expected == (-1,):
        return value  # any ragged input passes
    if len(expected) > 1 and -1 in expected[1:] and len(actual) == 1 and value.dtype.kind == "O":
        return value  # a ragged array against free inner dimensions
    if len(expected) != len(actual) or any(
        e not in (-1, a) for e, a in zip(expected, actual, strict=True)
    ):
        raise InputError(f"{what}: expected shape {list(expected)}, got {list(actual)}")
    if _clean(value.dtype) != spec.dtype:
        raise InputError(f"{what}: expected dtype {spec.dtype}, got {value.dtype}")
    return value


def _clean(dtype: np.dtype[Any]) -> np.dtype[Any]:
    # Strings and bytes of any width match their kind, as in MLflow.
    if dtype.kind == "U":
        return np.dtype("str")
    if dtype.kind == "S":
        return np.dtype("bytes")
    return dtype


def _column_as_tensor(name: str | None, values: pd.Series[Any], spec: TensorSpec) -> Any:
    what = "the input" if name is None else f"column {name!r}"
    if spec.shape[0] != -1 or -1 in spec.shape[1:]:
        raise InputError(
            f"{what}: a table can only feed a tensor whose first dimension is -1 and others are "
            f"fixed; the signature's shape is {list(spec.shape)}"
        )
    first = values.iloc[0]
    try:
        if np.isscalar(first):
            if spec.shape not in ((-1,), (-1, 1)):
                raise InputError(
                    f"{what}: holds scalars, which fit shape [-1] or [-1, 1], not "
                    f"{list(spec.shape)}"
                )
            return check_tensor(name, np.array(values, dtype=spec.dtype).reshape(spec.shape), spec)
        if isinstance(first, list | np.ndarray):
            stacked = np.vstack(values.tolist()).reshape(spec.shape)
            if isinstance(first, list):
                stacked = stacked.astype(spec.dtype)
            if len(stacked) != len(values):
                raise ValueError("row count changed")
            return check_tensor(name, stacked, spec)
    except ValueError:
        raise InputError(
            f"{what}: cannot reshape the values to {list(spec.shape)} of {spec.dtype}; make every "
            "row the same length"
        ) from None
    raise InputError(f"{what}: values must be scalars, lists or arrays of scalars")


# The Python and numpy value types a param of each type accepts (int -> double is safe, and a
# bool is not an int here although Python says it is).
_ACCEPTS: dict[DataType, tuple[type, ...]] = {
    DataType.BOOLEAN: (bool, np.bool_),
    DataType.INTEGER: (int, np.int32),
    DataType.LONG: (int, np.int32, np.int64),
    DataType.FLOAT: (float, np.float32, int, np.int32, np.int64),
    DataType.DOUBLE: (float, np.float64, np.float32, int, np.int32, np.int64),
    DataType.STRING: (str, np.str_),
    DataType.BINARY: (bytes, bytearray),
}
_PYTHON: dict[DataType, type] = {
    DataType.BOOLEAN: bool,
    DataType.INTEGER: int,
    DataType.LONG: int,
    DataType.FLOAT: float,
    DataType.DOUBLE: float,
    DataType.STRING: str,
    DataType.BINARY: bytes,
}


def enforce_params(params: Any, schema: ParamSchema | None) -> dict[str, Any] | None:
    """Params checked against ``schema``, unknown ones dropped, missing ones defaulted."""
    if schema is None:
        # MLflow ignores params when the signature declares none.
        return None if params is None else {}
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InputError(f"params must be a JSON object; got {type(params).__name__}")
    out: dict[str, Any] = {}
    problems = []
    for spec in schema.params:
        if spec.name not in params:
            out[spec.name] = spec.default
            continue
        try:
            out[spec.name] = _param_value(params[spec.name], spec)
        except InputError as err:
            problems.append(f"params.{spec.name}: {err}")
    if problems:
        raise InputError("; ".join(problems))
    return out


def _param_value(value: Any, spec: ParamSpec) -> Any:
    if value is None:
        return None
    if spec.shape == (-1,):
        if not isinstance(value, list | np.ndarray):
            raise InputError(f"expected a list of {spec.type}, got {type(value).__name__}")
        return [_scalar_param(item, spec.type) for item in value]
    return _scalar_param(value, spec.type)


def _scalar_param(value: Any, expected: DataType) -> Any:
    if expected == DataType.DATETIME:
        try:
            parsed = np.datetime64(value).item()
        except ValueError:
            parsed = None
        if not isinstance(parsed, dt.date):
            raise InputError(f"expected a datetime, got {value!r}")
        return parsed
    if type(value) not in _ACCEPTS[expected]:
        raise InputError(f"expected {expected}, got {type(value).__name__} value {value!r}")
    return _PYTHON[expected](value)
