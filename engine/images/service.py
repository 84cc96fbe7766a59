"""Image service (placeholder until the image store lands)."""

from __future__ import annotations

from typing import Any

from ..config import DaemonConfig
from ..store.db import Database
from ..system.events import EventBus


class ImageService:
    """Images: load, import, list, inspect, tag, delete, prune."""

    def __init__(self, config: DaemonConfig, db: Database, events: EventBus) -> None:
        self.config = config
        self.db = db
        self.events = events

    async def start(self) -> None:
        """Open stores."""

    async def shutdown(self) -> None:
        """Release resources."""

    def count(self) -> int:
        """Number of images."""
        return 0

    async def df(self) -> list[dict[str, Any]]:
        """Images as ``/system/df`` lists them."""
        return []
