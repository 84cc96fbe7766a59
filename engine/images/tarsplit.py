"""Tar-split: enough metadata to rebuild a layer tar byte for byte from its directory.

A layer is stored unpacked (overlay needs directories), but ``docker save`` and
``push`` must produce the very tar whose sha256 is the diff-id. While unpacking we
record every header, padding and trailer byte verbatim, and for each file payload
only a reference (its path and size). Rebuilding streams the recorded bytes and reads
payloads back from the layer's ``diff`` directory — the same idea as Docker's
tar-split, in a small binary format of our own:

    b"R" <u32 length> <bytes>          raw bytes
    b"F" <u32 path length> <u64 size> <path>   payload of the n-th file record

zlib-compressed. When a later duplicate entry in the same tar replaces a file whose
payload was referenced, the old file is first moved to ``shadow/<n>`` so that the
n-th payload can still be found.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from ..errors import SystemError_
from ..fs import pathsafe

_RAW = b"R"
_FILE = b"F"
_U32 = struct.Struct(">I")
_FILE_HDR = struct.Struct(">IQ")
_FLUSH = 1 << 20


class SplitWriter:
    """Records a tar's layout while it is being unpacked (used from one thread)."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "wb")
        self._z = zlib.compressobj(1)
        self._pending = bytearray()
        self.files = 0

    def raw(self, data: bytes) -> None:
        """Verbatim bytes (headers, padding, trailer, skipped payloads)."""
        self._pending += data
        if len(self._pending) >= _FLUSH:
            self._flush_raw()

    def file(self, path: bytes, size: int) -> int:
        """A payload of ``size`` bytes that will be found at ``path``; returns its ordinal."""
        self._flush_raw()
        self._emit(_FILE + _FILE_HDR.pack(len(path), size) + path)
        self.files += 1
        return self.files - 1

    def _flush_raw(self) -> None:
        if self._pending:
            self._emit(_RAW + _U32.pack(len(self._pending)) + bytes(self._pending))
            self._pending.clear()

    def _emit(self, record: bytes) -> None:
        self._f.write(self._z.compress(record))

    def close(self) -> None:
        """Flush and fsync."""
        self._flush_raw()
        self._f.write(self._z.flush())
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()

    def abort(self) -> None:
        """Close without caring about the content (the layer is being discarded)."""
        if not self._f.closed:
            try:
                self._f.close()
            except OSError:
                pass  # e.g. ENOSPC while flushing; the file is deleted with its layer


class SplitReader:
    """Rebuilds the original tar stream of an unpacked layer (blocking; use a thread)."""

    def __init__(self, layer_dir: Path) -> None:
        self._f = open(layer_dir / "tar-split", "rb")
        self._z = zlib.decompressobj()
        self._in = bytearray()
        self._eof_in = False
        self._diff = layer_dir / "diff"
        self._shadow = layer_dir / "shadow"
        self._root_fd = os.open(self._diff, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._ordinal = 0
        self._raw_left = 0
        self._file_fd = -1
        self._file_left = 0
        self._file_name = b""

    def _need(self, n: int) -> bytes | None:
        """Exactly ``n`` decompressed record bytes, or None at a clean end."""
        while len(self._in) < n and not self._eof_in:
            chunk = self._f.read(1 << 16)
            if chunk:
                self._in += self._z.decompress(chunk)
            else:
                self._in += self._z.flush()
                self._eof_in = True
        if len(self._in) < n:
            if self._in:
                raise SystemError_("layer tar-split metadata is truncated")
            return None
        out = bytes(self._in[:n])
        del self._in[:n]
        return out

    def _open_payload(self, path: bytes) -> int:
        shadow = self._shadow / str(self._ordinal)
        if shadow.is_file():
            return os.open(shadow, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        return pathsafe.open_file(self._root_fd, path)

    def read(self, n: int = 1 << 20) -> bytes:
        """The next up to ``n`` bytes of the tar (``b""`` at the end)."""
        while True:
            if self._raw_left:
                take = min(n, self._raw_left)
                data = self._need(take)
                if data is None:
                    raise SystemError_("layer tar-split metadata is truncated")
                self._raw_left -= take
                return data
            if self._file_left:
                data = os.read(self._file_fd, min(n, self._file_left))
                if not data:
                    raise SystemError_(
                        f"layer file {self._file_name.decode(errors='replace')} is shorter "
                        "than recorded; the layer store is damaged"
                    )
                self._file_left -= len(data)
                if not self._file_left:
                    os.close(self._file_fd)
                    self._file_fd = -1
                return data
            kind = self._need(1)
            if kind is None:
                return b""
            if kind == _RAW:
                (self._raw_left,) = _U32.unpack(self._need(_U32.size) or b"")
            elif kind == _FILE:
                plen, size = _FILE_HDR.unpack(self._need(_FILE_HDR.size) or b"")
                self._file_name = self._need(plen) or b""
                self._file_fd = self._open_payload(self._file_name)
                self._file_left = size
                self._ordinal += 1
                if not size:
                    os.close(self._file_fd)
                    self._file_fd = -1
            else:
                raise SystemError_("layer tar-split metadata is corrupt")

    def close(self) -> None:
        """Release files."""
        if self._file_fd >= 0:
            os.close(self._file_fd)
            self._file_fd = -1
        os.close(self._root_fd)
        self._f.close()
