"""One download, three consumers: blob store, decompressor, layer unpacker.

A layer's HTTP body is read once. Each chunk goes to the content store (which hashes
it against the blob digest while writing) and through the decompressor into the
layer store (which hashes the tar against the diff-id while extracting). The layer's
end-of-stream is handed to the unpacker only after the blob's digest has verified,
so a corrupted blob can never be committed as a layer.

On any failure the consumers are not cancelled but *aborted*: their input stream
raises, so each store runs its own error path (which removes its temp files), and we
wait for both to finish. Cancelling them instead could interrupt a store between
"work done" and "committed", leaving a temp directory or a stray blob behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from ..errors import EngineError
from .decompress import Decompressor

_EOF = object()
# Chunks buffered per consumer: bounded memory, yet enough to keep every stage busy.
_DEPTH = 8


class PipelineAborted(Exception):
    """Raised inside a consumer's input stream when the layer transfer failed."""


class _Abort:
    def __init__(self, error: BaseException) -> None:
        self.error = error


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
        self._drain()  # unblock a producer waiting on a full queue

    def _drain(self) -> None:
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

    def abort(self, error: BaseException) -> None:
        """Make the consumer's stream raise ``error`` at its next read (never blocks)."""
        if self._gone:
            return
        self._drain()  # pending chunks are worthless now
        self._q.put_nowait(_Abort(error))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._q.get()
            if item is _EOF:
                return
            if isinstance(item, _Abort):
                raise item.error
            yield item


async def _settle(*tasks: asyncio.Task[Any] | None) -> None:
    """Wait until the aborted consumers have finished their own clean-up.

    Bounded: an aborted stream raises at the consumer's next read. A cancellation
    arriving meanwhile is held back until they are done, then re-raised, so nothing is
    left half-cleaned.
    """
    cancelled = False
    for t in tasks:
        while t is not None and not t.done():
            try:
                await asyncio.wait({t})
            except asyncio.CancelledError:
                cancelled = True
        if t is not None and not t.cancelled():
            t.exception()  # retrieved: the caller reports the pipeline's own error
    if cancelled:
        raise asyncio.CancelledError()


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
    complete and verified. Returns what ``unpack`` returns (the layer size). On
    failure both consumers have finished (and cleaned up) before the error propagates;
    a consumer that had already committed its result keeps it (the caller checks).
    """
    loop = asyncio.get_running_loop()
    ingest_pipe: Pipe | None = None
    ingest_task: asyncio.Task[str] | None = None
    if ingest is not None:
        ingest_pipe = Pipe()
        ingest_task = asyncio.create_task(ingest(ingest_pipe.__aiter__()))
        ingest_pipe.attach(ingest_task)
    unpack_pipe = Pipe()
    unpack_task: asyncio.Task[int] = asyncio.create_task(unpack(unpack_pipe.__aiter__()))
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
                    unpack_pipe.abort(PipelineAborted(e.message))
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
    except BaseException as e:
        why = PipelineAborted(getattr(e, "message", None) or type(e).__name__)
        for pipe in (ingest_pipe, unpack_pipe):
            if pipe is not None:
                pipe.abort(why)
        await _settle(ingest_task, unpack_task)
        raise
