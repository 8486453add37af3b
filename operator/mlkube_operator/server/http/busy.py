"""At most N requests served at once: past that, 503 with Retry-After, before any other work.

The outermost layer of the app (build_app), so a refused request costs no body read, no
authentication and no store call. Probes (/health, /version) always pass: a busy server is
alive and should not be restarted for being busy.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mlkube_operator.server.errors import ErrorCode
from mlkube_operator.server.metrics import REFUSED

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

EXEMPT = frozenset({"/health", "/version"})


class InFlightLimit:
    """ASGI middleware counting the HTTP requests inside ``app`` (one event loop: no lock)."""

    def __init__(self, app: ASGIApp, limit: int, retry_after: int) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = retry_after
        self.active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            await self._refuse(send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1

    async def _refuse(self, send: Send) -> None:
        REFUSED.labels("busy").inc()
        body = json.dumps(
            {
                "error_code": ErrorCode.TEMPORARILY_UNAVAILABLE.value,
                "message": f"the server is serving {self.limit} requests, its limit "
                f"(--max-in-flight / MLKUBE_MAX_IN_FLIGHT); retry in {self.retry_after} s",
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(self.retry_after).encode()),
            # The body (if any) is never read: close rather than drain it.
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
