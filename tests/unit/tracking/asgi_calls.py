"""Calling an ASGI app directly, with a body that arrives in given pieces or stops arriving:
what Starlette's test client cannot do (it hands the app the whole body at once)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import anyio

Message = MutableMapping[str, Any]


@dataclass
class Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


def scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b""
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }


async def call(
    app: Any,
    method: str,
    path: str,
    pieces: list[bytes],
    *,
    stall: bool = False,
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
) -> Answer:
    """``pieces`` arrive one by one; with ``stall`` the body then stops without ending."""
    queue = list(pieces)

    async def receive() -> Message:
        if queue:
            piece = queue.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(queue) or stall}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return await call_receiving(app, scope(method, path, headers or [], query), receive)


async def call_receiving(
    app: Any, request: dict[str, Any], receive: Callable[[], Awaitable[Message]]
) -> Answer:
    """The answer of ``app`` to the ``request`` scope whose body comes from ``receive``."""
    answer = Answer()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app(request, receive, send)
    return answer
