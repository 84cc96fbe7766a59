"""Byte plumbing between the event loop and the extraction thread.

:class:`ChunkChannel` carries chunks from an async producer (an HTTP body, a registry
download) to a blocking consumer running in the executor, with back-pressure both
ways, so a layer is hashed and unpacked while it is still arriving.
:class:`DigestReader` sits on top: it hashes the raw (possibly compressed) bytes,
decompresses gzip/zstd/bzip2/xz when asked, and hashes the uncompressed bytes — one
pass over the data for the blob digest, the diff-id and the extraction.
"""

from __future__ import annotations

import asyncio
import bz2
import hashlib
import lzma
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, cast

from ..errors import InvalidParameter

_LIMIT = 8 << 20  # bytes buffered between the loop and the thread


class ChannelClosed(Exception):
    """The producer gave up (client went away or an error upstream)."""


class ChunkChannel:
    """Async ``put`` on the loop side, blocking ``read`` on the thread side."""

    def __init__(self, limit: int = _LIMIT) -> None:
        self._loop = asyncio.get_running_loop()
        self._cond = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._limit = limit
        self._eof = False
        self._error: BaseException | None = None
        self._reader_gone = False
        self._waiter: asyncio.Future[None] | None = None
        self._head = b""
        self._pos = 0

    # -- loop side ---------------------------------------------------------------------
    async def put(self, chunk: bytes) -> bool:
        """Queue a chunk; False once the reader stopped (its result says why)."""
        while True:
            with self._cond:
                if self._reader_gone:
                    return False
                if self._size < self._limit:
                    self._chunks.append(chunk)
                    self._size += len(chunk)
                    self._cond.notify()
                    return True
                self._waiter = self._loop.create_future()
                waiter = self._waiter
            await waiter

    async def feed(self, chunks: AsyncIterator[bytes]) -> None:
        """Put every chunk, then close; on failure upstream, fail the reader."""
        try:
            async for chunk in chunks:
                if chunk and not await self.put(bytes(chunk)):
                    return
        except BaseException as e:
            self.fail(e)
            raise
        self.close()

    def close(self) -> None:
        """No more data: the reader sees EOF after the queued chunks."""
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        """Abort: the reader raises :class:`ChannelClosed`."""
        with self._cond:
            self._error = error
            self._eof = True
            self._cond.notify_all()

    # -- thread side -------------------------------------------------------------------
    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; ``b""`` at EOF (blocks until data arrives)."""
        if self._pos >= len(self._head):
            with self._cond:
                while not self._chunks and not self._eof:
                    self._cond.wait()
                if self._error is not None:
                    raise ChannelClosed(str(self._error) or type(self._error).__name__)
                if not self._chunks:
                    return b""
                self._head = self._chunks.popleft()
                self._pos = 0
                self._size -= len(self._head)
                self._wake_writer()
        # An offset instead of re-slicing: tar headers are read 512 bytes at a time.
        start = self._pos
        self._pos = min(start + n, len(self._head))
        if start == 0 and self._pos == len(self._head):
            return self._head
        return self._head[start : self._pos]

    def reader_done(self) -> None:
        """The reader stopped (finished or failed): release a blocked producer."""
        with self._cond:
            self._reader_gone = True
            self._chunks.clear()
            self._size = 0
            self._wake_writer()

    def _wake_writer(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._loop.call_soon_threadsafe(_resolve, waiter)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class BytesReader:
    """A reader over bytes already in memory."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)

    def read(self, n: int) -> bytes:
        out = bytes(self._view[:n])
        self._view = self._view[n:]
        return out


class _Hashing:
    """Hashes and counts whatever passes through ``read``; can peek the start."""

    def __init__(self, src: Any) -> None:
        self._src = src
        self.hash = hashlib.sha256()
        self.size = 0
        self._peeked = b""

    def peek(self, n: int) -> bytes:
        while len(self._peeked) < n:
            chunk = self._src.read(n - len(self._peeked))
            if not chunk:
                break
            self._peeked += chunk
        return self._peeked[:n]

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 20
        if self._peeked:
            out, self._peeked = self._peeked[:n], self._peeked[n:]
        else:
            out = self._src.read(n)
        if out:
            self.hash.update(out)
            self.size += len(out)
        return out

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def detect_compression(head: bytes) -> str:
    """``gzip``, ``zstd``, ``bzip2``, ``xz`` or ``none`` from the first bytes."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    # "BZh" + level + block magic: a tar header cannot look like this.
    if head[:3] == b"BZh" and head[4:10] == b"\x31\x41\x59\x26\x53\x59":
        return "bzip2"
    return "none"


class DigestReader:
    """Raw bytes in, uncompressed bytes out; both digests and sizes on the side."""

    def __init__(self, src: Any, compression: str = "auto") -> None:
        self._raw = cast(Any, _Hashing(src))  # file-like enough for the decompressors
        if compression == "auto":
            compression = detect_compression(self._raw.peek(10))
        self.compression = compression
        # Errors that mean "corrupt input"; the zstd one is added with its module.
        self._corrupt: tuple[type[BaseException], ...] = (OSError, EOFError, lzma.LZMAError)
        inner: Any
        # isal and zstandard are imported here, on the first compressed layer, not when
        # the engine starts (most loads and commits never need them).
        if compression == "none":
            inner = self._raw
        elif compression == "gzip":
            import isal.igzip

            inner = isal.igzip.IGzipFile(fileobj=self._raw, mode="rb")
        elif compression == "zstd":
            import zstandard

            self._corrupt += (zstandard.ZstdError,)
            inner = zstandard.ZstdDecompressor().stream_reader(
                self._raw, read_across_frames=True, closefd=False
            )
        elif compression == "bzip2":
            inner = bz2.BZ2File(self._raw, "rb")
        elif compression == "xz":
            inner = lzma.LZMAFile(self._raw, "rb")
        else:
            raise InvalidParameter(f"unsupported compression {compression!r}")
        self._out = inner if compression == "none" else _Hashing(inner)

    def read(self, n: int) -> bytes:
        """Up to ``n`` uncompressed bytes."""
        try:
            return self._out.read(n)
        except self._corrupt as e:
            raise InvalidParameter(f"corrupt {self.compression} stream: {e}") from e

    def finish(self) -> None:
        """Consume the rest of both streams so the digests cover everything."""
        while self.read(1 << 20):
            pass
        self._raw.drain()

    @property
    def diff_id(self) -> str:
        """sha256 of the uncompressed stream."""
        return self._out.digest

    @property
    def blob_digest(self) -> str:
        """sha256 of the bytes as received."""
        return self._raw.digest

    @property
    def size(self) -> int:
        """Uncompressed size."""
        return self._out.size

    @property
    def blob_size(self) -> int:
        """Size as received."""
        return self._raw.size
