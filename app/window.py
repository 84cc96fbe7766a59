"""The main window: sidebar (panels, then the Engines list), one panel at a time, and a
status bar with the state of the engine being worked in.

Each engine has its own set of panels (built on first use and kept), so switching engines
in the sidebar keeps every engine's table state, selection and open details page.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QProgressBar,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .connection import CONNECTED, STARTING, UNAVAILABLE
from .context import AppContext
from .icons import engine_icon, engine_state
from .panels.base import Panel
from .panels.engines_list import EnginesList
from .panels.offline import OfflinePage

# (name, module, class): panels are imported and built the first time they are shown,
# which keeps start-up fast and memory low for panels never opened.
PANELS = [
    ("Containers", "containers", "ContainersPanel"),
    ("Images", "images", "ImagesPanel"),
    ("Volumes", "volumes", "VolumesPanel"),
    ("Networks", "networks", "NetworksPanel"),
    ("Engine", "engine", "EnginePanel"),
    ("History", "history", "HistoryPanel"),
]


class _FirstPaint(QObject):
    """Calls back once, right after the first paint of a widget."""

    def __init__(self, callback: Callable[[], None]):
        super().__init__()
        self._callback: Callable[[], None] | None = callback

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self._callback is not None:
            cb, self._callback = self._callback, None
            QTimer.singleShot(0, cb)
            # Every later event of the widget would still cross into Python for nothing.
            obj.removeEventFilter(self)
        return False


class MainWindow(QMainWindow):
    """Sidebar + stacked panels + status bar."""

    close_requested = Signal()
    first_painted = Signal(float)
    panel_created = Signal(str)

    def __init__(self, ctx: AppContext):
        super().__init__()
        self.ctx = ctx  # the context of the engine being worked in
        self.setWindowTitle("Portside")
        self.resize(1180, 720)
        self._panels: dict[str, dict[str, Panel]] = {}

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(180)
        self.sidebar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for name, _mod, _cls in PANELS:
            self.sidebar.addItem(name)
        brand = QLabel("⚓ Portside")
        brand.setObjectName("brand")
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.setSpacing(0)
        sl.addWidget(brand)
        sl.addWidget(self.sidebar, 1)
        self.engines_list: EnginesList | None = None
        if ctx.engines is not None:
            self.engines_list = EnginesList(ctx.engines, self)
            self.engines_list.selected.connect(self.show_engine)
            sl.addWidget(self.engines_list)
            ctx.engines.state_changed.connect(self._engine_state_changed)
            ctx.engines.listed.connect(self._engines_listed)
        side.setFixedWidth(180)
        side.setStyleSheet("background: #1f2933;")

        self.stack = QStackedWidget()
        self.offline = OfflinePage()
        self.offline.retry_clicked.connect(lambda: self.ctx.connection.retry_now())
        self.offline.settings_clicked.connect(lambda: self.show_panel("Engine"))
        self.offline.machine_clicked.connect(lambda: self.ctx.connection.start_machine())
        self.stack.addWidget(self.offline)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(side)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._paint_watch = _FirstPaint(lambda: self.first_painted.emit(time.time()))
        central.installEventFilter(self._paint_watch)

        self.state_icon = QLabel()
        self.state_label = QLabel("Connecting…")
        self.state_label.setObjectName("stateLabel")
        self.engine_label = QLabel("")
        self.engine_label.setObjectName("engineLabel")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(80)
        self.busy.setMaximumHeight(12)
        self.busy.setVisible(False)
        status = self.statusBar()
        status.addWidget(self.state_icon)
        status.addWidget(self.state_label)
        status.addWidget(self.engine_label, 1)
        status.addPermanentWidget(self.busy)

        self.sidebar.currentRowChanged.connect(self._row_changed)
        if ctx.engines is None:
            ctx.connection.state_changed.connect(self._state_changed)
        ctx.runner.failed.connect(self.show_error)
        ctx.runner.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        ctx.runner.busy_changed.connect(lambda n: self.busy.setVisible(n > 0))
        self._state_changed(ctx.connection.state, ctx.connection.detail)
        self.sidebar.setCurrentRow(0)

    # -- panels --------------------------------------------------------------------------
    @property
    def current_name(self) -> str:
        """The sidebar entry selected."""
        row = self.sidebar.currentRow()
        return PANELS[row][0] if 0 <= row < len(PANELS) else ""

    @property
    def panels(self) -> dict[str, Panel]:
        """The current engine's panels built so far, by name."""
        return self._panels.setdefault(self.ctx.engine_key, {})

    def all_panels(self) -> list[Panel]:
        """Every engine's panels (for shutdown)."""
        return [p for panels in self._panels.values() for p in panels.values()]

    def panel(self, name: str) -> Panel:
        """The current engine's panel called ``name``, built on first use."""
        panels = self.panels
        if name not in panels:
            _name, module, cls = next(p for p in PANELS if p[0] == name)
            mod = importlib.import_module(f"{__package__}.panels.{module}")
            panel = getattr(mod, cls)(self.ctx)
            panels[name] = panel
            self.stack.addWidget(panel)
            self.panel_created.emit(name)
        return panels[name]

    # -- engines -------------------------------------------------------------------------
    def show_engine(self, key: str) -> None:
        """Work in engine ``key``: its panels, its state in the status bar."""
        engines = self.ctx.engines
        session = engines.session(key) if engines is not None else None
        if engines is None or session is None:
            return
        engines.select(key)
        if self.engines_list is not None:
            self.engines_list.set_current(key)
        if session.ctx is self.ctx:
            return
        self.ctx = session.ctx
        c = self.ctx.connection
        self._state_changed(c.state, c.detail)

    def _engine_state_changed(self, key: str) -> None:
        if self.engines_list is not None:
            self.engines_list.update_engine(key)
        if key == self.ctx.engine_key:
            c = self.ctx.connection
            self._state_changed(c.state, c.detail)

    def _engines_listed(self) -> None:
        engines = self.ctx.engines
        if engines is None:
            return
        # panels of engines that are gone go with them
        for key in [k for k in self._panels if engines.session(k) is None]:
            for panel in self._panels.pop(key).values():
                self.stack.removeWidget(panel)
                closer = getattr(panel, "shutdown", None)
                if closer is not None:
                    self.ctx.runner.spawn(closer(), "close a gone engine's panel")
                panel.deleteLater()
        if engines.session(self.ctx.engine_key) is None:
            self.show_engine(engines.primary.key)
        if self.engines_list is not None:
            self.engines_list.rebuild()

    def show_panel(self, name: str) -> Panel:
        """Select ``name`` in the sidebar and show it."""
        row = next(i for i, p in enumerate(PANELS) if p[0] == name)
        self.sidebar.setCurrentRow(row)
        return self.panel(name)

    def _row_changed(self, _row: int) -> None:
        self._show_current()

    def _show_current(self) -> None:
        name = self.current_name
        connected = self.ctx.connection.state == CONNECTED
        # The Engine panel stays reachable offline: it holds the connection settings.
        if connected or name == "Engine":
            self.stack.setCurrentWidget(self.panel(name))
        else:
            self.stack.setCurrentWidget(self.offline)

    # -- status ------------------------------------------------------------------------
    def _state_changed(self, state: str, detail: str) -> None:
        self.offline.show_state(state, detail, self.ctx.connection.machine_offer)
        if self.ctx.engines is not None:
            self.setWindowTitle(f"Portside — {self.ctx.engines.current.name}")
        words = {
            CONNECTED: "Connected",
            STARTING: "Starting engine…",
            UNAVAILABLE: "Engine unavailable",
        }
        self.state_label.setText(words.get(state, "Connecting…"))
        self.state_icon.setPixmap(engine_icon(engine_state(state, detail)).pixmap(16, 16))
        if state == CONNECTED:
            client = self.ctx.connection.client
            address = client.address.describe() if client else ""
            self.engine_label.setText(
                f"{self.ctx.connection.engine_label} · API {client.api_version if client else ''}"
                f" · {address}"
            )
        else:
            self.engine_label.setText(detail.splitlines()[0] if detail else "")
        self._show_current()

    def show_error(self, text: str) -> None:
        """An error sentence in the status bar (kept for 10 s)."""
        self.statusBar().showMessage(text, 10000)

    def closeEvent(self, event: QCloseEvent) -> None:
        event.accept()
        self.close_requested.emit()
