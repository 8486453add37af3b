"""uvicorn's HTTP protocol with a deadline and a size bound on the request head (slowloris).

uvicorn bounds the idle time between requests (timeout_keep_alive) but not the time a request
line and its headers may take: a client sending one header byte every few seconds holds a
connection forever, and (with httptools) nothing bounds the head's size. Here the head must
arrive within ``head_seconds`` of the connection opening or of the previous answer, and within
``max_head_bytes``; otherwise the answer is 408 or 431 and the connection closes.

This subclasses uvicorn's public httptools protocol (the ``http`` option of uvicorn.Config
takes a protocol class) and relies on four of its members: connection_made, data_received,
on_response_complete and ``cycle``, the request being served, which uvicorn replaces the moment
a head is parsed. tests/unit/tracking/test_tracking_deadlines.py pins that behaviour against
the installed uvicorn.
"""

from __future__ import annotations

import asyncio
import http
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mlkube_operator.server.errors import ErrorCode
from mlkube_operator.server.http.bounds import Bounds


class HeadBoundedProtocol(HttpToolsProtocol):
    head_seconds = 10.0
    max_head_bytes = 64 * 1024
    _head_timer: asyncio.TimerHandle | None = None
    _head_cycle: object = None
    _head_bytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]  # uvicorn narrows it
        self._await_head()

    def data_received(self, data: bytes) -> None:
        waiting = self._head_timer is not None
        self._head_bytes += len(data)
        super().data_received(data)
        if not waiting or self.transport.is_closing():
            return
        if self.cycle is not self._head_cycle:
            self._stop_waiting()  # a head was parsed: the body's deadlines are the app's
        elif self._head_bytes > self.max_head_bytes:
            self._refuse(431, f"the request line and headers are over {self.max_head_bytes} bytes")

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request may already be in hand; only wait for a head that is not.
        if self.cycle.response_complete and not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._stop_waiting()
        self._head_cycle = self.cycle
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.head_seconds, self._head_late)

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.cycle is self._head_cycle and not self.transport.is_closing():
            self._refuse(
                408, f"the request line and headers did not arrive within {self.head_seconds:g} s"
            )

    def _refuse(self, status: int, message: str) -> None:
        self._stop_waiting()
        body = json.dumps({"error_code": ErrorCode.BAD_REQUEST.value, "message": message})
        head = (
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write((head + body).encode())
        self.transport.close()


def bounded_protocol(bounds: Bounds) -> type[HeadBoundedProtocol]:
    """The protocol class for uvicorn.Config(http=...), with ``bounds``' head limits."""
    return type(
        "HeadBoundedProtocol",
        (HeadBoundedProtocol,),
        {"head_seconds": bounds.head_seconds, "max_head_bytes": bounds.max_head_bytes},
    )
