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
    from .models.feeds import Feeds
    from .models.history import HistoryService
    from .models.stats import StatsHub


@dataclass
class AppContext:
    """Shared services: the task runner, the connection, events, models, settings."""

    runner: TaskRunner
    connection: Connection
    events: EventHub
    settings: Settings
    feeds: Feeds
    stats: StatsHub
    history: HistoryService | None = None

    @property
    def client(self) -> EngineClient | None:
        """The connected client, or None while disconnected."""
        return self.connection.client
