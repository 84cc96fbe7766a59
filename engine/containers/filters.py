"""Filters of ``GET /containers/json`` and ``POST /containers/prune``."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..conventions import check_filters, filter_timestamp, labels_accept, parse_rfc3339
from ..errors import InvalidParameter
from .health_state import status_of as health_status
from .model import Container
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
        if not labels_accept(filters, c.labels):
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
    check_filters(filters, PRUNE_FILTERS)
    until = filter_timestamp("until", filters["until"][0]) if filters.get("until") else None

    def accept(c: Container) -> bool:
        if until is not None and parse_rfc3339(c.created) >= until:
            return False
        return labels_accept(filters, c.labels)

    return accept
