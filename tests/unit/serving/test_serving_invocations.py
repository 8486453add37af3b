"""POST /invocations: every payload format MLflow accepts, and every error case."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import ElasticNet
from starlette.testclient import TestClient
from tests.unit.serving.conftest import COLUMNS


def expected(estimator: ElasticNet, frame: pd.DataFrame) -> list[float]:
    return list(estimator.predict(frame[COLUMNS]).tolist())


def post(client: TestClient, body: Any, content_type: str = "application/json") -> Any:
    if isinstance(body, str | bytes):
        return client.post("/invocations", content=body, headers={"Content-Type": content_type})
    return client.post("/invocations", json=body, headers={"Content-Type": content_type})


def payloads(frame: pd.DataFrame) -> dict[str, Any]:
    records = frame.to_dict(orient="records")
    return {
        "dataframe_split": {"dataframe_split": {"columns": COLUMNS, "data": frame.values.tolist()}},
        "dataframe_split with index": {
            "dataframe_split": {
                "columns": COLUMNS,
                "data": frame.values.tolist(),
                "index": list(range(10, 10 + len(frame))),
            }
        },
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs as columns": {"inputs": {c: frame[c].tolist() for c in COLUMNS}},
        "inputs as records": {"inputs": records},
    }


@pytest.mark.parametrize("kind", list(payloads(pd.DataFrame(columns=COLUMNS))))
def test_every_json_format_scores(
    client: TestClient, estimator: ElasticNet, features: pd.DataFrame, kind: str
) -> None:
    frame = features.head(5)
    response = post(client, payloads(frame)[kind])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"predictions": expected(estimator, frame)}


def test_columns_in_another_order_with_extras(
    client: TestClient, estimator: ElasticNet, features: pd.DataFrame
) -> None:
    frame = features.head(4).assign(extra=1.0)[["extra", "c", "a", "b"]]
    body = {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}
    assert post(client, body).json() == {"predictions": expected(estimator, frame)}


def test_integers_and_numeric_strings_are_cast_like_mlflow(
    client: TestClient, estimator: ElasticNet
) -> None:
    frame = pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]})
    body = {"dataframe_records": [{"a": 1, "b": "2", "c": 3.0}]}
    assert post(client, body).json() == {"predictions": expected(estimator, frame)}


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8"])
def test_csv(
    client: TestClient, estimator: ElasticNet, features: pd.DataFrame, content_type: str
) -> None:
    frame = features.head(3)
    response = post(client, frame.to_csv(index=False), content_type)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    np.testing.assert_allclose(predictions, expected(estimator, frame), rtol=1e-12)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "", "application/json; charset=latin-1", "application/json; format=pandas"],
)
def test_unsupported_content_types_are_415(client: TestClient, content_type: str) -> None:
    response = client.post(
        "/invocations",
        content=b"{}",
        headers={"Content-Type": content_type} if content_type else {},
    )
    assert response.status_code == 415
    assert response.json()["error_code"] == "BAD_REQUEST"


def bad_request(response: Any) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "BAD_REQUEST"
    assert set(body) == {"error_code", "message"}
    message: str = body["message"]
    return message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "received a JSON list"),
        (b"{}", "received the fields: none"),
        (b'{"inputs": [1], "instances": [1]}', "received the fields: inputs, instances"),
        (b'{"inputs": {"a": [1]}, "extra": 1}', "received the fields: extra, inputs"),
        (b'{"data": [[1, 2, 3]]}', "exactly one of the fields"),
        (b'{"dataframe_split": [[1, 2, 3]]}', "dataframe_split must be a JSON object"),
        (b'{"dataframe_split": {"columns": ["a"]}}', "must have a 'data' field"),
        (b'{"dataframe_split": {"data": [], "orient": 1}}', "received the fields: data, orient"),
        (b'{"dataframe_records": {"a": 1}}', "must be a list of records"),
        (b'{"inputs": {"a": [1]}, "params": [1]}', "params must be a JSON object"),
    ],
)
def test_malformed_bodies_are_400(client: TestClient, body: bytes, message: str) -> None:
    assert message in bad_request(post(client, body))


def test_a_missing_column_is_named_with_the_expected_types(client: TestClient) -> None:
    message = bad_request(
        post(client, {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}})
    )
    assert "missing input column(s) ['c']" in message
    assert "a (double), b (double), c (double)" in message


def test_a_value_of_the_wrong_type_names_the_column(client: TestClient) -> None:
    body = {"dataframe_records": [{"a": 1.0, "b": "not a number", "c": 1.0}]}
    message = bad_request(post(client, body))
    assert "column 'b' cannot be converted to double" in message


def test_a_failing_model_is_a_400_that_says_why(client: TestClient) -> None:
    body = {"dataframe_split": {"columns": COLUMNS, "data": [[None, 1.0, 2.0]]}}
    message = bad_request(post(client, body))
    assert message.startswith("Encountered an unexpected error while evaluating the model")
    assert "NaN" in message


def test_tensor_style_inputs_for_a_column_model_fail_clearly(client: TestClient) -> None:
    assert "missing input column(s)" in bad_request(post(client, {"instances": [[1.0, 2.0, 3.0]]}))


def test_params_reach_the_model(echo: TestClient) -> None:
    body = {"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.0]]}, "params": {"k": 3}}
    assert post(echo, body).json() == {"predictions": [{"x": 3.0}, {"x": 6.0}]}


def test_bad_params_are_named(echo: TestClient) -> None:
    body = {"inputs": {"x": [1.0]}, "params": {"k": "three"}}
    assert "params.k: expected double, got str" in bad_request(post(echo, body))


def test_a_slow_prediction_is_504(echo: TestClient) -> None:
    response = post(echo, {"inputs": {"x": [1.0]}, "params": {"sleep": 1.0}})
    assert response.status_code == 504
    assert response.json()["error_code"] == "DEADLINE_EXCEEDED"
