"""The engine's event bus: every state change is published here and streamed on /events."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

HISTORY = 1024


@dataclass
class Event:
    """One Docker event (``Type``, ``Action``, ``Actor``, time fields)."""

    type: str
    action: str
    actor_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    time_nano: int = field(default_factory=time.time_ns)
    scope: str = "local"

    def to_docker(self) -> dict[str, Any]:
        """The JSON shape of ``GET /events`` (including the legacy top-level fields)."""
        d: dict[str, Any] = {
            "Type": self.type,
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": dict(self.attributes)},
            "scope": self.scope,
            "time": self.time_nano // 1_000_000_000,
            "timeNano": self.time_nano,
        }
        if self.type == "container":
            d["status"] = self.action
            d["id"] = self.actor_id
            d["from"] = self.attributes.get("image", "")
        return d


class EventBus:
    """Publish/subscribe with a bounded history for ``since`` replays."""

    def __init__(self) -> None:
        self._history: deque[Event] = deque(maxlen=HISTORY)
        self._subscribers: set[asyncio.Queue[Event]] = set()

    def publish(
        self, type_: str, action: str, actor_id: str, attributes: dict[str, str] | None = None
    ) -> Event:
        """Record an event and hand it to every subscriber."""
        ev = Event(type_, action, actor_id, dict(attributes or {}))
        self._history.append(ev)
        for q in self._subscribers:
            q.put_nowait(ev)
        return ev

    def history(self, since_ns: int | None, until_ns: int | None) -> list[Event]:
        """Past events inside the window."""
        return [
            e
            for e in self._history
            if (since_ns is None or e.time_nano >= since_ns)
            and (until_ns is None or e.time_nano <= until_ns)
        ]

    async def stream(
        self,
        since_ns: int | None = None,
        until_ns: int | None = None,
        accept: Callable[[Event], bool] = lambda e: True,
    ) -> AsyncIterator[Event]:
        """Replayed history (when ``since`` is given) followed by live events until ``until``."""
        q: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.add(q)
        try:
            if since_ns is not None:
                for e in self.history(since_ns, until_ns):
                    if accept(e):
                        yield e
            while True:
                if until_ns is not None:
                    remaining = (until_ns - time.time_ns()) / 1e9
                    if remaining <= 0:
                        return
                    try:
                        e = await asyncio.wait_for(q.get(), remaining)
                    except TimeoutError:
                        return
                else:
                    e = await q.get()
                if until_ns is not None and e.time_nano > until_ns:
                    return
                if accept(e):
                    yield e
        finally:
            self._subscribers.discard(q)
