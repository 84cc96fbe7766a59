"""A streaming tar reader that hands out every byte it consumes.

Python's ``tarfile`` hides the raw header bytes and reads ahead, so it cannot record
the exact byte layout needed to rebuild a layer tar bit for bit (its sha256 is the
layer's diff-id). This reader parses ustar, GNU and PAX headers itself, reports the
header and padding bytes to a ``sink`` (the tar-split recorder) and lets the caller
decide what to do with each payload. It is strict: bad checksums, oversized
meta-headers and truncated payloads are errors, never guesses.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import InvalidParameter

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
MAX_META = 1 << 20  # PAX records and GNU long names (as Go's archive/tar limits them)
MAX_PATH = 4096
MAX_COMPONENT = 255

REGULAR, AREGULAR, LINK, SYMLINK = b"0", b"\0", b"1", b"2"
CHAR, BLOCKDEV, DIR, FIFO, CONTIGUOUS = b"3", b"4", b"5", b"6", b"7"
PAX, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK = b"x", b"g", b"L", b"K"
FILE_TYPES = {REGULAR, AREGULAR, CONTIGUOUS}
# Entries that never carry data, whatever their size field says (as Go's reader).
HEADER_ONLY = {LINK, SYMLINK, CHAR, BLOCKDEV, DIR, FIFO}


class TarError(InvalidParameter):
    """The tar stream is malformed (400)."""


class Reader(Protocol):
    """A byte source: ``read(n)`` returns 1..n bytes, or ``b""`` at the end."""

    def read(self, n: int) -> bytes: ...


class Sink(Protocol):
    """Receives the bytes the reader consumed that are not payload handed out."""

    def raw(self, data: bytes) -> None: ...


@dataclass
class Entry:
    """One tar member, after PAX and GNU long-name headers were applied."""

    name: bytes
    linkname: bytes
    type: bytes
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    atime_ns: int | None = None
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)

    @property
    def is_file(self) -> bool:
        """A regular file (with payload)."""
        return self.type in FILE_TYPES

    def shown(self) -> str:
        """The name for error messages."""
        return self.name.decode("utf-8", "replace")


def _cstr(field_: bytes) -> bytes:
    return field_.split(b"\0", 1)[0]


def _number(field_: bytes, what: str) -> int:
    """An octal or base-256 numeric header field."""
    if field_ and field_[0] & 0x80:
        if field_[0] == 0xFF:
            raise TarError(f"invalid tar header: negative {what}")
        value = field_[0] & 0x7F
        for b in field_[1:]:
            value = (value << 8) | b
        return value
    text = _cstr(field_).strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarError(f"invalid tar header: bad {what} field {text!r}") from None


_ASCII = bytes(range(0x80))


def _checksum_ok(block: bytes) -> bool:
    stored = _number(block[148:156], "checksum")
    # sum() over bytes runs in C; the checksum field itself counts as 8 spaces.
    unsigned = sum(block) - sum(block[148:156]) + 8 * 32
    if stored == unsigned:
        return True
    # Some old tars summed signed chars: each byte >= 0x80 then counts 256 less.
    rest = block[:148] + block[156:]
    return stored == unsigned - 256 * len(rest.translate(None, _ASCII))


def _decimal_ns(text: bytes, what: str) -> int:
    try:
        whole, _, frac = text.decode().partition(".")
        ns = int(whole) * 1_000_000_000
        if frac:
            digits = (frac + "000000000")[:9]
            ns += int(digits) * (-1 if whole.startswith("-") else 1)
        return ns
    except ValueError:
        raise TarError(f"invalid PAX {what} value {text!r}") from None


def parse_pax(data: bytes) -> dict[str, bytes]:
    """PAX extended-header records: ``"<len> <key>=<value>\\n"`` repeated."""
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # some writers pad the record block with NULs
            break
        sp = data.find(b" ", pos)
        if sp < 0:
            raise TarError("invalid PAX header: missing length")
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise TarError("invalid PAX header: bad record length") from None
        end = pos + length
        if length <= 0 or end > len(data) or data[end - 1 : end] != b"\n":
            raise TarError("invalid PAX header: bad record length")
        key, eq, value = data[sp + 1 : end - 1].partition(b"=")
        if not eq:
            raise TarError("invalid PAX header: record without '='")
        out[key.decode("utf-8", "replace")] = value
        pos = end
    return out


def _apply_pax(entry: Entry, pax: dict[str, bytes]) -> None:
    for key, value in pax.items():
        if key == "path":
            entry.name = value
        elif key == "linkpath":
            entry.linkname = value
        elif key in ("size", "uid", "gid"):
            try:
                setattr(entry, key, int(value))
            except ValueError:
                raise TarError(f"invalid PAX {key} value {value!r}") from None
            if getattr(entry, key) < 0:
                raise TarError(f"invalid PAX {key} value {value!r}")
        elif key == "mtime":
            entry.mtime_ns = _decimal_ns(value, key)
        elif key == "atime":
            entry.atime_ns = _decimal_ns(value, key)
        elif key.startswith("SCHILY.xattr."):
            entry.xattrs[key[len("SCHILY.xattr.") :]] = value
        elif key.startswith("LIBARCHIVE.xattr."):
            name = urllib.parse.unquote(key[len("LIBARCHIVE.xattr.") :])
            try:
                entry.xattrs.setdefault(name, base64.b64decode(value + b"=="))
            except ValueError:
                raise TarError(f"invalid PAX xattr value for {name}") from None
        elif key.startswith("GNU.sparse."):
            raise TarError("sparse files in tar archives are not supported")


def parse_header(block: bytes) -> Entry:
    """Decode one 512-byte header block (before PAX/GNU overrides)."""
    if not _checksum_ok(block):
        raise TarError("invalid tar header: checksum mismatch (corrupt or not a tar archive)")
    name = _cstr(block[0:100])
    magic = block[257:263]
    if magic == b"ustar\0":  # POSIX: a prefix field extends the name
        prefix = _cstr(block[345:500])
        if prefix:
            name = prefix + b"/" + name
    return Entry(
        name=name,
        linkname=_cstr(block[157:257]),
        type=block[156:157],
        mode=_number(block[100:108], "mode"),
        uid=_number(block[108:116], "uid"),
        gid=_number(block[116:124], "gid"),
        size=_number(block[124:136], "size"),
        mtime_ns=_number(block[136:148], "mtime") * 1_000_000_000,
        devmajor=_number(block[329:337], "devmajor"),
        devminor=_number(block[337:345], "devminor"),
    )


class TarStream:
    """Iterates the entries of a tar read from ``src``.

    Header, meta-header, padding and trailer bytes go to ``sink.raw``; payload bytes
    go to whoever calls :meth:`read_payload` (or to ``sink.raw`` when skipped).
    """

    def __init__(self, src: Reader, sink: Sink | None = None) -> None:
        self._src = src
        self._sink = sink
        self._buf = b""
        self._remaining = 0  # unread payload of the current entry
        self._padding = 0
        self.ended = False

    # -- bytes -------------------------------------------------------------------------
    def _read(self, n: int) -> bytes:
        if self._buf:
            out, self._buf = self._buf[:n], self._buf[n:]
            return out
        return self._src.read(n)

    def _exact(self, n: int, what: str) -> bytes:
        parts = []
        got = 0
        while got < n:
            chunk = self._read(n - got)
            if not chunk:
                raise TarError(f"unexpected end of tar archive in {what}")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _raw(self, data: bytes) -> None:
        if self._sink is not None and data:
            self._sink.raw(data)

    # -- payload -----------------------------------------------------------------------
    def read_payload(self, n: int = 1 << 20) -> bytes:
        """Up to ``n`` bytes of the current entry's data (``b""`` when done)."""
        if self._remaining <= 0:
            return b""
        chunk = self._read(min(n, self._remaining))
        if not chunk:
            raise TarError("unexpected end of tar archive: payload is truncated")
        self._remaining -= len(chunk)
        return chunk

    def _skip_payload(self) -> None:
        while self._remaining > 0:
            self._raw(self.read_payload())
        if self._padding:
            self._raw(self._exact(self._padding, "padding"))
            self._padding = 0

    def drain(self) -> None:
        """Consume everything after the end-of-archive marker (it is hashed too)."""
        self._skip_payload()
        while True:
            chunk = self._read(1 << 20)
            if not chunk:
                return
            self._raw(chunk)

    # -- headers -----------------------------------------------------------------------
    def next(self) -> Entry | None:
        """The next entry, or None at the end of the archive."""
        if self.ended:
            return None
        self._skip_payload()
        pax: dict[str, bytes] = {}
        longname: bytes | None = None
        longlink: bytes | None = None
        while True:
            first = self._read(BLOCK)
            if not first:  # EOF on a header boundary: an archive without a trailer
                self.ended = True
                return None
            block = (
                first if len(first) == BLOCK else first + self._exact(BLOCK - len(first), "header")
            )
            self._raw(block)
            if block == ZERO_BLOCK:
                self.ended = True
                self.drain()
                return None
            entry = parse_header(block)
            kind = entry.type
            if kind in (PAX, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK):
                if entry.size > MAX_META:
                    raise TarError(f"tar meta-header of {entry.size} bytes exceeds the limit")
                data = self._exact(entry.size, "meta-header")
                self._raw(data)
                pad = -entry.size % BLOCK
                if pad:
                    self._raw(self._exact(pad, "padding"))
                if kind == PAX:
                    pax.update(parse_pax(data))
                elif kind == GNU_LONGNAME:
                    longname = _cstr(data)
                elif kind == GNU_LONGLINK:
                    longlink = _cstr(data)
                # Global PAX headers are ignored, as Docker does.
                continue
            if longname is not None:
                entry.name = longname
            if longlink is not None:
                entry.linkname = longlink
            _apply_pax(entry, pax)
            if len(entry.name) > MAX_PATH or len(entry.linkname) > MAX_PATH:
                raise TarError(f"tar entry name longer than {MAX_PATH} bytes")
            if kind in HEADER_ONLY:
                entry.size = 0
            self._remaining = entry.size
            self._padding = -entry.size % BLOCK
            return entry
