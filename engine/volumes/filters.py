"""Docker's filter semantics for volume list and prune (``filters.Args`` in moby)."""

from __future__ import annotations

import re

from ..conventions import go_bool
from ..errors import InvalidParameter

LIST_FILTERS = {"dangling", "name", "driver", "label"}
PRUNE_FILTERS = {"label", "label!", "all"}


def match_pattern(values: list[str], source: str) -> bool:
    """True when no value is given, one equals ``source`` or one is a regexp found in it
    (Docker's ``Args.Match``: ``name=foo`` matches ``myfoo1``)."""
    if not values:
        return True
    for v in values:
        if v == source:
            return True
        try:
            if re.search(v, source):
                return True
        except re.error:
            continue
    return False


def prune_all(filters: dict[str, list[str]]) -> bool:
    """The prune ``all`` filter, parsed like Go's ``strconv.ParseBool``."""
    values = filters.get("all", [])
    if len(values) > 1:
        raise InvalidParameter(
            f"invalid filter 'all=[{' '.join(values)}]': only one value is expected"
        )
    if not values:
        return False
    try:
        return go_bool(values[0])
    except ValueError as e:
        raise InvalidParameter(f"invalid filter 'all': {e}") from None
