"""Moving request and response bodies between the event loop and blocking object-store calls,
chunk by chunk, so no artifact is ever held in memory whole."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import anyio.from_thread
import anyio.to_thread

# Chunks buffered between the socket and the object store: bounds memory per upload.
_BUFFERED_CHUNKS = 16


async def drain_into(body: AsyncIterator[bytes], sink: Callable[[Iterator[bytes]], int]) -> int:
    """Feed ``body`` to ``sink`` (run in a worker thread) as an iterator; return what sink
    returns. A failure on either side cancels the other."""
    send, receive = anyio.create_memory_object_stream[bytes](max_buffer_size=_BUFFERED_CHUNKS)

    def chunks() -> Iterator[bytes]:
        while True:
            try:
                yield anyio.from_thread.run(receive.receive)
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return

    async def produce() -> None:
        async with send:
            async for chunk in body:
                if chunk:
                    await send.send(chunk)

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
        # The task group wraps what failed; callers map errors by type, so hand on the first.
        raise group_error.exceptions[0] from None
    return result
