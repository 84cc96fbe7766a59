"""What every panel needs, in one object handed down from the application."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .client import EngineClient
from .connection import Connection
from .models.events import EventHub
from .settings import Settings
from .tasks import TaskRunner

if TYPE_CHECKING:
    from .engine_registry import EngineRegistry
    from .models.feeds import Feeds
    from .models.history import HistoryService
    from .models.stats import StatsHub


@dataclass
class AppContext:
    """One engine's services (connection, events, models, stats) and the shared ones
    (task runner, settings, the engines registry)."""

    runner: TaskRunner
    connection: Connection
    events: EventHub
    settings: Settings
    feeds: Feeds
    stats: StatsHub
    history: HistoryService | None = None  # the resource history (the primary engine only)
    engines: EngineRegistry | None = None  # every engine's session (None: one engine only)
    engine_key: str = ""  # which engine this context belongs to

    @property
    def client(self) -> EngineClient | None:
        """The connected client, or None while disconnected."""
        return self.connection.client
