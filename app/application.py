"""The composition root of the desktop app: builds the services and wires them."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from .client import EngineClient
from .connection import Connection
from .context import AppContext
from .launcher import EngineLauncher
from .machine import MachineManager
from .models.events import EventHub
from .models.feeds import Feeds
from .models.history import HistoryService
from .models.stats import StatsHub
from .settings import ConnectionChoice, Settings
from .tasks import TaskRunner
from .window import MainWindow

log = logging.getLogger(__name__)


class PortsideApp(QObject):
    """Everything the app runs, from connection to window, and its orderly shutdown."""

    def __init__(
        self,
        settings: Settings,
        choice: ConnectionChoice | None = None,
        launcher: EngineLauncher | None = None,
        tray: bool = True,
        machine: MachineManager | None = None,
        history_path: str | None = None,
    ):
        super().__init__()
        runner = TaskRunner(self)
        events = EventHub(self)
        stats = StatsHub(self)
        feeds = Feeds(runner, events, stats)
        connection = Connection(choice or settings.connection(), launcher, self, machine)
        self.ctx = AppContext(
            runner=runner,
            connection=connection,
            events=events,
            settings=settings,
            feeds=feeds,
            stats=stats,
            history=HistoryService(feeds.containers, history_path, self),
        )
        connection.connected.connect(self._connected)
        connection.disconnected.connect(self._disconnected)
        events.lost.connect(connection.lost)
        self.window = MainWindow(self.ctx)
        self.window.close_requested.connect(self.quit)
        self.tray = None
        self.notifier = None
        if tray:
            from .notifications import Notifier
            from .tray import Tray

            self.notifier = Notifier(self.ctx)
            self.tray = Tray(self.ctx, self.window)
            self.notifier.notify.connect(self.tray.show_message)
        self._quit = asyncio.Event()
        self._closed = False

    def start(self) -> None:
        """Show the window and connect."""
        self.window.show()
        if self.ctx.history is not None:
            self.ctx.runner.spawn(self.ctx.history.open(), "open the resource history")
        self.ctx.connection.start()

    def quit(self) -> None:
        """Ask the app to finish (window closed, tray "Quit", or a test)."""
        self._quit.set()

    async def run(self) -> None:
        """Run until :meth:`quit`, then shut down."""
        self.start()
        await self._quit.wait()
        await self.shutdown()

    def status(self) -> dict:
        """A snapshot of what the app is doing (for ``--status-file``, tests, benchmarks)."""
        ctx = self.ctx
        return {
            "state": ctx.connection.state,
            "engine": ctx.connection.engine_label,
            "events_open": ctx.events.is_open,
            "events_received": ctx.events.count,
            "containers": len(ctx.feeds.containers.model.ids()),
            "images": ctx.feeds.images.model.rowCount(),
            "stats_streams": sorted(ctx.stats.streaming),
            "panel": self.window.current_name,
        }

    async def shutdown(self) -> None:
        """Cancel tasks, close streams and the connection; leave no warning behind."""
        if self._closed:
            return
        self._closed = True
        self.window.hide()
        if self.tray is not None:
            self.tray.hide()
        for panel in self.window.panels.values():
            closer = getattr(panel, "shutdown", None)
            if closer is not None:
                await closer()
        await self.ctx.events.wait_stopped()
        self.ctx.feeds.attach(None)  # no reload may start while tasks are cancelled
        await self.ctx.stats.shutdown()
        if self.ctx.history is not None:
            await self.ctx.history.close()
        await self.ctx.runner.shutdown()
        await self.ctx.connection.close()
        self.window.deleteLater()
        QApplication.processEvents()

    def _connected(self, client: EngineClient) -> None:
        self.ctx.feeds.attach(client)
        self.ctx.stats.set_client(client)
        if self.ctx.history is not None:
            self.ctx.history.set_client(client, self.ctx.connection.engine_label)
        self.ctx.events.start(client)

    def _disconnected(self) -> None:
        self.ctx.events.stop()
        self.ctx.stats.set_client(None)
        if self.ctx.history is not None:
            self.ctx.history.set_client(None)
        self.ctx.feeds.attach(None)
