"""Streaming layer decompression: gzip (isal, falling back to zlib), zstd, or none.

The format is sniffed from the first bytes, as dockerd does, rather than trusted from
the media type: registries and tools mislabel layers often enough. Multi-member gzip
and multi-frame zstd streams are decoded whole. Data after the end of the compressed
stream is an error (it would otherwise be silently dropped from the layer).
"""

from __future__ import annotations

import zlib
from typing import Any

from ..errors import InvalidParameter

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# Per call, so one decompress() of a 1 MiB chunk cannot balloon without bound.
_MAX_OUT = 64 << 20


def _gzip_module() -> Any:
    """isal's zlib (decodes gzip several times faster), imported on the first gzip
    layer rather than at engine start; zlib when it is missing."""
    try:
        from isal import isal_zlib

        return isal_zlib
    except ImportError:  # pragma: no cover - isal is a declared dependency
        return zlib


def sniff(head: bytes) -> str:
    """``gzip``, ``zstd`` or ``none`` from a stream's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class Decompressor:
    """Feed compressed chunks, get tar bytes; :meth:`finish` checks the stream ended.

    The format is decided on the first :meth:`feed` call from the magic bytes.
    Methods are plain (blocking CPU work) so callers can run them in an executor.
    """

    def __init__(self) -> None:
        self.kind: str | None = None
        self._obj: Any = None
        self._head = b""

    def _start(self, kind: str) -> None:
        self.kind = kind
        if kind == "gzip":
            self._obj = _gzip_module().decompressobj(wbits=31)
        elif kind == "zstd":
            import zstandard

            self._obj = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)

    def feed(self, data: bytes) -> bytes:
        """Decompress one chunk."""
        if self.kind is None:
            self._head += data
            if len(self._head) < 4:
                return b""
            data, self._head = self._head, b""
            self._start(sniff(data))
        if self.kind == "none":
            return data
        try:
            if self.kind == "gzip":
                return self._feed_gzip(data)
            return self._obj.decompress(data)
        except Exception as e:  # zlib.error, isal error, ZstdError
            raise InvalidParameter(f"invalid {self.kind} layer data: {e}") from None

    def _feed_gzip(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self._obj.decompress(data))
            if not self._obj.eof:
                break
            # Another gzip member may follow (pigz, concatenated streams).
            data = self._obj.unused_data
            if data:
                self._obj = _gzip_module().decompressobj(wbits=31)
        return b"".join(out)

    def finish(self) -> bytes:
        """The last bytes; raises if the compressed stream was truncated."""
        if self.kind is None:
            data, self._head = self._head, b""
            if not data:
                return b""
            self._start(sniff(data))
            return self.feed(data) + self.finish()
        if self.kind == "none":
            return b""
        if self.kind == "gzip":
            if not self._obj.eof:
                tail = self._obj.flush()
                if not self._obj.eof:
                    raise InvalidParameter("invalid gzip layer data: unexpected end of stream")
                return tail
            return b""
        # zstd (read across frames) cannot tell a truncated last frame from a finished
        # one here; the blob digest and the layer's diff-id, both verified, catch it.
        return b""
