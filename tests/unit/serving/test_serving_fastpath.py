"""The numeric fast path answers exactly what the general path answers, and declines the rest."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import ElasticNet, LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tests.unit.serving.conftest import COLUMNS

from mlkube.models import load_model
from mlkube.models import sklearn as mk_sklearn
from mlkube.serving.app import ScoringApp
from mlkube.serving.fastpath import FastPath


def general(app: ScoringApp, body: bytes) -> bytes:
    """The answer of the general path (what a request runs in a worker thread)."""
    return app._json_work(body)(threading.Event())


def bodies(frame: pd.DataFrame) -> list[dict[str, Any]]:
    shuffled = frame[["c", "a", "b"]]
    records = frame.to_dict(orient="records")
    return [
        {"dataframe_split": {"columns": COLUMNS, "data": frame.values.tolist()}},
        {"dataframe_split": {"columns": list(shuffled.columns), "data": shuffled.values.tolist()}},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": records},
        {"inputs": {c: frame[c].tolist() for c in COLUMNS}},
    ]


@pytest.mark.parametrize("rows", [1, 7, 40])
def test_fast_and_general_paths_agree_bit_for_bit(
    sklearn_dir: Path, features: pd.DataFrame, rows: int
) -> None:
    app = ScoringApp(load_model(sklearn_dir))
    assert app.fast is not None
    for payload in bodies(features.head(rows)):
        body = orjson.dumps(payload)
        fast = app._fast(body)
        assert fast is not None, payload
        assert fast == general(app, body)


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": COLUMNS, "data": [[1.0, 2.0, 3.0]]}, "params": {}},
        {"dataframe_split": {"columns": COLUMNS, "data": [[1.0, 2.0, 3.0]], "index": [5]}},
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}},
        {"dataframe_split": {"columns": COLUMNS, "data": [[1.0, "x", 3.0]]}},
        {"dataframe_split": {"columns": COLUMNS, "data": [[1.0, 2.0]]}},
        {"dataframe_split": {"columns": ["a", "a", "c"], "data": [[1.0, 2.0, 3.0]]}},
        {"dataframe_split": {"columns": COLUMNS, "data": []}},
        {"dataframe_records": [{"a": 1.0, "b": 2.0}]},
        {"instances": [[1.0, 2.0, 3.0]]},
        {"inputs": {"a": 1.0, "b": 2.0, "c": 3.0}},
        {"inputs": [[1.0, 2.0, 3.0]]},
        {"dataframe_split": {"columns": COLUMNS, "data": [[1.0, [2.0], 3.0]]}},
    ],
)
def test_irregular_payloads_take_the_general_path(sklearn_dir: Path, payload: Any) -> None:
    app = ScoringApp(load_model(sklearn_dir))
    assert app.fast is not None
    assert app.fast.matrix(payload) is None


def test_only_all_double_sklearn_signatures_get_a_fast_path(tmp_path: Path, echo_dir: Path) -> None:
    assert FastPath.compile(load_model(echo_dir)) is None
    mixed = pd.DataFrame({"a": [1.0, 2.0, 3.0], "n": [1, 2, 3]})
    mk_sklearn.save_model(
        LinearRegression().fit(mixed, [1, 2, 3]), tmp_path / "m", input_example=mixed
    )
    assert FastPath.compile(load_model(tmp_path / "m")) is None
    mk_sklearn.save_model(LinearRegression().fit(mixed, [1, 2, 3]), tmp_path / "n")
    assert FastPath.compile(load_model(tmp_path / "n")) is None  # no signature


def test_an_estimator_that_needs_column_names_keeps_the_dataframe(
    tmp_path: Path, features: pd.DataFrame
) -> None:
    by_name = ColumnTransformer([("scaled", StandardScaler(), ["c", "a"])])
    pipeline = make_pipeline(by_name, ElasticNet(alpha=0.01)).fit(features, features["b"])
    mk_sklearn.save_model(
        pipeline, tmp_path / "m", input_example=features.head(3), serialization_format="cloudpickle"
    )
    app = ScoringApp(load_model(tmp_path / "m"))
    assert app.fast is None
    frame = features.head(3)[["b", "c", "a"]]
    body = orjson.dumps(
        {"dataframe_split": {"columns": ["b", "c", "a"], "data": frame.values.tolist()}}
    )
    expected = pipeline.predict(frame)
    assert np.array_equal(orjson.loads(general(app, body))["predictions"], expected)
