"""The engine's event bus: every state change is published here and streamed on /events."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from .. import changes

HISTORY = 1024
# Events carry labels, which can be megabytes each: the history is bounded by size too,
# so replaying ``since`` never keeps hundreds of megabytes of old labels alive.
HISTORY_BYTES = 4 << 20
_EVENT_OVERHEAD = 256  # the fixed fields and the Python objects around them


@dataclass
class Event:
    """One Docker event (``Type``, ``Action``, ``Actor``, time fields)."""

    type: str
    action: str
    actor_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    time_nano: int = field(default_factory=time.time_ns)
    scope: str = "local"

    def weight(self) -> int:
        """Approximate bytes the event holds in memory."""
        return (
            _EVENT_OVERHEAD
            + len(self.actor_id)
            + sum(len(k) + len(v) for k, v in self.attributes.items())
        )

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
    """Publish/subscribe with a history for ``since`` replays, bounded by count and by
    bytes (an event bigger than the whole budget goes to live subscribers only)."""

    def __init__(self, max_events: int = HISTORY, max_bytes: int = HISTORY_BYTES) -> None:
        self._history: deque[tuple[Event, int]] = deque()
        self._history_bytes = 0
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._subscribers: set[asyncio.Queue[Event]] = set()

    def publish(
        self, type_: str, action: str, actor_id: str, attributes: dict[str, str] | None = None
    ) -> Event:
        """Record an event and hand it to every subscriber."""
        changes.bump()
        ev = Event(type_, action, actor_id, dict(attributes or {}))
        self._remember(ev)
        for q in self._subscribers:
            q.put_nowait(ev)
        return ev

    def _remember(self, ev: Event) -> None:
        weight = ev.weight()
        if weight > self._max_bytes:
            return
        self._history.append((ev, weight))
        self._history_bytes += weight
        while len(self._history) > self._max_events or self._history_bytes > self._max_bytes:
            _, dropped = self._history.popleft()
            self._history_bytes -= dropped

    @property
    def history_bytes(self) -> int:
        """Approximate bytes held by the replay history."""
        return self._history_bytes

    def history(self, since_ns: int | None, until_ns: int | None) -> list[Event]:
        """Past events inside the window."""
        return [
            e
            for e, _ in self._history
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
