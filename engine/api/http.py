"""Small helpers every route uses: query parsing, JSON bodies, filters, streams.

Routes stay thin: they parse with these helpers, call one service method and encode
the answer. Parsing errors become :class:`InvalidParameter` (400) with a message that
names the offending parameter, as dockerd does.
"""

from __future__ import annotations

import json
import re
import struct
import sys
from collections import OrderedDict
from typing import Any

from ..errors import InvalidParameter
from . import web

STDIN, STDOUT, STDERR = 0, 1, 2
_GO_INT = re.compile(r"[+-]?[0-9]+")


def qbool(request: web.Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter (``1``/``true``/``True``; empty counts as false)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    low = raw.strip().lower()
    if low in ("1", "true", "yes"):
        return True
    if low in ("0", "false", "no", ""):
        return False
    raise InvalidParameter(f"invalid boolean value {raw!r} for query parameter {name!r}")


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
    """Docker's ``filters`` parameter: JSON ``{"key": ["v", ...]}`` or the old
    ``{"key": {"v": true}}`` form; both come back as ``{"key": ["v"]}``."""
    raw = request.query.get(name)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InvalidParameter(f"invalid filter: {e}") from e
    if not isinstance(data, dict):
        raise InvalidParameter("invalid filter: expected a JSON object")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out[key] = [k for k, v in value.items() if v]
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        elif isinstance(value, str):
            out[key] = [value]
        else:
            raise InvalidParameter(f"invalid filter value for {key!r}")
    return out


def check_filters(filters: dict[str, list[str]], allowed: set[str]) -> None:
    """Reject filter keys the endpoint does not know, with Docker's wording."""
    for key in filters:
        if key not in allowed:
            raise InvalidParameter(f"invalid filter '{key}'")


def _interned_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Bodies often become state that lives as long as the object (a container keeps its
    # Config and HostConfig: ~110 keys from the docker CLI). Interned, every container
    # shares one copy of each key instead of holding ~6 KiB of its own.
    return {sys.intern(k): v for k, v in pairs}


async def json_body(request: web.Request, *, required: bool = True) -> Any:
    """The request's JSON body; malformed JSON is a 400 that says where it broke."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise InvalidParameter("request body is empty; expected JSON")
        return None
    try:
        body = json.loads(raw, object_pairs_hook=_interned_keys)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidParameter(f"invalid JSON in request body: {e}") from e
    except RecursionError:
        # Go's decoder stops at 10,000 levels with this text; Python's at ~1,000.
        raise InvalidParameter("invalid JSON in request body: exceeded max depth") from None
    if b"\\u" in raw:
        body = _replace_lone_surrogates(body)
    return body


def _replace_lone_surrogates(value: Any) -> Any:
    """Go decodes an unpaired ``\\udc80`` escape as U+FFFD; Python keeps a lone surrogate,
    which no file name, database row or UTF-8 answer can hold."""
    if isinstance(value, str):
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
        return value
    if isinstance(value, list):
        return [_replace_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_replace_lone_surrogates(k): _replace_lone_surrogates(v) for k, v in value.items()}
    return value


def json_object(request_body: Any, what: str = "request body") -> dict[str, Any]:
    """Insist that a decoded body is a JSON object."""
    if request_body is None:
        return {}
    if not isinstance(request_body, dict):
        raise InvalidParameter(f"{what} must be a JSON object")
    return request_body


def go_fields(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Rename keys of ``body`` to the spelling of ``fields``, ignoring case.

    dockerd decodes bodies with Go's encoding/json, which matches keys to struct fields
    case-insensitively, and clients rely on it (docker-py sends ``detachKeys`` in an exec
    config). A key already spelled exactly is kept as it is.
    """
    canonical = {f.lower(): f for f in fields}
    out = dict(body)
    for key in body:
        name = canonical.get(key.lower())
        if name is not None and name != key and name not in body:
            out[name] = out.pop(key)
    return out


def ok_json(data: Any, status: int = 200) -> web.Response:
    """A JSON response with Docker's compact encoding."""
    return web.Response(
        body=_encode(data),
        status=status,
        content_type="application/json",
    )


class EncodedAnswers:
    """The last JSON encoding of each of a few answers, reused while the answer is equal.

    Lists and inspections are rebuilt for every request, but under many polling clients
    they rarely change, and comparing two documents costs a fraction of encoding one.
    What is kept to compare with is the decoded encoding, never the caller's objects,
    so a container record changed in place later cannot make a stale answer look
    current: a document that does not survive the JSON round trip unchanged just misses.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[Any, bytes]] = OrderedDict()

    def encode(self, key: str, data: Any) -> bytes:
        """``data`` as :func:`ok_json` encodes it."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] == data:
            self._entries.move_to_end(key)
            return hit[1]
        body = _encode(data)
        self._entries[key] = (json.loads(body), body)
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return body


def _encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def ok_json_from(answers: EncodedAnswers, key: str, data: Any) -> web.Response:
    """:func:`ok_json` (status 200) through ``answers``."""
    return web.Response(body=answers.encode(key, data), status=200, content_type="application/json")


def frame(stream: int, payload: bytes) -> bytes:
    """One 8-byte-header frame of Docker's multiplexed stdout/stderr stream."""
    return struct.pack(">BxxxL", stream, len(payload)) + payload


async def ndjson_response(request: web.Request) -> web.StreamResponse:
    """Start a streamed ``application/json`` response of one JSON object per line."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    return resp


async def write_json_line(resp: web.StreamResponse, obj: Any) -> None:
    """Write one NDJSON line."""
    await resp.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
