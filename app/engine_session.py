"""One engine the app keeps connected: its connection, event stream, stats and models.

Every engine has its own set, kept alive while the user works in another one, so
switching back finds the same rows, selection and scroll position, and the "All
engines" tables can read every engine's containers without asking again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from .client import EngineClient
from .connection import CONNECTED, Connection
from .context import AppContext
from .engine_catalog import PORTSIDE, EngineEntry
from .models.events import EventHub
from .models.feeds import Feeds
from .models.stats import StatsHub
from .settings import SOCKET, TCP, ConnectionChoice, Settings
from .tasks import TaskRunner

if TYPE_CHECKING:
    from .engine_registry import EngineRegistry


def choice_for(entry: EngineEntry) -> ConnectionChoice:
    """The connection choice that reaches ``entry`` (never starts an engine)."""
    address = entry.address()
    if address.is_unix:
        return ConnectionChoice(kind=SOCKET, socket_path=address.socket_path or "")
    return ConnectionChoice(
        kind=TCP,
        tcp_host=entry.url,
        cert_dir=entry.tls_dir,
        tls_verify=entry.tls_verify,
        ssh_key=entry.ssh_key,
    )


class EngineSession(QObject):
    """``entry``'s connection and models; ``changed`` whenever its state changes."""

    changed = Signal()

    def __init__(
        self,
        entry: EngineEntry,
        runner: TaskRunner,
        settings: Settings,
        registry: EngineRegistry | None = None,
        connection: Connection | None = None,
    ):
        super().__init__()
        self.entry = entry
        self.events = EventHub(self)
        self.stats = StatsHub(self)
        self.feeds = Feeds(runner, self.events, self.stats)
        self.connection = connection or Connection(choice_for(entry), parent=self)
        self.ctx = AppContext(
            runner=runner,
            connection=self.connection,
            events=self.events,
            settings=settings,
            feeds=self.feeds,
            stats=self.stats,
            engines=registry,
            engine_key=entry.key,
        )
        self.connection.connected.connect(self._connected)
        self.connection.disconnected.connect(self._disconnected)
        self.connection.state_changed.connect(lambda _s, _d: self.changed.emit())
        self.events.lost.connect(self.connection.lost)
        self._closed = False

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def name(self) -> str:
        """The entry's name; the app's own connection is called "Portside" whenever the
        engine it reaches says it is Portside's."""
        client = self.connection.client
        if self.entry.source == PORTSIDE and client is not None:
            if client.engine_name.startswith("Portside"):
                return "Portside"
        return self.entry.name

    @property
    def online(self) -> bool:
        return self.connection.state == CONNECTED

    def status_text(self) -> str:
        """One line for a tooltip: where it is and how it is (or why it is not)."""
        c = self.connection
        where = self.entry.address().describe()
        if c.state == CONNECTED:
            return f"{c.engine_label} · {where}"
        reason = (c.detail or c.last_error).splitlines()[0] if (c.detail or c.last_error) else ""
        return f"{where} — {reason}" if reason else where

    def start(self) -> None:
        self.connection.start()

    def _connected(self, client: EngineClient) -> None:
        self.feeds.attach(client)
        self.stats.set_client(client)
        self.events.start(client)

    def _disconnected(self) -> None:
        self.events.stop()
        self.stats.set_client(None)
        self.feeds.attach(None)

    async def close(self) -> None:
        """Stop streams and the connection (the engine itself keeps running)."""
        if self._closed:
            return
        self._closed = True
        await self.events.wait_stopped()
        self.feeds.attach(None)
        await self.stats.shutdown()
        await self.connection.close()
        self.feeds.clear()
