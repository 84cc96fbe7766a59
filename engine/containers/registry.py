"""The one registry of container records every part of the container service shares.

Lifecycle, streams, edits, restore and the service's own create/list/remove all read
and change containers through this object: the records by id, their two locks, the
events that say a container stopped, the last stats sample, persistence and the
``container`` events. Keeping these in one place is what lets the parts be separate
objects instead of mixins reaching into one another.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import InvalidParameter, NotFound
from ..system.events import EventBus
from .model import Container
from .store import ContainerStore


class ContainerRegistry:
    """Container records by id with their locks, exit events and stats memory."""

    def __init__(self, store: ContainerStore, events: EventBus) -> None:
        self.store = store
        self.events = events
        self.records: dict[str, Container] = {}
        # the last stats sample's CPU figures, for the next sample's precpu_stats
        self.stats_prev: dict[str, Any] = {}
        self._locks: dict[str, tuple[asyncio.Lock, asyncio.Lock]] = {}
        self._exit_events: dict[str, asyncio.Event] = {}

    # -- records -------------------------------------------------------------------
    def add(self, c: Container) -> None:
        """Register a loaded or newly created container."""
        self.records[c.id] = c

    def discard(self, cid: str) -> None:
        """Forget a removed container and everything kept for it."""
        self.records.pop(cid, None)
        self._exit_events.pop(cid, None)
        self.stats_prev.pop(cid, None)
        self._locks.pop(cid, None)

    def all(self) -> list[Container]:
        """Every container, in no particular order."""
        return list(self.records.values())

    def exists(self, cid: str) -> bool:
        """Whether the container with this full id is still there (not removed)."""
        return cid in self.records

    def find(self, ref: str) -> Container | None:
        """By full id, exact name, or unique id prefix (Docker's order)."""
        if ref in self.records:
            return self.records[ref]
        name = ref.lstrip("/")
        for c in self.records.values():
            if c.name == name:
                return c
        if not ref or len(ref) > 64:
            return None
        matches = [c for c in self.records.values() if c.id.startswith(ref)]
        if len(matches) > 1:
            raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        return matches[0] if matches else None

    def get(self, ref: str) -> Container:
        """Like :meth:`find` but 404s with Docker's wording."""
        c = self.find(ref)
        if c is None:
            raise NotFound(f"No such container: {ref}")
        return c

    def named(self, name: str) -> Container | None:
        """The container called ``name`` (without the leading slash), if any."""
        return next((c for c in self.records.values() if c.name == name), None)

    # -- coordination --------------------------------------------------------------
    def locks(self, cid: str) -> tuple[asyncio.Lock, asyncio.Lock]:
        """``(operation lock, state lock)`` of a container: the first serialises
        start/stop/remove/commit, the second guards state changes (an exit being
        handled) inside them."""
        return self._locks.setdefault(cid, (asyncio.Lock(), asyncio.Lock()))

    def exit_event(self, cid: str) -> asyncio.Event:
        """Set when the container stops running (replaced at each start)."""
        ev = self._exit_events.get(cid)
        if ev is None:
            ev = asyncio.Event()
            c = self.records.get(cid)
            if c is None or not c.running:
                ev.set()
            self._exit_events[cid] = ev
        return ev

    def renew_exit_event(self, cid: str) -> None:
        """A fresh, unset exit event: the container is (about to be) running."""
        self._exit_events[cid] = asyncio.Event()

    # -- persistence and events ----------------------------------------------------
    def save(self, c: Container) -> None:
        """Persist the record."""
        self.store.save(c)

    def emit_event(self, c: Container, action: str, **extra: str) -> None:
        """Publish a ``container`` event with Docker's attributes (name, image, labels)."""
        attrs = {"name": c.name, "image": c.image or c.image_id}
        attrs.update(c.labels)
        attrs.update(extra)
        self.events.publish("container", action, c.id, attrs)
