"""Bounded work per scoring request (issue 13): the body's size, predictions at once, and no
computing for a client that gave up.

- The body: a declared ``Content-Length`` past the limit is refused before reading; a chunked
  body as soon as it passes it (413).
- Slots: at most ``limit`` requests are scored at once; past that the answer is 503 with
  ``Retry-After``, so requests never queue behind work they would time out waiting for. A slot
  is held until its worker thread really ends, even when the answer (504) has gone already.
- Giving up: when the timeout fires or the client disconnects, the work's ``gone`` flag is set.
  Work checks it between its stages (parse, prepare, predict, encode) and stops at the next
  one; work whose client left before it started never starts. What cannot be interrupted is
  the stage running when the flag is set: a model's predict call in a thread runs to its end
  (Python cannot stop a thread), holding its slot until then.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import Executor
from typing import Any

from mlkube.serving.errors import HttpError

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Work = Callable[[threading.Event], bytes]
RETRY_AFTER_SECONDS = 1
MAX_BODY = 64 * 1024 * 1024  # mlkube serve --max-body-bytes
MAX_IN_FLIGHT = 8  # requests scored at once per worker process: mlkube serve --max-in-flight


class Abandoned(Exception):
    """Raised by work that saw its ``gone`` flag: nobody waits for its answer."""


def check(gone: threading.Event) -> None:
    """Between two stages of work: stop if its client gave up."""
    if gone.is_set():
        raise Abandoned


class ClientGone(Exception):
    """The client disconnected before its answer: nothing is sent."""


def too_large(limit: int, size: int | None) -> HttpError:
    got = f"is {size} bytes" if size is not None else "passed that"
    return HttpError(
        413,
        "RESOURCE_EXHAUSTED",
        f"The body may be at most {limit} bytes and this one {got}; send smaller batches, or "
        "raise the limit with mlkube serve --max-body-bytes.",
        {"connection": "close"},  # the rest of the body is not read
    )


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in headers:
        if key == b"content-length":
            if not value.isdigit():
                raise HttpError(400, "BAD_REQUEST", "Content-Length must be a number of bytes.")
            return int(value)
    return None


async def read_body(scope: MutableMapping[str, Any], receive: Receive, limit: int) -> bytes:
    """The whole body, refused (413) at the first sign it is past ``limit``."""
    size = declared_length(scope["headers"])
    if size is not None and size > limit:
        raise too_large(limit, size)
    pieces: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        piece: bytes = message.get("body", b"")
        received += len(piece)
        if received > limit:
            raise too_large(limit, None)
        pieces.append(piece)
        if not message.get("more_body"):
            # One piece needs no copy; several are joined once.
            return pieces[0] if len(pieces) == 1 else b"".join(pieces)


class Slots:
    """Requests being scored; worker threads release theirs, hence the lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0
        self.lock = threading.Lock()

    def take(self) -> Slot:
        with self.lock:
            if self.busy < self.limit:
                self.busy += 1
                return Slot(self)
        raise HttpError(
            503,
            "TEMPORARILY_UNAVAILABLE",
            f"The server is scoring {self.limit} requests, its limit (mlkube serve "
            f"--max-in-flight); retry in {RETRY_AFTER_SECONDS} s.",
            {"retry-after": str(RETRY_AFTER_SECONDS), "connection": "close"},
        )


class Slot:
    """One request's place, freed when every holder (the request, its thread) let go."""

    def __init__(self, slots: Slots) -> None:
        self._slots = slots
        self._holders = 1

    def share(self) -> None:
        with self._slots.lock:
            self._holders += 1

    def release(self) -> None:
        with self._slots.lock:
            self._holders -= 1
            if self._holders == 0:
                self._slots.busy -= 1


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def run_work(
    work: Work, executor: Executor, slot: Slot, receive: Receive, timeout: float
) -> bytes:
    """``work``'s answer, computed in ``executor``; 504 past ``timeout``, ClientGone when the
    client leaves first. Either way the work is told to stop (see the module docstring)."""
    gone = threading.Event()
    watcher: asyncio.Future[None] = asyncio.ensure_future(_disconnected(receive))
    await asyncio.sleep(0)  # a client already gone is seen here, before any work starts
    if watcher.done():
        raise ClientGone
    slot.share()
    future = asyncio.get_running_loop().run_in_executor(executor, _holding, slot, work, gone)
    future.add_done_callback(_retrieved)
    try:
        waited: set[asyncio.Future[Any]] = {future, watcher}
        finished, _ = await asyncio.wait(
            waited, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        watcher.cancel()
    if future in finished:
        return future.result()
    gone.set()
    if watcher in finished:
        raise ClientGone
    raise HttpError(
        504,
        "DEADLINE_EXCEEDED",
        f"The prediction took longer than {timeout:g}s (mlkube serve --timeout); it stops "
        "at its next stage.",
    )


def _holding(slot: Slot, work: Work, gone: threading.Event) -> bytes:
    """``work`` in its thread, releasing the slot when the thread really is done."""
    try:
        return work(gone)
    finally:
        slot.release()


def _retrieved(future: asyncio.Future[bytes]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: an abandoned answer's error is nobody's to report
