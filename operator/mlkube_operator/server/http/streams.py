"""Moving request and response bodies between the event loop and blocking object-store calls,
chunk by chunk, so no artifact is ever held in memory whole."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import anyio.from_thread
import anyio.to_thread

# What sits between the socket and the object store, per upload: at most this many pieces of
# about PIECE bytes (socket reads are coalesced, so the worker thread wakes per MiB, not per
# 64 KiB read).
_BUFFERED_PIECES = 4
PIECE = 1024 * 1024


class BodyUnfinished(Exception):
    """The body stopped before its end (refused, or the client left): the sink must not store
    what it got as if it were whole."""


async def drain_into(body: AsyncIterator[bytes], sink: Callable[[Iterator[bytes]], int]) -> int:
    """Feed ``body`` to ``sink`` (run in a worker thread) as an iterator; return what sink
    returns. A failure on either side cancels the other; a body that fails part-way makes the
    iterator raise, never end early."""
    send, receive = anyio.create_memory_object_stream[bytes](max_buffer_size=_BUFFERED_PIECES)
    finished = False

    def chunks() -> Iterator[bytes]:
        while True:
            try:
                yield anyio.from_thread.run(receive.receive)
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                if not finished:
                    raise BodyUnfinished("the request body ended early") from None
                return

    async def produce() -> None:
        nonlocal finished
        async with send:
            piece = bytearray()
            async for chunk in body:
                piece += chunk
                if len(piece) >= PIECE:
                    await send.send(bytes(piece))
                    piece.clear()
            if piece:
                await send.send(bytes(piece))
            finished = True

    result = 0
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(produce)
            try:
                result = await anyio.to_thread.run_sync(sink, chunks())
            finally:
                receive.close()
                group.cancel_scope.cancel()
    except BaseExceptionGroup as group_error:
        # The task group wraps what failed; callers map errors by type, so hand on the cause:
        # the body's own failure rather than the sink's BodyUnfinished that it led to.
        failures = group_error.exceptions
        causes = [e for e in failures if not isinstance(e, BodyUnfinished)] or failures
        raise causes[0] from None
    return result
