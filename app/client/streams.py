"""Decoders for the engine's streaming answers, independent of any transport.

* JSON streams (events, stats, pull progress): JSON documents one after another,
  usually newline-separated, split arbitrarily across network chunks.
* Multiplexed streams (logs and attach of containers without a TTY): frames with an
  8-byte header ``[stream, 0, 0, 0, size (big-endian u32)]`` then ``size`` bytes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass
from typing import Any

STDIN, STDOUT, STDERR = 0, 1, 2
STREAM_NAMES = {STDIN: "stdin", STDOUT: "stdout", STDERR: "stderr", 3: "system"}
_HEADER = struct.Struct(">BxxxL")
_DECODER = json.JSONDecoder()


async def iter_json(chunks: AsyncIterable[bytes]) -> AsyncGenerator[Any, None]:
    """Decode consecutive JSON documents from a byte stream."""
    buf = ""
    pending = b""
    async for chunk in chunks:
        # A multi-byte UTF-8 character may be split between chunks; keep the tail.
        data = pending + chunk
        try:
            text = data.decode("utf-8")
            pending = b""
        except UnicodeDecodeError as e:
            if e.start < len(data) - 3:
                text = data.decode("utf-8", "replace")
                pending = b""
            else:
                text, pending = data[: e.start].decode("utf-8"), data[e.start :]
        buf += text
        pos = 0
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos >= len(buf):
                break
            try:
                obj, end = _DECODER.raw_decode(buf, pos)
            except json.JSONDecodeError:
                break  # incomplete document: wait for more bytes
            yield obj
            pos = end
        buf = buf[pos:]
    if buf.strip():
        raise ValueError(f"truncated JSON at the end of the stream: {buf[:80]!r}")


async def demux(chunks: AsyncIterable[bytes]) -> AsyncGenerator[tuple[int, bytes], None]:
    """Split a multiplexed stream into ``(stream number, payload)`` frames."""
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        while len(buf) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(buf)
            if len(buf) < _HEADER.size + size:
                break
            payload = bytes(buf[_HEADER.size : _HEADER.size + size])
            del buf[: _HEADER.size + size]
            yield stream, payload
    if buf:
        raise ValueError(f"multiplexed stream ended inside a frame ({len(buf)} bytes left)")


def frame(stream: int, payload: bytes) -> bytes:
    """Encode one multiplexed frame (used by tests and fakes)."""
    return _HEADER.pack(stream, len(payload)) + payload


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of container output.

    ``stream`` is ``"stdout"`` or ``"stderr"`` (``"stdout"`` for TTY containers, whose
    output is not split), ``text`` has no trailing newline, ``timestamp`` is the RFC 3339
    stamp the engine put in front of the line when timestamps were asked for.
    """

    stream: str
    text: str
    timestamp: str | None = None


class LineSplitter:
    """Turn ``(stream, bytes)`` chunks into lines, keeping a partial line per stream."""

    def __init__(self, timestamps: bool = False):
        self._timestamps = timestamps
        self._partial: dict[int, bytes] = {}

    def feed(self, stream: int, data: bytes) -> list[LogLine]:
        """Complete lines found after adding ``data`` to ``stream``'s partial line."""
        data = self._partial.pop(stream, b"") + data
        *lines, rest = data.split(b"\n")
        if rest:
            self._partial[stream] = rest
        return [self._line(stream, raw) for raw in lines]

    def flush(self) -> list[LogLine]:
        """Lines left without a final newline when the stream ends."""
        out = [self._line(s, raw) for s, raw in sorted(self._partial.items())]
        self._partial.clear()
        return out

    def _line(self, stream: int, raw: bytes) -> LogLine:
        text = raw.decode("utf-8", "replace").removesuffix("\r")
        ts = None
        if self._timestamps:
            head, sep, tail = text.partition(" ")
            if sep and head[:1].isdigit():
                ts, text = head, tail
        return LogLine(STREAM_NAMES.get(stream, "stdout"), text, ts)
