"""The composition root of the desktop app: builds the services and wires them."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from .client import EngineError
from .collector import MainThreadCollector
from .connection import Connection
from .engine_catalog import PORTSIDE as PORTSIDE_SOURCE
from .engine_catalog import EngineEntry
from .engine_registry import EngineRegistry
from .launcher import EngineLauncher
from .machine import MachineManager
from .models.history import HistoryService
from .settings import AUTO, PORTSIDE, ConnectionChoice, Settings
from .tasks import TaskRunner
from .widgets.hostkey_dialog import ask_host_key
from .window import MainWindow

log = logging.getLogger(__name__)


def primary_entry(connection: Connection) -> EngineEntry:
    """Portside's own engine as the Engines list shows it: the app's main connection."""
    choice = connection.choice
    try:
        address = connection.launcher.address if choice.kind == PORTSIDE else choice.address()
    except EngineError:
        address = connection.launcher.address
    own = choice.kind == PORTSIDE or (
        choice.kind == AUTO and address == connection.launcher.address
    )
    return EngineEntry(
        key="portside",
        name="Portside" if own else "Default",
        source=PORTSIDE_SOURCE,
        url=address.url,
        description="Portside's engine" if own else "the app's connection",
    )


class PortsideApp(QObject):
    """Everything the app runs, from connection to window, and its orderly shutdown.

    ``docker_config``, ``engine_sockets`` and ``machines_home`` point the discovery of other
    engines elsewhere (tests); by default it reads ``~/.docker``, the usual sockets and
    Portside's machines. The resource history records the primary engine (``history_path``,
    default: the user's state directory).
    """

    def __init__(
        self,
        settings: Settings,
        choice: ConnectionChoice | None = None,
        launcher: EngineLauncher | None = None,
        tray: bool = True,
        machine: MachineManager | None = None,
        *,
        docker_config: Path | None = None,
        engine_sockets: list[str] | None = None,
        machines_home: Path | None = None,
        history_path: str | None = None,
    ):
        super().__init__()
        runner = TaskRunner(self)
        connection = Connection(choice or settings.connection(), launcher, self, machine)
        self.engines = EngineRegistry(
            runner,
            settings,
            primary_entry(connection),
            connection,
            config_dir=docker_config,
            sockets=engine_sockets,
            machines=machines_home,
            parent=self,
        )
        # The primary engine's context: the tray, notifications, status and the resource
        # history follow it.
        primary = self.engines.primary
        self.ctx = primary.ctx
        self.history = HistoryService(primary.feeds.containers, history_path, self)
        self.ctx.history = self.history
        # The recorder streams every running container already: the primary engine's
        # stats hub takes its rows instead of streaming the same containers again.
        self.history.recorded.connect(primary.stats.take_rows)
        connection.connected.connect(
            lambda client: self.history.set_client(client, connection.engine_label)
        )
        connection.disconnected.connect(lambda: self.history.set_client(None))
        self.window = MainWindow(self.ctx)
        self.engines.ask_host_key = lambda question: ask_host_key(question, self.window)
        self.engines.current_changed.connect(self.window.show_engine)
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
        self.collector = MainThreadCollector(self)

    def start(self) -> None:
        """Show the window and connect."""
        self.collector.start()
        self.window.show()
        self.ctx.runner.spawn(self.history.open(), "open the resource history")
        self.engines.start()

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
            "engines": {s.key: s.connection.state for s in self.engines.ordered()},
            "current_engine": self.engines.current_key,
        }

    async def shutdown(self) -> None:
        """Cancel tasks, close streams and the connection; leave no warning behind."""
        if self._closed:
            return
        self._closed = True
        self.window.hide()
        if self.tray is not None:
            self.tray.hide()
        for panel in self.window.all_panels():
            closer = getattr(panel, "shutdown", None)
            if closer is not None:
                await closer()
        await self.engines.close()
        primary = self.engines.primary
        await primary.events.wait_stopped()
        primary.feeds.attach(None)  # no reload may start while tasks are cancelled
        await primary.stats.shutdown()
        await self.history.close()
        await self.ctx.runner.shutdown()
        await primary.connection.close()
        self.window.deleteLater()
        QApplication.processEvents()
        self.collector.stop()
