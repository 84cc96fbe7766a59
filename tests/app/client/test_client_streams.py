"""Stream decoders: JSON documents and multiplexed frames split at every byte."""

from __future__ import annotations

import json

import pytest
from portside.app.client.streams import LineSplitter, demux, frame, iter_json


async def _chunks(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _collect(agen):
    return [x async for x in agen]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
async def test_json_documents_split_anywhere(size):
    docs = [{"a": 1}, {"status": "Downloading", "id": "x"}, {"text": "héllo ✓"}, [1, 2]]
    data = ("\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n").encode()
    assert await _collect(iter_json(_chunks(data, size))) == docs


async def test_json_documents_without_separators():
    data = b'{"a":1}{"b":2}  {"c":3}'
    assert await _collect(iter_json(_chunks(data, 4))) == [{"a": 1}, {"b": 2}, {"c": 3}]


async def test_truncated_json_is_an_error():
    with pytest.raises(ValueError, match="truncated"):
        await _collect(iter_json(_chunks(b'{"a":1}\n{"b":', 3)))


@pytest.mark.parametrize("size", [1, 5, 8, 9, 4096])
async def test_demux_frames(size):
    data = frame(1, b"out\n") + frame(2, b"err\n") + frame(1, b"") + frame(1, b"x" * 70000)
    got = await _collect(demux(_chunks(data, size)))
    assert got == [(1, b"out\n"), (2, b"err\n"), (1, b""), (1, b"x" * 70000)]


async def test_demux_truncated_frame_is_an_error():
    with pytest.raises(ValueError, match="inside a frame"):
        await _collect(demux(_chunks(frame(1, b"hello")[:-2], 3)))


def test_line_splitter_keeps_partial_lines_per_stream():
    s = LineSplitter(timestamps=True)
    assert s.feed(1, b"2024-01-02T03:04:05.000000001Z hel") == []
    err = s.feed(2, b"2024-01-02T03:04:05.5Z oops\n")
    assert [(ln.stream, ln.text, ln.timestamp) for ln in err] == [
        ("stderr", "oops", "2024-01-02T03:04:05.5Z")
    ]
    lines = s.feed(1, b"lo\r\nnext")
    assert [(ln.stream, ln.text, ln.timestamp) for ln in lines] == [
        ("stdout", "hello", "2024-01-02T03:04:05.000000001Z")
    ]
    rest = s.flush()
    assert [(ln.stream, ln.text) for ln in rest] == [("stdout", "next")]
