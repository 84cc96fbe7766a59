"""The stats hub: one stats stream per container someone is looking at, no more.

The containers table reports which running rows are on screen (``set_visible``); the
details page subscribes to the container it shows. Streams of containers nobody looks
at are closed, so a hundred listed containers cost nothing while scrolled away.

The resource history already streams every running container of the primary engine on
its own thread; its rows (:meth:`StatsHub.take_rows`, once a second) stand in for the
hub's own stream of a container while they keep coming, so no container is streamed
twice — a stream decoded on the GUI loop cost more than one on the recorder's.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from PySide6.QtCore import QObject, Signal

from ..client import EngineClient, EngineError
from ..history import Row

RESTART_AFTER = 2.0  # seconds before re-opening a stream that ended by itself
SHARED_FRESH = 2.5  # seconds a recorded row keeps a container off the hub's own streams


class StatsHub(QObject):
    """Samples containers on demand and emits ``sample(container id, CPU %, memory bytes)``."""

    sample = Signal(str, float, int)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._client: EngineClient | None = None
        self._visible: set[str] = set()
        self._subs: Counter[str] = Counter()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ended: dict[str, float] = {}
        self._recorded: dict[str, float] = {}  # id -> when the history last recorded it

    @property
    def streaming(self) -> set[str]:
        """Containers being sampled: by a stream of the hub's, or by the history."""
        return set(self._tasks) | {cid for cid in self._wanted() if self._shared(cid)}

    def take_rows(self, batch: list[tuple[str, Row]]) -> None:
        """A second recorded by the resource history (series keys are container IDs)."""
        now = time.monotonic()
        wanted = self._wanted()
        for key, row in batch:
            if key in wanted:
                self._recorded[key] = now
                self.sample.emit(key, row.cpu, int(row.mem))
        self._reconcile()

    def _shared(self, cid: str) -> bool:
        return time.monotonic() - self._recorded.get(cid, -SHARED_FRESH) < SHARED_FRESH

    def _wanted(self) -> set[str]:
        return self._visible | set(self._subs) if self._client is not None else set()

    def set_client(self, client: EngineClient | None) -> None:
        """Use a new connection (None: stop everything)."""
        self._client = client
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self._ended.clear()
        self._reconcile()

    def set_visible(self, ids: set[str]) -> None:
        """The running containers currently on screen in the table."""
        if ids != self._visible:
            self._visible = set(ids)
            self._reconcile()

    def subscribe(self, cid: str) -> None:
        """Someone (a details page) wants samples of ``cid``."""
        self._subs[cid] += 1
        self._ended.pop(cid, None)
        self._reconcile()

    def unsubscribe(self, cid: str) -> None:
        """Undo one :meth:`subscribe`."""
        self._subs[cid] -= 1
        if self._subs[cid] <= 0:
            del self._subs[cid]
        self._reconcile()

    def poke(self) -> None:
        """Re-check wanted streams (a container was started)."""
        self._ended.clear()
        self._reconcile()

    def _reconcile(self) -> None:
        wanted = {cid for cid in self._wanted() if not self._shared(cid)}
        for cid in list(self._tasks):
            if cid not in wanted:
                self._tasks.pop(cid).cancel()
        now = time.monotonic()
        for cid in wanted - set(self._tasks):
            if now - self._ended.get(cid, 0.0) < RESTART_AFTER:
                continue
            self._tasks[cid] = asyncio.get_event_loop().create_task(self._stream(cid))

    async def _stream(self, cid: str) -> None:
        client = self._client
        assert client is not None
        try:
            async for s in client.containers.stats_samples(cid):
                self.sample.emit(cid, s.cpu_percent, s.memory_usage)
        except (EngineError, ValueError):
            pass  # the container stopped or vanished: its row stops showing figures
        finally:
            if self._tasks.get(cid) is asyncio.current_task():
                del self._tasks[cid]
                self._ended[cid] = time.monotonic()

    async def shutdown(self) -> None:
        """Close every stream."""
        self._client = None
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
