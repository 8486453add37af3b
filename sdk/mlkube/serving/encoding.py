"""Predictions to JSON: ``{"predictions": ...}`` with DataFrames as records and arrays as
lists, the shapes MLflow's scoring server answers with.

orjson writes float64 and integer arrays natively (no ``tolist`` per request); float32 arrays go
through ``tolist`` first, so their values widen to doubles exactly as MLflow prints them.
One difference: NaN becomes null (MLflow writes the non-standard token NaN).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import numpy as np
import orjson
import pandas as pd

_NATIVE = frozenset(np.dtype(t) for t in ("float64", "int64", "int32", "bool"))
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if isinstance(value, pd.Series):
        return value.to_frame().to_dict(orient="records")
    if isinstance(value, bytes | bytearray):
        return base64.encodebytes(bytes(value)).decode("ascii")
    if isinstance(value, pd.Timestamp | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value))
    raise TypeError(f"predictions of type {type(value).__name__} cannot be written as JSON")


def jsonable(predictions: Any) -> Any:
    if isinstance(predictions, np.ndarray):
        if predictions.dtype in _NATIVE and predictions.flags.c_contiguous:
            return predictions
        return predictions.tolist()
    if isinstance(predictions, pd.DataFrame):
        return predictions.to_dict(orient="records")
    if isinstance(predictions, pd.Series):
        return predictions.to_frame().to_dict(orient="records")
    return predictions


def encode_predictions(predictions: Any) -> bytes:
    return orjson.dumps({"predictions": jsonable(predictions)}, default=_default, option=_OPTIONS)
