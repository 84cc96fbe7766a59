"""``docker inspect`` through the CLI of a test engine: one object's document."""

from __future__ import annotations

import json
from typing import Any


def inspect(engine: Any, ref: str, kind: str = "") -> dict[str, Any]:
    """``docker [kind] inspect ref`` (``kind`` e.g. ``image`` or ``volume``)."""
    args = [kind, "inspect", ref] if kind else ["inspect", ref]
    doc: dict[str, Any] = json.loads(engine.docker(*args).stdout)[0]
    return doc
