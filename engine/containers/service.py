"""Container service (placeholder until the runtime lands)."""

from __future__ import annotations

from typing import Any

from ..config import DaemonConfig
from ..images.service import ImageService
from ..store.db import Database
from ..system.events import EventBus


class ContainerService:
    """Containers: lifecycle, logs, stats, live restore."""

    def __init__(
        self,
        config: DaemonConfig,
        db: Database,
        events: EventBus,
        images: ImageService,
        runtime: Any,
    ) -> None:
        self.config = config
        self.db = db
        self.events = events
        self.images = images
        self.runtime = runtime

    async def start(self) -> None:
        """Re-adopt running containers."""

    async def shutdown(self) -> None:
        """Stop watching containers; they keep running."""

    def counts(self) -> dict[str, int]:
        """Container counts by state."""
        return {"total": 0, "running": 0, "paused": 0, "stopped": 0}

    async def df(self) -> list[dict[str, Any]]:
        """Containers as ``/system/df`` lists them."""
        return []
