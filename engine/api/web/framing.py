"""HTTP/1.1 for the common case without h11: a bodiless GET/HEAD head in, an answer out.

Nearly every request on a busy engine is a small ``GET`` (``/_ping``, lists, inspections)
and parsing and framing it through h11's general state machine was about a quarter of what
each one cost under load. :func:`parse_simple_head` takes only what is plainly valid
HTTP/1.1 — request line, a single ``Host``, no body, no ``Expect``, no upgrade, every line
strictly well formed — and answers None for anything else, which then goes to h11, so its
checks and error answers stay the only ones. :class:`ResponseFrame` writes what h11 would
write for such a request: the same head, a body by ``Content-Length`` or chunked, nothing
after the head for ``HEAD``, ``Connection: close`` when the client asked for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

from h11 import LocalProtocolError

# What h11 accepts (its ABNF), narrowed where that keeps the check simple: anything these
# refuse is not an error here, just a request for the general parser.
_REQUEST_LINE = re.compile(rb"(GET|HEAD) ([\x21-\x7e]+) HTTP/1\.1\Z")
_HEADER_LINE = re.compile(
    rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*((?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?)[ \t]*\Z"
)
_FIELD_VALUE = re.compile(r"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?\Z")
_FIELD_NAME = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+\Z")
# Request headers that need h11: a body, a 100-continue, a protocol switch, trailers.
_NOT_SIMPLE = frozenset(
    {b"content-length", b"transfer-encoding", b"expect", b"upgrade", b"te", b"trailer"}
)
# Statuses whose answers have no body whatever their headers say.
_NO_BODY = frozenset({204, 304})

_EMPTY = b""


@dataclass(slots=True)
class SimpleHead:
    """A parsed bodiless request head."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    size: int  # bytes of the head, blank line included
    close: bool  # the client said "Connection: close"


def parse_simple_head(buf: bytes | bytearray, limit: int) -> SimpleHead | None:
    """The complete simple request head at the start of ``buf``, or None: not complete
    yet, longer than ``limit``, or anything h11 should look at (see the module)."""
    end = buf.find(b"\r\n\r\n", 0, limit)
    if end < 0:
        return None
    lines = bytes(buf[:end]).split(b"\r\n")
    m = _REQUEST_LINE.match(lines[0])
    if m is None:
        return None
    headers: list[tuple[str, str]] = []
    hosts = 0
    close = False
    for line in lines[1:]:
        h = _HEADER_LINE.match(line)
        if h is None:
            return None  # obsolete folding, bad bytes, a space before the colon, …
        name = h.group(1).lower()
        if name in _NOT_SIMPLE:
            return None
        value = h.group(2)
        if name == b"host":
            hosts += 1
        elif name == b"connection":
            tokens = {t.strip().lower() for t in value.split(b",")}
            if b"upgrade" in tokens:
                return None
            close = close or b"close" in tokens
        headers.append((name.decode("ascii"), value.decode("ascii")))
    if hosts != 1:
        return None  # h11 answers a missing or repeated Host with its 400
    return SimpleHead(
        m.group(1).decode("ascii"), m.group(2).decode("ascii"), headers, end + 4, close
    )


def status_line(status: int, reason: str | None) -> bytes:
    """``HTTP/1.1 200 OK\\r\\n`` (cached for the usual statuses)."""
    if reason is None:
        cached = _STATUS_LINES.get(status)
        if cached is not None:
            return cached
        reason = reason_phrase(status)
    return b"HTTP/1.1 %d %s\r\n" % (status, reason.encode("latin-1"))


def reason_phrase(status: int) -> str:
    """The standard reason phrase, or ``""`` for a status without one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


_STATUS_LINES = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}


def header_lines(items: list[tuple[str, str]]) -> bytes:
    """``name: value\\r\\n`` lines, refusing what h11 refuses (line breaks, NULs, outer
    whitespace, non-ASCII) so that no value can smuggle a header or a body in."""
    out = []
    for name, value in items:
        if _FIELD_NAME.match(name) is None or _FIELD_VALUE.match(value) is None:
            raise LocalProtocolError(f"illegal header: {name!r}: {value!r}")
        out.append(f"{name}: {value}\r\n")
    try:
        return "".join(out).encode("ascii")
    except UnicodeEncodeError as e:
        raise LocalProtocolError(f"non-ASCII header: {e}") from None


class DefaultHeaders:
    """The listener's headers for every answer, encoded once."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.items = list(headers.items())
        self.names = frozenset(k.lower() for k in headers)
        self.encoded = header_lines(self.items)

    def merged(self, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        """The defaults (unless ``headers`` has them, in any case), then ``headers``."""
        names = {k.lower() for k in headers}
        return [(k, v) for k, v in self.items if k.lower() not in names] + list(headers.items())

    def encode(self, headers: Mapping[str, str], drop: frozenset[str] = frozenset()) -> bytes:
        """:meth:`merged` without the names in ``drop``, as header lines (reusing the
        encoded defaults when nothing overrides them)."""
        for k in headers:
            key = k.lower()
            if key in self.names or key in drop:
                items = self.merged(headers)
                return header_lines([(k, v) for k, v in items if k.lower() not in drop])
        return self.encoded + header_lines(list(headers.items()))


class ResponseFrame:
    """The body framing of one answer to a simple request (what h11 would choose)."""

    __slots__ = ("chunked", "left", "silent")

    def __init__(self, status: int, headers: Mapping[str, str], head_request: bool) -> None:
        # HEAD gets GET's headers and no body; 204 and 304 never have one.
        self.silent = head_request or status in _NO_BODY
        self.chunked = False
        self.left: int | None = None  # bytes still due under a Content-Length
        if status in _NO_BODY:
            self.left = 0
            return
        for k, v in headers.items():
            key = k.lower()
            if key == "transfer-encoding":
                self.chunked = True
                self.left = None
                return
            if key == "content-length":
                self.left = int(v)
        if self.left is None:
            self.chunked = True
        if head_request:
            self.left = 0

    def body(self, data: bytes) -> bytes:
        """``data`` framed as body bytes (nothing for a bodiless answer)."""
        if self.silent or not data:
            return _EMPTY
        if self.chunked:
            return b"%x\r\n%s\r\n" % (len(data), data)
        assert self.left is not None
        if len(data) > self.left:
            raise LocalProtocolError("Too much data for declared Content-Length")
        self.left -= len(data)
        return data

    def end(self) -> bytes:
        """The end of the body."""
        if self.silent:
            return _EMPTY
        if self.chunked:
            return b"0\r\n\r\n"
        if self.left:
            raise LocalProtocolError("Too little data for declared Content-Length")
        return _EMPTY


_CHUNKED_DROP = frozenset({"content-length", "transfer-encoding"})
_CLOSE_DROP = frozenset({"connection"})


def response_head(
    status: int,
    reason: str | None,
    headers: Mapping[str, str],
    defaults: DefaultHeaders,
    head_request: bool,
    close: bool,
) -> tuple[bytes, ResponseFrame]:
    """The status line and headers of an answer to a simple request, and its framing.
    As h11 does, the framing's own ``Transfer-Encoding: chunked`` and ``Connection:
    close`` replace any the answer had and come last."""
    frame = ResponseFrame(status, headers, head_request)
    drop: frozenset[str] = frozenset()
    if frame.chunked:
        drop = _CHUNKED_DROP
    if close:
        drop = drop | _CLOSE_DROP
    parts = [status_line(status, reason), defaults.encode(headers, drop)]
    if frame.chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    if close:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts), frame
