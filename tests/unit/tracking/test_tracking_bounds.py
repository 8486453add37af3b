"""Bounded work per request in the REST app (issue 13): bodies counted while they stream and
refused early, body read deadlines, the in-flight limit, invalid Unicode refused at the edge."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.testclient import TestClient
from tests.unit.tracking.asgi_calls import Answer, Message, call, call_receiving, scope

from mlkube.objects import MemoryObjects, ObjectNotFound
from mlkube_operator.server.auth.guard import SingleUser
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.bounds import Bounds
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.store.tracking.memory import InMemoryStore

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
SMALL = Bounds(
    max_json_bytes=1000,
    max_upload_bytes=4000,
    body_idle_seconds=0.2,
    json_body_seconds=0.5,
    max_in_flight=2,
)


@pytest.fixture
def services() -> Services:
    return Services(
        InMemoryStore(), MemoryObjects(), "default", "0.1.0", SingleUser(lambda: ["default"]), SMALL
    )


@pytest.fixture
def app(services: Services) -> Starlette:
    return build_app(services)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def new_run(client: TestClient) -> tuple[str, str]:
    experiment = client.post(API + "/experiments/create", json={"name": "e"}).json()
    created = client.post(API + "/runs/create", json={"experiment_id": experiment["experiment_id"]})
    return experiment["experiment_id"], created.json()["run"]["info"]["run_id"]


def assert_too_large(answer: Answer, setting: str) -> None:
    assert answer.status == 413, answer.body
    assert answer.json()["error_code"] == "RESOURCE_EXHAUSTED"
    assert setting in answer.json()["message"]
    assert answer.headers["connection"] == "close"


def run_call(app: Starlette, *args: object, **kwargs: object) -> Answer:
    async def go() -> Answer:
        return await call(app, *args, **kwargs)  # type: ignore[arg-type]  # passed through

    return anyio.run(go)


def test_a_chunked_json_body_is_refused_once_it_passes_the_limit(app: Starlette) -> None:
    # The body never ends: the answer must come from counting, not from reading it whole.
    answer = run_call(app, "POST", API + "/experiments/create", [b"{" + b" " * 600] * 2, stall=True)
    assert_too_large(answer, "--max-json-bytes")


def test_a_declared_length_past_the_limit_is_refused_before_reading(app: Starlette) -> None:
    headers = [(b"content-length", b"1000000000")]
    before = refused("too large")
    # No piece at all arrives: reading would wait for ever.
    answer = run_call(app, "POST", API + "/runs/log-batch", [], stall=True, headers=headers)
    assert_too_large(answer, "--max-json-bytes")
    assert "1000000000 bytes" in answer.json()["message"]
    assert refused("too large") == before + 1


def test_a_body_within_the_limit_is_served(client: TestClient) -> None:
    assert client.post(API + "/experiments/create", json={"name": "x" * 500}).status_code == 200


def test_an_upload_past_its_limit_is_refused_and_nothing_is_stored(
    app: Starlette, client: TestClient, services: Services
) -> None:
    experiment_id, run_id = new_run(client)
    path = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/model.pkl"
    answer = run_call(app, "PUT", path, [b"x" * 3000] * 2)
    assert_too_large(answer, "--max-upload-bytes")
    key = f"default/experiments/{experiment_id}/{run_id}/artifacts/model.pkl"
    with pytest.raises(ObjectNotFound):
        services.objects.get(key)
    assert client.put(path, content=b"x" * 4000).status_code == 200  # at the limit


def test_a_declared_upload_past_its_limit_is_refused_before_reading(
    app: Starlette, client: TestClient
) -> None:
    experiment_id, run_id = new_run(client)
    path = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/model.pkl"
    headers = [(b"content-length", b"5000")]
    assert_too_large(run_call(app, "PUT", path, [], stall=True, headers=headers), "upload")


def test_an_upload_that_stops_arriving_is_refused_and_not_stored(
    app: Starlette, client: TestClient, services: Services
) -> None:
    experiment_id, run_id = new_run(client)
    path = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/model.pkl"
    answer = run_call(app, "PUT", path, [b"x" * 100], stall=True)
    assert answer.status == 408, answer.body
    assert "no part of it arrived for 0.2 s" in answer.json()["message"]
    key = f"default/experiments/{experiment_id}/{run_id}/artifacts/model.pkl"
    with pytest.raises(ObjectNotFound):
        services.objects.get(key)


def test_a_json_body_that_stops_arriving_gets_408(app: Starlette) -> None:
    answer = run_call(app, "POST", API + "/experiments/create", [b'{"name"'], stall=True)
    assert answer.status == 408
    assert answer.json()["error_code"] == "BAD_REQUEST"
    assert answer.headers["connection"] == "close"


def test_a_json_body_trickling_past_its_whole_deadline_gets_408(app: Starlette) -> None:
    async def trickle() -> Answer:
        pieces = iter([b'{"na', b'me": ', b'"x"', b"}"])

        async def receive() -> Message:
            await anyio.sleep(0.15)  # each piece within the idle bound, the whole not
            piece = next(pieces)
            return {"type": "http.request", "body": piece, "more_body": piece != b"}"}

        return await call_receiving(app, scope("POST", API + "/experiments/create", []), receive)

    answer = anyio.run(trickle)
    assert answer.status == 408
    assert "did not arrive whole within 0.5 s" in answer.json()["message"]


def test_requests_past_the_in_flight_limit_get_503_and_probes_pass(app: Starlette) -> None:
    answers: list[Answer] = []
    before = refused("busy")

    async def go() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(SMALL.max_in_flight):  # held open: their bodies stop arriving
                group.start_soon(hold)
            await anyio.sleep(0.05)
            answers.append(await call(app, "GET", API + "/experiments/search", []))
            answers.append(await call(app, "GET", "/health", []))
            group.cancel_scope.cancel()

    async def hold() -> None:
        await call(app, "POST", API + "/experiments/create", [b"{"], stall=True)

    anyio.run(go)
    busy, health = answers
    assert busy.status == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "--max-in-flight" in busy.json()["message"]
    assert health.status == 200
    assert refused("busy") == before + 1


def refused(reason: str) -> float:
    """The server's count of requests refused for ``reason`` (Prometheus)."""
    labels = {"reason": reason}
    return REGISTRY.get_sample_value("mlkube_server_refused_requests_total", labels) or 0.0


def test_the_in_flight_count_comes_back_down(client: TestClient) -> None:
    for _ in range(SMALL.max_in_flight * 3):
        assert client.get(API + "/experiments/search").status_code == 200


def test_invalid_utf8_in_a_json_body_is_400(client: TestClient) -> None:
    response = client.post(API + "/experiments/create", content=b'{"name": "\xff\xfe"}')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (b"experiment_name=%FF", "experiment_name"),
        (b"experiment_name=%ED%A0%80", "experiment_name"),  # an encoded lone surrogate
        (b"experiment_name=\xc3\x28", "bytes that are not UTF-8"),
        (b"%FF=x", "a parameter name"),
    ],
)
def test_invalid_utf8_in_the_query_is_400_naming_it(
    app: Starlette, query: bytes, named: str
) -> None:
    answer = run_call(app, "GET", API + "/experiments/get-by-name", [], query=query)
    assert answer.status == 400, answer.body
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert named in answer.json()["message"]


def test_valid_utf8_in_the_query_is_read_as_text(client: TestClient) -> None:
    client.post(API + "/experiments/create", json={"name": "été"})
    response = client.get(API + "/experiments/get-by-name?experiment_name=%C3%A9t%C3%A9")
    assert response.json()["experiment"]["name"] == "été"


def test_non_ascii_bytes_in_the_workspace_header_are_400(app: Starlette) -> None:
    headers = [(b"x-mlflow-workspace", b"team-\xff")]
    answer = run_call(app, "GET", API + "/experiments/search", [], headers=headers)
    assert answer.status == 400
    assert "X-MLFLOW-WORKSPACE" in answer.json()["message"]
