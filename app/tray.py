"""The tray icon: engine state at a glance, quick actions, and notifications."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from .connection import CONNECTED
from .context import AppContext
from .icons import engine_icon, engine_state
from .models import container_info
from .window import MainWindow


class Tray(QObject):
    """A system-tray icon when the desktop has a tray; otherwise messages are only kept."""

    def __init__(self, ctx: AppContext, window: MainWindow):
        super().__init__(window)
        self.ctx = ctx
        self.window = window
        self.messages: list[tuple[str, str]] = []
        self.icon: QSystemTrayIcon | None = None
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        self.icon = QSystemTrayIcon(engine_icon("starting"), self)
        menu = QMenu()
        self._state = QAction("Connecting…", menu)
        self._state.setEnabled(False)
        menu.addAction(self._state)
        menu.addSeparator()
        menu.addAction("Show Portside", self._show)
        menu.addAction("Containers", lambda: self._show("Containers"))
        menu.addAction("Images", lambda: self._show("Images"))
        self._stop_all = menu.addAction("Stop all containers", self._stop_all_containers)
        menu.addSeparator()
        menu.addAction("Quit Portside", window.close)
        self._menu = menu
        self.icon.setContextMenu(menu)
        self.icon.activated.connect(self._activated)
        ctx.connection.state_changed.connect(self._state_changed)
        self._state_changed(ctx.connection.state, ctx.connection.detail)
        self.icon.show()

    def _state_changed(self, state: str, detail: str) -> None:
        if self.icon is None:
            return
        self.icon.setIcon(engine_icon(engine_state(state, detail)))
        text = f"Engine: {state}"
        if state == CONNECTED:
            text = f"Engine: {self.ctx.connection.engine_label}"
        self._state.setText(text)
        self.icon.setToolTip(f"Portside — {text}")
        self._stop_all.setEnabled(state == CONNECTED)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self._show()

    def _show(self, panel: str | None = None) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
        if panel:
            self.window.show_panel(panel)

    def _stop_all_containers(self) -> None:
        client = self.ctx.client
        if client is None:
            return
        running = [
            c["Id"]
            for c in self.ctx.feeds.containers.model.containers()
            if container_info.state(c) == "running"
        ]

        async def stop_all() -> None:
            for cid in running:
                await client.containers.stop(cid)

        self.ctx.runner.spawn(stop_all(), "stop every container", busy=True)

    def show_message(self, title: str, text: str) -> None:
        """A desktop notification (kept in :attr:`messages` either way)."""
        self.messages.append((title, text))
        if self.icon is not None:
            self.icon.showMessage(title, text, QSystemTrayIcon.MessageIcon.Warning, 8000)

    def hide(self) -> None:
        """Remove the icon (at shutdown)."""
        if self.icon is not None:
            self.icon.hide()
