"""Bounded work per scoring request (issue 13): body size, requests at once, and no work for
a client that gave up. The app is called directly, with bodies and disconnects it controls."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
import pytest
from tests.unit.serving.conftest import Echo
from tests.unit.tracking.asgi_calls import Answer, call, call_receiving, scope

from mlkube.models import infer_signature, load_model
from mlkube.models import python_model as mk_python
from mlkube.serving.app import ScoringApp

JSON = [(b"content-type", b"application/json")]
BODY = b'{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}, "params": {"sleep": 0.6}}'


@pytest.fixture
def slow(echo_dir: Path) -> ScoringApp:
    """Echo sleeps 0.6 s when asked; one request at a time; 0.2 s timeout."""
    return ScoringApp(load_model(echo_dir), timeout=0.2, max_body=1000, max_in_flight=1)


def post(app: ScoringApp, pieces: list[bytes], **kwargs: Any) -> Answer:
    async def go() -> Answer:
        return await call(app, "POST", "/invocations", pieces, **kwargs)

    return anyio.run(go)


def wait_until_free(app: ScoringApp) -> None:
    for _ in range(100):
        if app.slots.busy == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the slot was never freed")


def test_a_declared_length_past_the_limit_is_413_before_reading(slow: ScoringApp) -> None:
    headers = [*JSON, (b"content-length", b"100000")]
    answer = post(slow, [], stall=True, headers=headers)  # no byte ever arrives
    assert answer.status == 413
    assert answer.json()["error_code"] == "RESOURCE_EXHAUSTED"
    assert "--max-body-bytes" in answer.json()["message"]
    assert answer.headers["connection"] == "close"


def test_a_chunked_body_is_413_once_it_passes_the_limit(slow: ScoringApp) -> None:
    answer = post(slow, [b"[" * 600] * 2, stall=True, headers=JSON)
    assert answer.status == 413
    assert b"RESOURCE_EXHAUSTED" in slow.metrics.render()


def test_past_the_in_flight_limit_the_answer_is_503_and_probes_pass(slow: ScoringApp) -> None:
    answers: list[Answer] = []

    async def hold() -> None:
        await call(slow, "POST", "/invocations", [b"{"], stall=True, headers=JSON)

    async def go() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(hold)
            await anyio.sleep(0.05)  # its body never ends: it holds the only slot
            answers.append(await call(slow, "POST", "/invocations", [BODY], headers=JSON))
            answers.append(await call(slow, "GET", "/health", []))
            group.cancel_scope.cancel()

    anyio.run(go)
    busy, health = answers
    assert busy.status == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert health.status == 200
    assert b'error_code="TEMPORARILY_UNAVAILABLE"' in slow.metrics.render()


def test_a_timed_out_prediction_holds_its_slot_until_its_thread_ends(slow: ScoringApp) -> None:
    assert post(slow, [BODY], headers=JSON).status == 504
    # The thread is still in the model's predict (it cannot be stopped): no second one starts.
    assert post(slow, [BODY], headers=JSON).status == 503
    wait_until_free(slow)
    fast = b'{"dataframe_split": {"columns": ["x"], "data": [[2.0]]}}'
    assert post(slow, [fast], headers=JSON).json() == {"predictions": [{"x": 2.0}]}


class Counting(Echo):
    calls: list[int] = []  # shared with the loaded copy on purpose

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        Counting.calls.append(1)
        return super().predict(context, model_input, params)


def test_a_client_gone_before_the_work_starts_costs_no_prediction(tmp_path: Path) -> None:
    signature = infer_signature(pd.DataFrame({"x": [1.0]}))
    mk_python.save_model(tmp_path / "m", Counting(), signature=signature)
    app = ScoringApp(load_model(tmp_path / "m"))
    Counting.calls.clear()
    messages = [
        {"type": "http.request", "body": b'{"inputs": {"x": [1.0]}}', "more_body": False},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    answer = anyio.run(call_receiving, app, scope("POST", "/invocations", JSON), receive)
    assert answer.status == 0  # nothing sent to nobody
    assert Counting.calls == []
    assert app.slots.busy == 0


def test_a_client_that_leaves_mid_prediction_gets_nothing_and_frees_the_slot(
    slow: ScoringApp,
) -> None:
    left = threading.Event()
    messages = [{"type": "http.request", "body": BODY, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await anyio.sleep(0.05)  # the client leaves while the model computes
        left.set()
        return {"type": "http.disconnect"}

    slow.timeout = 5.0
    answer = anyio.run(call_receiving, slow, scope("POST", "/invocations", JSON), receive)
    assert left.is_set()
    assert answer.status == 0
    wait_until_free(slow)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [(b"application/json", b'{"inputs": ["\xff\xfe"]}'), (b"text/csv", b"x\n\xff\xfe\n")],
)
def test_invalid_utf8_in_a_body_is_400(echo_dir: Path, content_type: bytes, body: bytes) -> None:
    app = ScoringApp(load_model(echo_dir))
    answer = post(app, [body], headers=[(b"content-type", content_type)])
    assert answer.status == 400, answer.body
    assert answer.json()["error_code"] == "BAD_REQUEST"
