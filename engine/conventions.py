"""The Docker Engine API's conventions, in one place for every area and for ``api/``.

What dockerd does the same way in every endpoint lives here, so each area answers alike:
the ``filters`` parameter (its two JSON forms, the unknown-key check, ``label=`` matching,
boolean filters), times (RFC 3339 with nanoseconds both ways, and the ``since``/``until``
values that may be Unix seconds, RFC 3339 or a Go duration), Go's boolean spelling, the
stream content types and the coercion of decoded JSON bodies (Go's case-insensitive field
names, Go's U+FFFD for lone surrogates). Pure functions only: nothing here knows a
request or a service.
"""

from __future__ import annotations

import calendar
import functools
import json
import re
import sys
import time
from typing import Any

from .errors import InvalidParameter

# Content types of Docker's streams.
JSON = "application/json"
TAR = "application/x-tar"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"
RAW_STREAM = "application/vnd.docker.raw-stream"

ZERO_TIME = "0001-01-01T00:00:00Z"
_NS = 1_000_000_000


# --- times -----------------------------------------------------------------------------


def format_rfc3339(
    ts: float | None = None, *, ns: int | None = None, fraction: str = "fixed"
) -> str:
    """A UTC time in Go's RFC 3339 forms: now, ``ts`` (Unix seconds) or ``ns`` (Unix
    nanoseconds, exact).

    ``fraction`` picks the spelling: ``"fixed"`` always writes nine digits (what dockerd
    stores for ``Created``/``StartedAt``), ``"trim"`` is Go's ``RFC3339Nano`` (trailing
    zeros and a zero fraction dropped: stats' ``read``, archive stat ``mtime``), ``"none"``
    whole seconds (volume ``CreatedAt``).
    """
    if ns is None:
        if ts is None:
            ns = time.time_ns()
        elif fraction == "trim":
            # rounded, so a float like 1.9999999999 is the 2.0 it stands for
            whole = int(ts)
            ns = whole * _NS + round((ts - whole) * 1e9)
        else:
            ns = int(ts * 1e9)
    secs, frac = divmod(ns, _NS)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if fraction == "none":
        return base + "Z"
    if fraction == "trim":
        return base + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"
    return f"{base}.{frac:09d}Z"


def parse_rfc3339_exact(text: str) -> tuple[int, int]:
    """``(Unix seconds, nanoseconds)`` of an RFC 3339 time, exactly (no float); a missing
    zone is UTC. A malformed time raises ``ValueError``."""
    main, frac_tz = text[:19], text[19:]
    nanos = 0
    if frac_tz.startswith("."):
        i = 1
        while i < len(frac_tz) and frac_tz[i].isdigit():
            i += 1
        digits = frac_tz[1:i]
        nanos = int((digits + "000000000")[:9]) if digits else 0
        tz = frac_tz[i:]
    else:
        tz = frac_tz
    secs = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        hh, _, mm = tz[1:].partition(":")
        secs -= sign * (int(hh) * 3600 + int(mm or 0) * 60)
    return secs, nanos


@functools.lru_cache(maxsize=8192)
def parse_rfc3339(text: str) -> float:
    """Unix seconds of an RFC 3339(Nano) time; 0 for an empty or Docker's zero time.
    A malformed time raises ``ValueError``.

    Memoized: every ``GET /containers/json`` parses each container's few timestamps again
    (for ``Created`` and the ``Up 5 minutes`` status), and ``strptime`` was the largest
    single cost of that answer under load; the strings themselves rarely change."""
    if not text or text.startswith("0001-"):
        return 0.0
    secs, nanos = parse_rfc3339_exact(text.strip())
    return secs + nanos / 1e9


_DURATION = re.compile(r"^(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def go_duration(text: str) -> float:
    """Seconds of a Go duration (``10m``, ``1h30m``, ``1.5s``; no sign); ``ValueError``
    otherwise."""
    if not _DURATION.match(text):
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(text))


def parse_timestamp(value: str, now: float | None = None) -> float:
    """Unix seconds of a ``since``/``until`` value, as dockerd reads them: Unix seconds
    (``1700000000.5``), an RFC 3339 time or date, or a Go duration (``10m``, ``1h30m``)
    meaning that long before now. Anything else raises ``ValueError``."""
    v = value.strip()
    if _DURATION.match(v):
        return (time.time() if now is None else now) - go_duration(v)
    try:
        return float(v)
    except ValueError:
        pass
    if _DATE.match(v):
        v += "T00:00:00Z"
    return parse_rfc3339(v)


def filter_timestamp(key: str, value: str) -> float:
    """:func:`parse_timestamp` for a ``since``/``until`` filter, with dockerd's 400."""
    try:
        return parse_timestamp(value)
    except ValueError:
        raise InvalidParameter(f"invalid filter '{key}={value}'") from None


# --- filters ---------------------------------------------------------------------------


def decode_filters(raw: str | None) -> dict[str, list[str]]:
    """Docker's ``filters`` parameter: JSON ``{"key": ["v", ...]}`` or the old
    ``{"key": {"v": true}}`` form; both come back as ``{"key": ["v"]}``."""
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


def label_match(labels: dict[str, str], wanted: list[str]) -> bool:
    """``label=``: every ``key`` / ``key=value`` in ``wanted`` holds (moby's
    ``MatchKVList``; vacuously true)."""
    for w in wanted:
        key, eq, value = w.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def label_mismatch(labels: dict[str, str], unwanted: list[str]) -> bool:
    """``label!=``: none of ``unwanted`` holds."""
    return not any(label_match(labels, [w]) for w in unwanted)


def labels_accept(filters: dict[str, list[str]], labels: dict[str, str]) -> bool:
    """Both ``label`` and ``label!`` of ``filters`` hold for ``labels``."""
    if filters.get("label") and not label_match(labels, filters["label"]):
        return False
    return not (filters.get("label!") and not label_mismatch(labels, filters["label!"]))


def filter_bool(key: str, value: str) -> bool:
    """One value of a true/false filter (``dangling``, ``is-official``): ``1``/``true``
    or ``0``/``false`` in any case; else dockerd's 400."""
    low = value.lower()
    if low in ("1", "true"):
        return True
    if low in ("0", "false"):
        return False
    raise InvalidParameter(f"invalid filter '{key}={value}'")


def bool_filter(filters: dict[str, list[str]], key: str) -> bool | None:
    """A true/false filter (moby's ``GetBoolOrDefault``): None when absent; values that
    disagree, or one that is not a boolean, are dockerd's 400."""
    values = filters.get(key)
    if not values:
        return None
    parsed = {filter_bool(key, v) for v in values}
    if len(parsed) > 1:
        raise InvalidParameter(f"invalid filter '{key}={','.join(values)}'")
    return parsed.pop()


_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def go_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``; ``ValueError`` with Go's text otherwise."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def query_bool(raw: str | None, name: str, default: bool = False) -> bool:
    """A boolean query parameter (``1``/``true``/``yes``; empty counts as false)."""
    if raw is None:
        return default
    low = raw.strip().lower()
    if low in ("1", "true", "yes"):
        return True
    if low in ("0", "false", "no", ""):
        return False
    raise InvalidParameter(f"invalid boolean value {raw!r} for query parameter {name!r}")


# --- bodies ----------------------------------------------------------------------------


def _interned_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Bodies often become state that lives as long as the object (a container keeps its
    # Config and HostConfig: ~110 keys from the docker CLI). Interned, every container
    # shares one copy of each key instead of holding ~6 KiB of its own.
    return {sys.intern(k): v for k, v in pairs}


def decode_json_body(raw: bytes, *, required: bool = True) -> Any:
    """A JSON request body as Go's decoder reads it; malformed JSON is a 400 that says
    where it broke."""
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


def json_object(body: Any, what: str = "request body") -> dict[str, Any]:
    """Insist that a decoded body is a JSON object (``None`` is an empty one)."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidParameter(f"{what} must be a JSON object")
    return body


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


def string_map(value: Any, what: str) -> dict[str, str]:
    """A ``map[string]string`` field (``Labels``, ``Options``): ``None`` is empty, values
    become strings, anything but an object is a 400."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"{what} must be an object of strings")
    return {str(k): str(x) for k, x in value.items()}
