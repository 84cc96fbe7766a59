"""Filters of ``GET /containers/json`` and ``POST /containers/prune``."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from ..errors import InvalidParameter
from .health_state import status_of as health_status
from .model import Container, parse_rfc3339
from .views import STATUSES, network_mode

LIST_FILTERS = {
    "id",
    "name",
    "label",
    "label!",
    "status",
    "exited",
    "ancestor",
    "before",
    "since",
    "health",
    "network",
    "volume",
    "is-task",
    "publish",
    "expose",
    "isolation",
}
PRUNE_FILTERS = {"until", "label", "label!"}


def check(filters: dict[str, list[str]], allowed: set[str]) -> None:
    """Docker's error for an unknown filter key."""
    for key in filters:
        if key not in allowed:
            raise InvalidParameter(f"invalid filter '{key}'")


def label_match(labels: dict[str, str], wanted: list[str]) -> bool:
    """Every ``key`` / ``key=value`` in ``wanted`` holds."""
    for w in wanted:
        k, eq, v = w.partition("=")
        if k not in labels or (eq and labels[k] != v):
            return False
    return True


def label_mismatch(labels: dict[str, str], unwanted: list[str]) -> bool:
    """``label!`` semantics: none of ``unwanted`` may hold."""
    for w in unwanted:
        k, eq, v = w.partition("=")
        if k in labels and (not eq or labels[k] == v):
            return False
    return True


def parse_until(value: str) -> float:
    """``until``: a unix timestamp, an RFC3339 time or a Go duration like ``10m``."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value)
    if m:
        mult = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        return time.time() - float(m.group(1)) * mult
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise InvalidParameter(f"invalid filter 'until={value}'") from None


def matcher(
    filters: dict[str, list[str]],
    resolve_ref: Callable[[str], Container | None],
    ancestor_ids: set[str] | None,
) -> Callable[[Container], bool]:
    """A predicate for the list filters (``ancestor_ids`` pre-resolved by the caller)."""
    for st in filters.get("status", []):
        if st not in STATUSES:
            raise InvalidParameter(f"invalid filter 'status={st}'")
    exited: list[int] = []
    for e in filters.get("exited", []):
        try:
            exited.append(int(e))
        except ValueError:
            raise InvalidParameter(f"invalid filter 'exited={e}'") from None
    for h in filters.get("health", []):
        if h not in ("starting", "healthy", "unhealthy", "none"):
            raise InvalidParameter(f"Unrecognised filter value for health: {h}")
    before = since = None
    if filters.get("before"):
        b = resolve_ref(filters["before"][0])
        if b is None:
            raise InvalidParameter(f"No such container: {filters['before'][0]}")
        before = b.created
    if filters.get("since"):
        s = resolve_ref(filters["since"][0])
        if s is None:
            raise InvalidParameter(f"No such container: {filters['since'][0]}")
        since = s.created
    # Docker matches each pattern as a regular expression against "/<name>".
    names = [_name_pattern(n) for n in filters.get("name", [])]

    def accept(c: Container) -> bool:
        if filters.get("id") and not any(c.id.startswith(i) for i in filters["id"]):
            return False
        if names and not any(n.search("/" + c.name) for n in names):
            return False
        if filters.get("label") and not label_match(c.labels, filters["label"]):
            return False
        if filters.get("label!") and not label_mismatch(c.labels, filters["label!"]):
            return False
        if filters.get("status") and c.state.status not in filters["status"]:
            return False
        if exited and (c.state.status != "exited" or c.state.exit_code not in exited):
            return False
        if ancestor_ids is not None and c.image_id not in ancestor_ids:
            return False
        if before is not None and not c.created < before:
            return False
        if since is not None and not c.created > since:
            return False
        if filters.get("health") and health_status(c) not in filters["health"]:
            return False
        if filters.get("network") and network_mode(c) not in filters["network"]:
            return False
        if filters.get("volume") and not any(
            m.get("Name") in filters["volume"] or m.get("Destination") in filters["volume"]
            for m in c.mounts
        ):
            return False
        return not (filters.get("is-task") and "true" in filters["is-task"])

    return accept


def _name_pattern(p: str) -> re.Pattern[str]:
    try:
        return re.compile(p)
    except re.error:
        return re.compile(re.escape(p))


def prune_matcher(filters: dict[str, list[str]]) -> Callable[[Container], bool]:
    """Predicate for ``until``/``label``/``label!`` of prune."""
    check(filters, PRUNE_FILTERS)
    until = parse_until(filters["until"][0]) if filters.get("until") else None

    def accept(c: Container) -> bool:
        if until is not None and parse_rfc3339(c.created) >= until:
            return False
        if filters.get("label") and not label_match(c.labels, filters["label"]):
            return False
        return not (filters.get("label!") and not label_mismatch(c.labels, filters["label!"]))

    return accept
