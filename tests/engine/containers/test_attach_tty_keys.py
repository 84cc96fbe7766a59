"""Detach keys (Docker's term.ToBytes rules), the detach scanner and console sizes."""

from __future__ import annotations

import pytest
from portside.engine.containers.stdio.tty import (
    DetachScanner,
    console_size,
    parse_detach_keys,
    set_console_size,
)
from portside.engine.errors import InvalidParameter

pytestmark = pytest.mark.runtime_matrix


def test_parse_detach_keys():
    assert parse_detach_keys(None) == b"\x10\x11"
    assert parse_detach_keys("") == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x") == b"\x01x"
    assert parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_") == bytes(
        [0, 27, 28, 29, 30, 31]
    )
    assert parse_detach_keys("CTRL-Z") == b"\x1a"
    for bad in ("ctrl-zz", "ctrl-1", "abc", "ctrl-", "a,,b"):
        with pytest.raises(InvalidParameter, match="Invalid detach keys"):
            parse_detach_keys(bad)


def _scan(keys: bytes, *chunks: bytes) -> tuple[bytes, bool]:
    s = DetachScanner(keys)
    out = b""
    for c in chunks:
        data, detached = s.feed(c)
        out += data
        if detached:
            return out, True
    return out + s.flush(), False


def test_scanner_detaches_and_holds_back_the_sequence():
    assert _scan(b"\x10\x11", b"abc\x10\x11rest") == (b"abc", True)
    # split across chunks: nothing of the sequence is forwarded
    s = DetachScanner(b"\x10\x11")
    assert s.feed(b"ab\x10") == (b"ab", False)
    assert s.feed(b"\x11") == (b"", True)


def test_scanner_passes_broken_sequences_on():
    assert _scan(b"\x10\x11", b"a\x10b") == (b"a\x10b", False)
    assert _scan(b"\x10\x11", b"\x10", b"\x10\x11") == (b"\x10", True)
    assert _scan(b"\x10\x11", b"x\x10") == (b"x\x10", False)  # held byte flushed at EOF
    assert _scan(b"q", b"abq") == (b"ab", True)
    assert _scan(b"", b"\x10\x11") == (b"\x10\x11", False)


def test_console_size():
    assert console_size([24, 80]) == (24, 80)
    for bad in (None, [0, 80], [24], "24x80", [True, 5], [-1, 3]):
        assert console_size(bad) is None
    p: dict = {"terminal": True}
    set_console_size(p, (10, 20))
    assert p["consoleSize"] == {"height": 10, "width": 20}
    p = {"terminal": False}
    set_console_size(p, (10, 20))
    assert "consoleSize" not in p
