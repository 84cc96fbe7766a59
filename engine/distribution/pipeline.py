"""One download, three consumers: blob store, decompressor, layer unpacker.

A layer's HTTP body is read once. Each chunk goes to the content store (which hashes
it against the blob digest while writing) and through the decompressor into the
layer store (which hashes the tar against the diff-id while extracting). The layer's
end-of-stream is handed to the unpacker only after the blob's digest has verified,
so a corrupted blob can never be committed as a layer, and a failure anywhere
cancels both consumers, whose own clean-up removes their temp files.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from ..errors import EngineError
from .decompress import Decompressor

_EOF = object()
# Chunks buffered per consumer: bounded memory, yet enough to keep every stage busy.
_DEPTH = 8


class Pipe:
    """A bounded queue feeding one async-iterator consumer running as a task.

    If the consumer fails, :meth:`put` raises its error instead of blocking forever
    on a queue nobody reads; if it finishes early, further chunks are dropped.
    """

    def __init__(self, depth: int = _DEPTH) -> None:
        self._q: asyncio.Queue[Any] = asyncio.Queue(depth)
        self._error: BaseException | None = None
        self._gone = False

    def attach(self, task: asyncio.Task[Any]) -> None:
        """Watch the consumer task."""
        task.add_done_callback(self._consumer_done)

    def _consumer_done(self, task: asyncio.Task[Any]) -> None:
        self._gone = True
        if task.cancelled():
            self._error = asyncio.CancelledError()
        elif task.exception() is not None:
            self._error = task.exception()
        # Unblock a producer waiting on a full queue.
        while not self._q.empty():
            self._q.get_nowait()

    async def put(self, chunk: bytes) -> None:
        """Hand a chunk to the consumer."""
        if self._error is not None:
            raise self._error
        if self._gone:
            return
        await self._q.put(chunk)
        if self._error is not None:
            raise self._error

    async def close(self) -> None:
        """Signal end of stream."""
        if not self._gone:
            await self._q.put(_EOF)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._q.get()
            if item is _EOF:
                return
            yield item


async def _cancel(*tasks: asyncio.Task[Any] | None) -> None:
    for t in tasks:
        if t is not None and not t.done():
            t.cancel()
    for t in tasks:
        if t is not None:
            with contextlib.suppress(BaseException):
                await t


async def run_layer_pipeline(
    chunks: AsyncIterator[bytes],
    *,
    ingest: Callable[[AsyncIterator[bytes]], Coroutine[Any, Any, str]] | None,
    unpack: Callable[[AsyncIterator[bytes]], Coroutine[Any, Any, int]],
    on_bytes: Callable[[int], Awaitable[None]],
    on_downloaded: Callable[[], Awaitable[None]],
) -> int:
    """Stream ``chunks`` into ``ingest`` (optional) and, decompressed, into ``unpack``.

    ``on_bytes(n)`` is awaited per chunk read, ``on_downloaded()`` once the blob is
    complete and verified. Returns what ``unpack`` returns (the layer size).
    """
    loop = asyncio.get_running_loop()
    ingest_pipe: Pipe | None = None
    ingest_task: asyncio.Task[str] | None = None
    if ingest is not None:
        ingest_pipe = Pipe()
        ingest_task = asyncio.create_task(ingest(ingest_pipe.__aiter__()))
    unpack_pipe = Pipe()
    unpack_task: asyncio.Task[int] = asyncio.create_task(unpack(unpack_pipe.__aiter__()))
    if ingest_pipe and ingest_task:
        ingest_pipe.attach(ingest_task)
    unpack_pipe.attach(unpack_task)
    dec = Decompressor()
    bad_data: EngineError | None = None
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            if ingest_pipe:
                await ingest_pipe.put(chunk)
            if bad_data is None:
                try:
                    if dec.kind == "none":
                        out = chunk
                    else:
                        # CPU work; isal and zstd release the GIL meanwhile.
                        out = await loop.run_in_executor(None, dec.feed, chunk)
                except EngineError as e:
                    if ingest_pipe is None:
                        raise
                    # Undecodable bytes are most often a corrupted blob: read on so the
                    # digest check can say so, which is the clearer error.
                    bad_data = e
                    await _cancel(unpack_task)
                    out = b""
                if out:
                    await unpack_pipe.put(out)
            await on_bytes(len(chunk))
        if ingest_pipe and ingest_task:
            await ingest_pipe.close()
            await ingest_task  # raises on a digest or size mismatch
        if bad_data is not None:
            raise bad_data
        tail = dec.finish()
        if tail:
            await unpack_pipe.put(tail)
        await on_downloaded()
        await unpack_pipe.close()
        return await unpack_task
    except BaseException:
        await _cancel(ingest_task, unpack_task)
        raise
