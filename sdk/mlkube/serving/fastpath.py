"""The numeric fast path: JSON rows straight into a float64 matrix for a scikit-learn model.

MLflow builds a DataFrame per request, casts and checks every column, and hands the frame to
the estimator, which turns it back into a float64 array. When the signature is all named
``double`` columns, the same array can be built with one ``numpy.array`` call, in the
signature's column order and with the memory layout a DataFrame would give (column-major), so
the estimator computes exactly what it computes under MLflow. Anything irregular (a missing
column, a string, ragged rows, params, an index) returns None and takes the general path, which
produces MLflow's answer or its error.

Whether an estimator accepts an array where it was fitted on a DataFrame (a ColumnTransformer
selecting columns by name does not) is probed once, at load time.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

from mlkube.models.pyfunc import PyFuncModel
from mlkube.models.signature import DataType
from mlkube.models.sklearn import SklearnPredictor
from mlkube.serving.parsing import DF_RECORDS, DF_SPLIT, FORMATS, INPUTS, INSTANCES

logger = logging.getLogger(__name__)


class FastPath:
    """Builds the estimator's input from a decoded JSON payload, or declines (None)."""

    def __init__(self, columns: list[str], predict: Any) -> None:
        self.columns = columns
        self.predict = predict
        self._orders: dict[tuple[str, ...], list[int] | None] = {tuple(columns): None}

    @classmethod
    def compile(cls, model: PyFuncModel) -> FastPath | None:
        """A fast path for ``model``, or None when it has none."""
        impl = model.impl
        signature = model.signature
        if not isinstance(impl, SklearnPredictor) or signature is None:
            return None
        inputs = signature.inputs
        if (
            inputs is None
            or inputs.is_tensor
            or not inputs.has_names
            or signature.params is not None
            or not all(c.data_type == DataType.DOUBLE and c.required for c in inputs.columns)
        ):
            return None
        columns = inputs.names
        if not _accepts_arrays(impl, columns, model):
            logger.info("the estimator needs a DataFrame; serving through the general path")
            return None
        # Said once per process: the estimator was fitted on a DataFrame and now gets an array
        # with the same columns in the same order.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return cls(columns, impl.predict_fn)

    def matrix(self, payload: dict[str, Any]) -> np.ndarray[Any, Any] | None:
        """The float64 (rows x columns) input for ``payload``, or None to decline."""
        if len(payload) != 1:
            return None  # params, several formats or unknown keys: the general path decides
        ((fmt, data),) = payload.items()
        try:
            if fmt == DF_SPLIT:
                return self._split(data)
            if fmt in (DF_RECORDS, INSTANCES) or (fmt == INPUTS and isinstance(data, list)):
                return self._records(data)
            if fmt == INPUTS and isinstance(data, dict):
                return self._columns(data)
        except (ValueError, TypeError, KeyError, IndexError):
            return None
        return None

    def _order(self, names: Any) -> list[int] | bool | None:
        key = tuple(names)
        if key not in self._orders:
            if not all(isinstance(n, str) for n in key) or len(set(key)) != len(key):
                return False
            position = {name: i for i, name in enumerate(key)}
            if not all(c in position for c in self.columns):
                return False
            self._orders[key] = [position[c] for c in self.columns]
        return self._orders[key]

    def _split(self, data: Any) -> np.ndarray[Any, Any] | None:
        if not isinstance(data, dict) or set(data) != {"columns", "data"}:
            return None
        order = self._order(data["columns"])
        if order is False:
            return None
        rows = np.array(data["data"], dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(data["columns"]) or not rows.shape[0]:
            return None
        if isinstance(order, list):
            rows = rows[:, order]
        return _column_major(rows)

    def _records(self, data: Any) -> np.ndarray[Any, Any] | None:
        if not isinstance(data, list) or not data:
            return None
        columns = self.columns
        rows = [[record[c] for c in columns] for record in data]
        return _column_major(np.array(rows, dtype=np.float64))

    def _columns(self, data: dict[str, Any]) -> np.ndarray[Any, Any] | None:
        values = [data[c] for c in self.columns]
        if not all(isinstance(v, list) for v in values):
            return None
        matrix = np.array(values, dtype=np.float64)
        if matrix.ndim != 2 or not matrix.shape[1]:
            return None
        return matrix.T  # already column-major


def _column_major(rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    # A float64 DataFrame stores its columns contiguously; its array is column-major. BLAS may
    # round differently for the other layout, so build the same one.
    return rows if rows.shape[0] == 1 else np.asfortranarray(rows)


def _probe_input(model: PyFuncModel, columns: list[str]) -> pd.DataFrame:
    try:
        example = model.input_example()
    except ValueError:
        example = None
    if isinstance(example, pd.DataFrame) and set(columns) <= set(example.columns):
        frame = example[columns].astype(np.float64)
        if len(frame):
            return frame.head(4)
    return pd.DataFrame(np.zeros((2, len(columns))), columns=columns)


def _accepts_arrays(impl: SklearnPredictor, columns: list[str], model: PyFuncModel) -> bool:
    """True when the estimator predicts the same from an array as from a DataFrame."""
    frame = _probe_input(model, columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = impl.predict_fn(frame)
            actual = impl.predict_fn(_column_major(frame.to_numpy(dtype=np.float64)))
        except Exception:  # any failure of the probe means: keep MLflow's DataFrame path
            return False
    try:
        return bool(np.array_equal(np.asarray(expected), np.asarray(actual), equal_nan=True))
    except TypeError:
        return bool(np.array_equal(np.asarray(expected), np.asarray(actual)))


__all__ = ["FORMATS", "FastPath"]
