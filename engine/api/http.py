"""Small helpers every route uses: query parsing, JSON bodies, filters, streams.

Routes stay thin: they parse with these helpers, call one service method and encode
the answer. Parsing errors become :class:`InvalidParameter` (400) with a message that
names the offending parameter, as dockerd does.
"""

from __future__ import annotations

import json
import re
import struct
from typing import Any

from ..conventions import (
    JSON,
    decode_filters,
    decode_json_body,
    query_bool,
)
from ..errors import InvalidParameter
from . import web

STDIN, STDOUT, STDERR = 0, 1, 2
_GO_INT = re.compile(r"[+-]?[0-9]+")


def qbool(request: web.Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter (``1``/``true``/``True``; empty counts as false)."""
    return query_bool(request.query.get(name), name, default)


def qint(request: web.Request, name: str, default: int | None = None) -> int | None:
    """An integer query parameter."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    # dockerd parses with Go's strconv.Atoi: ASCII digits only (Python's int() also takes
    # "٣", "1_0" and spaces) and nothing beyond int64.
    value = int(raw) if _GO_INT.fullmatch(raw) else None
    if value is None or not -(2**63) <= value < 2**63:
        raise InvalidParameter(f"invalid integer value {raw!r} for query parameter {name!r}")
    return value


def qstr(request: web.Request, name: str, default: str | None = None) -> str | None:
    """A string query parameter."""
    return request.query.get(name, default)


def qfilters(request: web.Request, name: str = "filters") -> dict[str, list[str]]:
    """Docker's ``filters`` parameter (:func:`conventions.decode_filters`)."""
    return decode_filters(request.query.get(name))


async def json_body(request: web.Request, *, required: bool = True) -> Any:
    """The request's JSON body (:func:`conventions.decode_json_body`)."""
    return decode_json_body(await request.read(), required=required)


def ok_json(data: Any, status: int = 200) -> web.Response:
    """A JSON response with Docker's compact encoding."""
    return web.Response(
        body=_encode(data),
        status=status,
        content_type=JSON,
    )


def _encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def frame(stream: int, payload: bytes) -> bytes:
    """One 8-byte-header frame of Docker's multiplexed stdout/stderr stream."""
    return struct.pack(">BxxxL", stream, len(payload)) + payload


async def ndjson_response(request: web.Request) -> web.StreamResponse:
    """Start a streamed ``application/json`` response of one JSON object per line."""
    resp = web.StreamResponse(headers={"Content-Type": JSON})
    await resp.prepare(request)
    return resp


async def write_json_line(resp: web.StreamResponse, obj: Any) -> None:
    """Write one NDJSON line."""
    await resp.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
