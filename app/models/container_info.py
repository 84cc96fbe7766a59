"""What the containers table shows, computed from a container summary (pure functions)."""

from __future__ import annotations

import re
from typing import Any

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"

STATE_COLOURS = {
    "running": "#1e9e4a",
    "paused": "#d68a00",
    "restarting": "#2f80ed",
    "created": "#6c7a89",
    "exited": "#7f8c8d",
    "dead": "#d63031",
    "removing": "#7f8c8d",
    "unhealthy": "#d63031",
    "failed": "#d63031",
}

_EXIT = re.compile(r"Exited \((-?\d+)\)")
_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def name(c: dict[str, Any]) -> str:
    """The container's name without Docker's leading slash."""
    names = c.get("Names") or []
    if names:
        return str(names[0]).lstrip("/")
    return str(c.get("Name") or c.get("Id", "")[:12]).lstrip("/")


def project(c: dict[str, Any]) -> str:
    """The compose project the container belongs to, or ``""``."""
    return str((c.get("Labels") or {}).get(COMPOSE_PROJECT) or "")


def state(c: dict[str, Any]) -> str:
    """``running``, ``exited``, ``paused``, ... (lower case)."""
    raw = c.get("State")
    if isinstance(raw, dict):  # inspect shape
        return str(raw.get("Status") or "")
    return str(raw or "").lower()


def exit_code(c: dict[str, Any]) -> int | None:
    """The exit code in ``Status`` of an exited container."""
    m = _EXIT.search(str(c.get("Status") or ""))
    return int(m.group(1)) if m else None


def health(c: dict[str, Any]) -> str:
    """``healthy``, ``unhealthy``, ``starting`` or ``""``."""
    m = _HEALTH.search(str(c.get("Status") or ""))
    if not m:
        return ""
    return "starting" if m.group(1).startswith("health") else m.group(1)


def state_text(c: dict[str, Any]) -> str:
    """``Running (healthy)``, ``Exited (137)``, ``Paused``."""
    st = state(c)
    text = st.capitalize() if st else "Unknown"
    if st == "exited":
        code = exit_code(c)
        if code is not None:
            text += f" ({code})"
    h = health(c)
    if h and st == "running":
        text += f" ({h})"
    return text


def state_colour(c: dict[str, Any]) -> str:
    """A colour for the state: green running, grey stopped, red failed or unhealthy."""
    st = state(c)
    if st == "running" and health(c) == "unhealthy":
        return STATE_COLOURS["unhealthy"]
    if st == "exited" and (exit_code(c) or 0) not in (0, 130, 137, 143):
        return STATE_COLOURS["failed"]
    return STATE_COLOURS.get(st, "#7f8c8d")


def port_links(c: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Published ports as ``("8080:80", "http://localhost:8080")``; exposed ones unlinked."""
    out: list[tuple[str, str | None]] = []
    seen: set[tuple[int, int, str]] = set()

    def order(p: dict[str, Any]) -> tuple[int, int, int]:
        public = p.get("PublicPort") or 0
        return (0 if public else 1, public, p.get("PrivatePort") or 0)  # published first

    for p in sorted(c.get("Ports") or [], key=order):
        private, public = p.get("PrivatePort"), p.get("PublicPort")
        proto = str(p.get("Type") or "tcp")
        if (public or 0, private or 0, proto) in seen:
            continue  # the same port on IPv4 and IPv6
        seen.add((public or 0, private or 0, proto))
        if public:
            ip = str(p.get("IP") or "")
            host = "localhost" if ip in ("", "0.0.0.0", "::") else ip
            if ":" in host:
                host = f"[{host}]"
            suffix = "" if proto == "tcp" else f"/{proto}"
            scheme = "https" if private == 443 else "http"
            url = f"{scheme}://{host}:{public}" if proto == "tcp" else None
            out.append((f"{public}:{private}{suffix}", url))
        elif private:
            out.append((f"{private}/{proto}", None))
    return out


def image(c: dict[str, Any]) -> str:
    """The image the container was created from, as the user wrote it."""
    img = str(c.get("Image") or "")
    if img.startswith("sha256:"):
        return img[7:19]
    return img
