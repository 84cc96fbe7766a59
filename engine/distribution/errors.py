"""Registry errors, worded the way dockerd words them.

A registry answers failures with ``{"errors": [{"code", "message", "detail"}]}``;
dockerd prints the first as ``<code in lower case>: <message>`` (``manifest unknown:
manifest unknown``) and wraps pull failures in sentences such as ``manifest for X not
found``. Token servers sometimes answer ``{"details": ...}``; bearer challenges carry
``error="insufficient_scope"`` which dockerd reports as ``denied``.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import EngineError, NotFound, Unauthorized

_CODE_MESSAGES = {
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "MANIFEST_UNKNOWN": "manifest unknown",
    "NAME_UNKNOWN": "repository name not known to registry",
    "BLOB_UNKNOWN": "blob unknown to registry",
    "TOOMANYREQUESTS": "too many requests",
}

_HTTP_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    416: "Requested Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class RegistryError(EngineError):
    """A failure reported by a registry (``code`` is its errcode, e.g. DENIED)."""

    def __init__(self, message: str, code: str = "", http_status: int = 0, status: int = 500):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.status = status


class DigestError(EngineError):
    """Content did not hash to the digest it was fetched by (400, like a bad input)."""

    status = 400


def http_text(status: int) -> str:
    """Go's ``http.StatusText``."""
    return _HTTP_TEXT.get(status, "")


def _errcode_text(code: str, message: str) -> str:
    code = code or "UNKNOWN"
    text = message or _CODE_MESSAGES.get(code, "unknown error")
    return f"{code.lower().replace('_', ' ')}: {text}"


def from_response(status: int, body: bytes, www_authenticate: str = "") -> RegistryError:
    """The error a registry meant by a 4xx/5xx answer."""
    from .auth import parse_challenges

    if 400 <= status < 500 and www_authenticate:
        for ch in parse_challenges(www_authenticate):
            if ch.scheme != "bearer":
                continue
            kind = ch.params.get("error", "")
            code = {"invalid_token": "UNAUTHORIZED", "insufficient_scope": "DENIED"}.get(kind)
            if code:
                desc = ch.params.get("error_description") or _CODE_MESSAGES[code]
                return RegistryError(_errcode_text(code, desc), code, status)
    errors = _parse_errors(body)
    if errors is not None:
        if errors:
            code, message = errors[0]
            return RegistryError(_errcode_text(code, message), code, status)
        return RegistryError(
            f"received unexpected HTTP status: {status} {http_text(status)}", "", status
        )
    if status == 401:
        detail = body.decode(errors="replace").strip()
        return RegistryError(
            _errcode_text("UNAUTHORIZED", detail or "authentication required"),
            "UNAUTHORIZED",
            status,
        )
    if 400 <= status < 500:
        text = body.decode(errors="replace")
        return RegistryError(
            f"error parsing HTTP {status} response body: invalid character: {json.dumps(text)}",
            "",
            status,
        )
    return RegistryError(
        f"received unexpected HTTP status: {status} {http_text(status)}", "", status
    )


def _parse_errors(body: bytes) -> list[tuple[str, str]] | None:
    try:
        doc: Any = json.loads(body or b"")
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("errors"), list):
        out = []
        for e in doc["errors"]:
            if isinstance(e, dict):
                out.append((str(e.get("code") or "UNKNOWN"), str(e.get("message") or "")))
        return out
    if isinstance(doc, dict) and doc.get("details"):
        return [("UNKNOWN", str(doc["details"]))]
    return None


def pull_error(err: RegistryError, familiar_name: str, familiar_ref: str) -> EngineError:
    """dockerd's ``translatePullError``: not-found sentences for the common codes."""
    if err.code in ("DENIED", "UNAUTHORIZED") and err.http_status in (401, 403):
        return NotFound(
            f"pull access denied for {familiar_name}, repository does not exist or may "
            f"require 'docker login': {err.message}"
        )
    if err.code == "MANIFEST_UNKNOWN":
        return NotFound(f"manifest for {familiar_ref} not found: {err.message}")
    if err.code == "NAME_UNKNOWN":
        return NotFound(f"repository {familiar_name} not found: {err.message}")
    return err


def login_error(url: str, err: EngineError) -> Unauthorized:
    """A failed ``docker login``: ``Get "<url>": unauthorized: ...``."""
    return Unauthorized(f'Get "{url}": {err.message}')
