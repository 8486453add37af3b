"""Request bodies read within a BodyLimit: counted while they stream, refused early.

A declared ``Content-Length`` past the limit is refused before a byte is read; a chunked body
is refused as soon as the bytes received pass it (issue 13: a 300 MiB chunked POST was read
whole before the size check and grew the server by 280 MB). A body that stops arriving for
``idle_seconds``, or takes longer than ``total_seconds``, is refused with 408. The refusals
are MlflowErrors, so every endpoint answers them in MLflow's error shape; the app closes the
connection after them rather than read the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from starlette.requests import Request

from mlkube_operator.server.errors import ErrorCode, MlflowError, invalid
from mlkube_operator.server.http.bounds import BodyLimit

TOO_LARGE = 413
TOO_SLOW = 408


def declared_length(request: Request) -> int | None:
    """The Content-Length header as a number, None when absent."""
    header = request.headers.get("content-length")
    if header is None:
        return None
    if not (header.isascii() and header.isdigit()):
        raise invalid(f"invalid Content-Length {header[:40]!r}: expected a number of bytes")
    return int(header)


def too_large(limit: BodyLimit, size: int | None) -> MlflowError:
    got = f"is {size} bytes" if size is not None else "passed that"
    return MlflowError(
        ErrorCode.RESOURCE_EXHAUSTED,
        f"the body of {limit.kind} may be at most {limit.max_bytes} bytes and this one {got}; "
        f"send less, or raise the server's limit with {limit.setting}",
        status=TOO_LARGE,
    )


def too_slow(limit: BodyLimit, idle: bool) -> MlflowError:
    what = (
        f"no part of it arrived for {limit.idle_seconds:g} s"
        if idle
        else f"it did not arrive whole within {limit.total_seconds:g} s"
    )
    return MlflowError(
        ErrorCode.BAD_REQUEST,
        f"the body of {limit.kind} came too slowly: {what}; send it again",
        status=TOO_SLOW,
    )


def check_declared(request: Request, limit: BodyLimit) -> int | None:
    """The declared Content-Length, refused when past ``limit`` (before a byte is read)."""
    size = declared_length(request)
    if size is not None and size > limit.max_bytes:
        raise too_large(limit, size)
    return size


async def body_pieces(request: Request, limit: BodyLimit) -> AsyncIterator[bytes]:
    """The body as it arrives, refused at the first sign that it is past ``limit``."""
    check_declared(request, limit)
    pieces = request.stream().__aiter__()
    end = None if limit.total_seconds is None else anyio.current_time() + limit.total_seconds
    received = 0
    while True:
        wait = limit.idle_seconds
        if end is not None:
            wait = min(wait, end - anyio.current_time())
        try:
            with anyio.fail_after(max(wait, 0.0)):
                piece = await pieces.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise too_slow(limit, idle=wait == limit.idle_seconds) from None
        received += len(piece)
        if received > limit.max_bytes:
            raise too_large(limit, None)
        yield piece


async def read_body(request: Request, limit: BodyLimit) -> bytes:
    """The whole body, within ``limit``."""
    # A list, joined once: growing one buffer would copy it at every doubling.
    pieces = [piece async for piece in body_pieces(request, limit)]
    return b"".join(pieces)
