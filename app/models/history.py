"""The app's side of the resource history: the Qt face of the Qt-free recorder.

The recorder (``app/history``) streams stats of every running container while the app
runs, window shown or not (tray), and writes them on its own thread. This object feeds
it the container list as the containers feed changes, re-emits recorded rows as a Qt
signal for the graphs, and offers the store's reads as coroutines.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ..client import EngineClient
from ..history import HistoryRecorder, Row
from ..history.store import HistoryStore, SeriesInfo
from .feeds import ContainersFeed

RANGES = {"5 min": 300, "1 h": 3600, "24 h": 86400, "7 d": 7 * 86400}


def container_name(record: dict) -> str:
    """A container's name without Docker's leading slash."""
    names = record.get("Names") or []
    return str(names[0]).lstrip("/") if names else str(record.get("Id", ""))[:12]


class HistoryService(QObject):
    """Emits ``recorded([(series key, Row), …])`` once for each second recorded."""

    recorded = Signal(object)

    def __init__(
        self,
        containers: ContainersFeed,
        path: str | os.PathLike[str] | None = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.recorder = HistoryRecorder(path)
        self.recorder.listeners.append(self.recorded.emit)
        self._feed = containers
        containers.changed.connect(self._sync)

    @property
    def path(self) -> Path:
        """The database file."""
        return self.recorder.path

    async def open(self) -> None:
        """Open the database (start of the app)."""
        await self.recorder.open()
        self._sync()

    async def close(self) -> None:
        """Stop recording and close the database."""
        await self.recorder.close()

    def set_client(self, client: EngineClient | None, engine_name: str = "") -> None:
        """Record from ``client`` (None while disconnected)."""
        self.recorder.set_client(client, f"{engine_name} · all containers" if engine_name else "")
        self._sync()

    def _sync(self) -> None:
        if self.recorder.store is None or self._feed.client is None or not self._feed.loaded:
            return
        containers = {
            str(c["Id"]): (container_name(c), str(c.get("State")) == "running")
            for c in self._feed.model.containers()
        }
        # The feed lists every container (all=True): one missing from it was removed.
        self.recorder.sync(containers, complete=True)

    async def query(
        self, key: str, seconds: float, max_points: int = 1500
    ) -> tuple[float, list[Row]]:
        """``(now, rows)`` of the last ``seconds`` of ``key``."""
        now = time.time()
        rows = await self.recorder.call(lambda st: st.query(key, now - seconds, now, max_points))
        return now, rows

    async def series(self) -> list[SeriesInfo]:
        """Every recorded series."""
        return await self.recorder.call(lambda st: st.series())

    async def prune_removed(self) -> int:
        """Forget removed containers' history."""
        return await self.recorder.call(lambda st: st.prune_removed())

    async def export_csv(self, key: str, dest: str) -> int:
        """Write ``key``'s history to ``dest`` as CSV; returns the number of rows."""

        def write(st: HistoryStore) -> int:
            with open(dest, "w", newline="", encoding="utf-8") as out:
                return st.export_csv(key, out)

        return await self.recorder.call(write)
