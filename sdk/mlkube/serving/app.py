"""The scoring server's ASGI application: MLflow's scoring protocol, metrics and health.

- ``GET /ping``, ``GET /health``: 200 once the model is loaded (the app exists only then).
  While draining before shutdown, ``/health`` (readiness) answers 503 and ``/ping`` (liveness)
  stays 200, so a liveness probe never restarts a pod that is stopping cleanly.
- ``GET /version``: mlkube's version.
- ``GET /metrics``: Prometheus metrics.
- ``POST /invocations``: ``application/json`` or ``text/csv`` in, ``{"predictions": ...}`` out.
  Errors use MLflow's body ``{"error_code": ..., "message": ...}``: 400 BAD_REQUEST for a body
  that is malformed, does not fit the signature, or makes the model fail; 415 for another
  content type; 504 when a prediction outlives the timeout.

A plain ASGI callable rather than a framework: the per-request path is short and does no work
that can be done at load time. Numeric scikit-learn requests run inline on the event loop (they
take microseconds, see fastpath.py); every other request runs in a worker thread, bounded by
the timeout, so a slow model never stalls health checks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from mlkube import __version__
from mlkube.models.errors import InputError
from mlkube.models.pyfunc import PyFuncModel
from mlkube.serving.bounded import (
    MAX_BODY,
    MAX_IN_FLIGHT,
    ClientGone,
    Slot,
    Slots,
    check,
    read_body,
    run_work,
)
from mlkube.serving.encoding import encode_predictions
from mlkube.serving.errors import HttpError
from mlkube.serving.fastpath import FastPath
from mlkube.serving.metrics import Metrics
from mlkube.serving.parsing import RequestError, parse_csv, parse_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger(__name__)

JSON = b"application/json"
CSV = "text/csv"
SUPPORTED_TYPES = ("application/json", CSV)
# Bodies above this size (large batches) are scored in a thread even on the fast path.
INLINE_LIMIT = 256 * 1024
_JSON_HEADERS = [(b"content-type", JSON)]


def _media_type(content_type: str) -> str:
    """The media type, after checking the parameters MLflow checks (charset=utf-8 only)."""
    mime, *parameters = (part.strip() for part in content_type.split(";"))
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() != "charset":
            raise HttpError(415, "BAD_REQUEST", f"Unsupported content type parameter {key!r}.")
        if value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise HttpError(415, "BAD_REQUEST", "The scoring server only accepts UTF-8 bodies.")
    return mime.lower()


class ScoringApp:
    """One loaded model behind MLflow's scoring protocol."""

    def __init__(
        self,
        model: PyFuncModel,
        *,
        timeout: float = 60.0,
        max_body: int = MAX_BODY,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self.max_body = max_body
        self.slots = Slots(max_in_flight)
        # One thread per slot: work never waits in a queue behind other work.
        self.executor = ThreadPoolExecutor(max_in_flight, thread_name_prefix="mlkube-predict")
        self.metrics = Metrics()
        self.fast = FastPath.compile(model)
        self.draining = False
        inputs = model.signature.inputs if model.signature else None
        self._schema = inputs if inputs is not None and inputs.specs else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            if path == "/invocations":
                if method != "POST":
                    raise HttpError(405, "BAD_REQUEST", "Use POST for /invocations.")
                slot = self.slots.take()
                try:
                    status, payload = await self._invocations(scope, receive, slot)
                finally:
                    slot.release()
                await _respond(send, status, payload)
            elif method not in ("GET", "HEAD"):
                raise HttpError(405, "BAD_REQUEST", f"Use GET for {path}.")
            elif path in ("/ping", "/health"):
                status = 503 if self.draining and path == "/health" else 200
                await _respond(send, status, b"\n")
            elif path == "/version":
                status = 200
                await _respond(send, status, __version__.encode(), b"text/plain")
            elif path == "/metrics":
                status = 200
                await _respond(send, status, self.metrics.render(), self.metrics.content_type)
            else:
                raise HttpError(404, "ENDPOINT_NOT_FOUND", f"No endpoint {path}.")
        except HttpError as err:
            status = err.status
            self.metrics.error(err.error_code)
            body = _error_body(err.error_code, err.message)
            await _respond(send, status, body, extra=_encoded(err.headers))
        except ClientGone:
            status = 499  # nginx's "client closed request": nothing is sent
            self.metrics.error("CLIENT_GONE")
        self.metrics.observe(path, status, time.perf_counter() - start)

    async def _invocations(self, scope: Scope, receive: Receive, slot: Slot) -> tuple[int, bytes]:
        content_type = _header(scope, b"content-type")
        media = _media_type(content_type)
        if media not in SUPPORTED_TYPES:
            raise _unsupported(content_type)
        body = await read_body(scope, receive, self.max_body)
        if media == "application/json":
            if self.fast is not None and len(body) <= INLINE_LIMIT:
                answer = self._fast(body)
                if answer is not None:
                    return 200, answer
            work = self._json_work(body)
        else:
            work = self._csv_work(body)
        del body  # the work holds it only until parsed
        return 200, await run_work(work, self.executor, slot, receive, self.timeout)

    def _json_work(self, body: bytes) -> Callable[[threading.Event], bytes]:
        held = [body]

        def work(gone: threading.Event) -> bytes:
            check(gone)
            data, params = _checked(parse_json, held.pop(), self._schema)
            return self._score(data, params, gone)

        return work

    def _csv_work(self, body: bytes) -> Callable[[threading.Event], bytes]:
        held = [body]

        def work(gone: threading.Event) -> bytes:
            check(gone)
            return self._score(_checked(parse_csv, held.pop(), self._schema), None, gone)

        return work

    def _score(self, data: Any, params: Any, gone: threading.Event) -> bytes:
        check(gone)
        data, params = self._guarded(self._prepared, data, params)
        check(gone)
        predictions = self._guarded(self.model.impl.predict, data, params)
        check(gone)
        return encode_predictions(predictions)

    def _fast(self, body: bytes) -> bytes | None:
        assert self.fast is not None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(payload, dict):
            return None
        matrix = self.fast.matrix(payload)
        if matrix is None:
            return None
        return encode_predictions(self._guarded(self.fast.predict, matrix))

    def _prepared(self, data: Any, params: Any) -> tuple[Any, Any]:
        try:
            return self.model.prepare(data, params)
        except InputError as err:
            raise HttpError(
                400, "BAD_REQUEST", f"The input does not match the model's signature: {err}"
            ) from None

    @staticmethod
    def _guarded(predict: Callable[..., Any], *args: Any) -> Any:
        try:
            return predict(*args)
        except HttpError:
            raise
        except Exception as err:  # the model's own failure is the client's 400, as in MLflow
            logger.debug("prediction failed", exc_info=True)
            raise HttpError(
                400,
                "BAD_REQUEST",
                "Encountered an unexpected error while evaluating the model "
                f"({type(err).__name__}: {err}). Verify that the input is compatible with the "
                "model.",
            ) from None


def _unsupported(content_type: str) -> HttpError:
    return HttpError(
        415,
        "BAD_REQUEST",
        f"Unsupported content type {content_type or '(none)'!r}; this server accepts "
        f"{', '.join(SUPPORTED_TYPES)}.",
    )


def _checked(parse: Callable[..., Any], *args: Any) -> Any:
    try:
        return parse(*args)
    except RequestError as err:
        raise HttpError(400, "BAD_REQUEST", str(err)) from None


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _error_body(error_code: str, message: str) -> bytes:
    return orjson.dumps({"error_code": error_code, "message": message})


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(key.encode(), value.encode()) for key, value in headers.items()]


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes | str = JSON,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    if isinstance(content_type, str):
        content_type = content_type.encode()
    headers = _JSON_HEADERS if content_type == JSON else [(b"content-type", content_type)]
    if extra:
        headers = [*headers, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
