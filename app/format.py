"""Human-readable numbers and times for tables (pure functions, no Qt)."""

from __future__ import annotations

import time
from datetime import datetime

_UNITS = ["B", "KB", "MB", "GB", "TB", "PB"]


def size(n: float | int | None) -> str:
    """Bytes in decimal units like the docker CLI: ``1.2 MB``; ``""`` for unknown (-1/None)."""
    if n is None or n < 0:
        return ""
    value = float(n)
    for unit in _UNITS:
        if value < 1000 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.0f} PB"


def binary_size(n: float | int | None) -> str:
    """Memory in binary units like ``docker stats``: ``12.5 MiB``."""
    if n is None or n < 0:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def ago(timestamp: float | int | None, now: float | None = None) -> str:
    """``5 minutes ago``, ``2 days ago``; ``""`` for no timestamp."""
    if not timestamp:
        return ""
    delta = max(0.0, (now if now is not None else time.time()) - float(timestamp))
    for seconds, name in (
        (365 * 86400, "year"),
        (30 * 86400, "month"),
        (7 * 86400, "week"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if delta >= seconds:
            n = int(delta // seconds)
            return f"{n} {name}{'s' if n != 1 else ''} ago"
    return "just now"


def parse_time(value: str | None) -> float | None:
    """RFC 3339 (Docker's ``Created``/``StartedAt``, nanoseconds allowed) → epoch seconds."""
    if not value or value.startswith("0001-"):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python parses at most microseconds: cut the fraction to 6 digits.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def short_id(ident: str | None, n: int = 12) -> str:
    """``sha256:abcdef…`` → ``abcdef012345``."""
    if not ident:
        return ""
    return ident.split(":", 1)[-1][:n]


def percent(value: float | None) -> str:
    """``12.3 %``; ``""`` for unknown."""
    return "" if value is None else f"{value:.1f} %"
