"""A container's health as the API shows it (pure: used by views and filters).

The state lives in ``container.extra["health"]`` (persisted with the container, so
it survives engine restarts like Docker's does): ``{"Status", "FailingStreak",
"Log"}``. Containers without a healthcheck have none.
"""

from __future__ import annotations

from typing import Any

STARTING, HEALTHY, UNHEALTHY, NONE = "starting", "healthy", "unhealthy", "none"
KEY = "health"


def healthcheck_of(config: dict[str, Any]) -> dict[str, Any] | None:
    """The container's effective Healthcheck, or None when there is none (or NONE)."""
    hc = config.get("Healthcheck")
    if not isinstance(hc, dict):
        return None
    test = hc.get("Test") or []
    if not test or test[0] not in ("CMD", "CMD-SHELL"):
        return None
    if len(test) < 2:
        return None
    return hc


def health_json(c: Any) -> dict[str, Any] | None:
    """``State.Health`` for inspect, or None."""
    h = (getattr(c, "extra", None) or {}).get(KEY)
    if not isinstance(h, dict):
        return None
    return {
        "Status": h.get("Status") or STARTING,
        "FailingStreak": int(h.get("FailingStreak") or 0),
        "Log": list(h.get("Log") or []),
    }


def status_of(c: Any) -> str:
    """``starting``/``healthy``/``unhealthy``, or ``none`` (the ``health`` filter)."""
    h = health_json(c)
    return h["Status"] if h else NONE


def status_suffix(c: Any) -> str:
    """What ``docker ps`` appends to ``Up ...``: ``(healthy)``, ``(health: starting)``."""
    h = health_json(c)
    if not h:
        return ""
    status = h["Status"]
    return " (health: starting)" if status == STARTING else f" ({status})"
