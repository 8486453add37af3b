"""Request bodies of MLflow's scoring protocol turned into model input, the way MLflow does.

This is the general path: any payload, any signature. JSON bodies hold exactly one of
``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``, and optionally
``params``; CSV bodies are a table with a header. Values are cast to the signature's column
types here (as MLflow's server does), then the model's own enforcement runs in ``predict``.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import orjson
import pandas as pd

from mlkube.models.signature import ColSpec, DataType, Schema, TensorSpec

DF_SPLIT = "dataframe_split"
DF_RECORDS = "dataframe_records"
INSTANCES = "instances"
INPUTS = "inputs"
PARAMS = "params"
FORMATS = (DF_SPLIT, DF_RECORDS, INSTANCES, INPUTS)
REQUIRED_FORMAT = (
    "The input must be a JSON object with exactly one of the fields "
    f"{', '.join(FORMATS)} (and optionally {PARAMS})"
)

# What MLflow converts request values to, per column type (strings to numpy str, not object).
_REQUEST_DTYPES = {
    DataType.BOOLEAN: np.dtype("bool"),
    DataType.INTEGER: np.dtype("int32"),
    DataType.LONG: np.dtype("int64"),
    DataType.FLOAT: np.dtype("float32"),
    DataType.DOUBLE: np.dtype("float64"),
    DataType.STRING: np.dtype("str"),
    DataType.BINARY: np.dtype("bytes"),
    DataType.DATETIME: np.dtype("datetime64[ns]"),
}


class RequestError(ValueError):
    """The request body is malformed or does not fit the model; answered with 400."""


def decode_json(body: bytes) -> dict[str, Any]:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise RequestError(f"Invalid input. The body is not valid JSON: {err}") from None
    if not isinstance(decoded, dict):
        raise RequestError(f"{REQUIRED_FORMAT}; received a {_kind(decoded)}.")
    return decoded


def _kind(value: Any) -> str:
    names: dict[type, str] = {dict: "JSON object", list: "JSON list", str: "string"}
    return names.get(type(value), type(value).__name__)


def split_payload(payload: dict[str, Any]) -> tuple[str, Any, dict[str, Any] | None]:
    """The input format, its data and the params; every other key is an error."""
    formats = [key for key in FORMATS if key in payload]
    extra = sorted(set(payload) - set(FORMATS) - {PARAMS})
    if len(formats) != 1 or extra:
        got = ", ".join(sorted(payload)) or "none"
        raise RequestError(f"{REQUIRED_FORMAT}; received the fields: {got}.")
    params = payload.get(PARAMS)
    if params is not None and not isinstance(params, dict):
        raise RequestError(f"{PARAMS} must be a JSON object; received a {_kind(params)}.")
    return formats[0], payload[formats[0]], params


def parse_json(body: bytes, schema: Schema | None) -> tuple[Any, dict[str, Any] | None]:
    """Model input and params from a JSON body."""
    fmt, data, params = split_payload(decode_json(body))
    if fmt == DF_SPLIT:
        return _frame_from_split(data, schema), params
    if fmt == DF_RECORDS:
        return _frame_from_records(data, schema), params
    try:
        if fmt == INSTANCES:
            return _instances(data, schema), params
        return _cast(data, schema), params
    except (ValueError, TypeError, OverflowError) as err:
        raise RequestError(f"Invalid input. Cannot read the {fmt} field: {err}") from None


def _frame_from_split(data: Any, schema: Schema | None) -> pd.DataFrame:
    if not isinstance(data, dict):
        raise RequestError(f"{DF_SPLIT} must be a JSON object; received a {_kind(data)}.")
    keys = set(data)
    if "data" not in keys or keys - {"columns", "data", "index"}:
        raise RequestError(
            f"{DF_SPLIT} must have a 'data' field and optionally 'columns' and 'index'; "
            f"received the fields: {', '.join(sorted(keys)) or 'none'}."
        )
    try:
        frame = pd.DataFrame(
            data=data["data"], columns=data.get("columns"), index=data.get("index")
        )
    except (ValueError, TypeError) as err:
        raise RequestError(f"{DF_SPLIT} is not a valid table: {err}") from None
    return cast_frame(frame, schema)


def _frame_from_records(data: Any, schema: Schema | None) -> pd.DataFrame:
    if not isinstance(data, list):
        raise RequestError(f"{DF_RECORDS} must be a list of records; received a {_kind(data)}.")
    try:
        frame = pd.DataFrame(data=data)
    except (ValueError, TypeError) as err:
        raise RequestError(f"{DF_RECORDS} is not a valid table: {err}") from None
    return cast_frame(frame, schema)


def cast_frame(frame: pd.DataFrame, schema: Schema | None) -> pd.DataFrame:
    """Each column the signature names converted to its type (MLflow's request-time cast)."""
    if schema is None or not schema.specs:
        return frame
    if schema.has_names:
        pairs: list[tuple[Any, ColSpec | TensorSpec]] = [
            (spec.name, spec) for spec in schema.specs if spec.name in frame.columns
        ]
    elif schema.is_tensor and len(schema.tensors) == 1:
        pairs = [(column, schema.tensors[0]) for column in frame.columns]
    else:
        pairs = list(zip(frame.columns, schema.specs, strict=False))
    for column, spec in pairs:
        try:
            frame[column] = _cast_column(frame[column], spec)
        except (ValueError, TypeError, OverflowError) as err:
            expected = spec.type if isinstance(spec, ColSpec) else spec.dtype
            raise RequestError(
                f"Data is not compatible with the model signature: column {column!r} cannot be "
                f"converted to {expected}: {err}"
            ) from None
    return frame


def _cast_column(values: pd.Series[Any], spec: ColSpec | TensorSpec) -> Any:
    if isinstance(spec, TensorSpec):
        if len(values) and isinstance(values.iloc[0], list):
            return values  # reshaped by enforcement
        return values.astype(spec.dtype)
    data_type = spec.data_type
    if data_type is None:
        return values  # composite types are not checked (see mlkube.models.enforce)
    if data_type == DataType.BINARY:
        return values.map(lambda v: base64.decodebytes(bytes(v, "utf8")))
    if data_type == DataType.DATETIME:
        return pd.to_datetime(values).astype("datetime64[ns]")
    if data_type == DataType.STRING:
        return values if isinstance(values.dtype, pd.StringDtype) else values.astype(object)
    return values.astype(data_type.numpy)


def _spec_dtype(spec: ColSpec | TensorSpec | None) -> np.dtype[Any] | None:
    if spec is None:
        return None
    if isinstance(spec, TensorSpec):
        return spec.dtype
    data_type = spec.data_type
    return None if data_type is None else _REQUEST_DTYPES[data_type]


def _convert(value: Any, spec: ColSpec | TensorSpec | None) -> Any:
    if isinstance(spec, ColSpec) and spec.data_type is None:
        return value
    dtype = _spec_dtype(spec)
    if isinstance(value, list):
        return np.array(value, dtype=dtype)
    if dtype is None:
        return np.array(value)
    return np.array([value], dtype=dtype)[0]


def _cast(data: Any, schema: Schema | None) -> Any:
    """``inputs`` data converted per the signature (MLflow's rules)."""
    specs: dict[str, ColSpec | TensorSpec] = (
        {spec.name: spec for spec in schema.specs if spec.name is not None}
        if schema is not None and schema.has_names
        else {}
    )
    if schema is not None and schema.specs:
        if (
            len(specs) == 1
            and isinstance(data, list)
            and not any(isinstance(x, dict) for x in data)
        ):
            data = {next(iter(specs)): data}  # a single named input given as a bare list
        elif not schema.has_names and not (isinstance(data, list) or np.isscalar(data)):
            raise RequestError(
                "The model's signature has one unnamed input, so inputs must be a single array "
                f"or value; received a {_kind(data)}."
            )
    first = schema.specs[0] if schema is not None and schema.specs else None
    if isinstance(data, dict):
        return {column: _convert(value, specs.get(column)) for column, value in data.items()}
    if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
        return [{c: _convert(v, specs.get(c)) for c, v in row.items()} for row in data]
    return _convert(data, first)


def _instances(data: Any, schema: Schema | None) -> Any:
    if isinstance(data, list) and data and isinstance(data[0], dict):
        specs = (
            {spec.name: spec for spec in schema.specs if spec.name is not None}
            if schema is not None
            else {}
        )
        columns: dict[str, list[Any]] = {}
        for row in data:
            if not isinstance(row, dict):
                raise RequestError("Every item of instances must be a JSON object.")
            for column, value in row.items():
                columns.setdefault(column, []).append(_convert(value, specs.get(column)))
        converted: Any = {column: np.array(values) for column, values in columns.items()}
    else:
        converted = _cast(data, schema)
    if isinstance(converted, dict):
        lengths = {len(v) for v in converted.values() if isinstance(v, list | np.ndarray)}
        if len(lengths) > 1:
            raise RequestError("Every input column of instances must have the same length.")
    return converted


def parse_csv(body: bytes, schema: Schema | None) -> pd.DataFrame:
    """A table from a CSV body with a header row."""
    dtypes = None
    if schema is not None and schema.has_names and not schema.is_tensor:
        dtypes = {
            spec.name: spec.data_type.numpy
            for spec in schema.columns
            if spec.data_type is not None and spec.data_type != DataType.DATETIME
        }
    try:
        return pd.read_csv(io.BytesIO(body), dtype=dtypes)
    except (ValueError, TypeError, pd.errors.ParserError) as err:
        raise RequestError(
            f"Invalid input. The body is not a CSV table with a header row (as written by "
            f"pandas.DataFrame.to_csv()): {err}"
        ) from None
