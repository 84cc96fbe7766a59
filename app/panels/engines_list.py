"""The sidebar's Engines section: every engine with a live status dot, the one being
worked in highlighted, "+" to add one (``ssh://``, ``tcp://`` or a socket)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..client import EngineError
from ..connection import CONNECTED, STARTING, UNAVAILABLE
from ..engine_registry import EngineRegistry
from ..icons import dot_icon

KEY = Qt.ItemDataRole.UserRole
DOT = {CONNECTED: "#1e9e4a", STARTING: "#d68a00", UNAVAILABLE: "#d63031"}
CONNECTING_DOT = "#d68a00"
ROW_HEIGHT = 30


class AddEngineDialog(QDialog):
    """Name, address and (for ``ssh://``) an optional key file."""

    def __init__(self, registry: EngineRegistry, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("addEngineDialog")
        self.setWindowTitle("Add an engine")
        self.registry = registry
        self.name = QLineEdit()
        self.url = QLineEdit()
        self.url.setPlaceholderText("ssh://user@host[:port][/path/to/docker.sock]")
        self.key = QLineEdit()
        self.key.setPlaceholderText("empty: SSH agent, then ~/.ssh/id_*")
        self.error = QLabel("")
        self.error.setObjectName("addEngineError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d63031;")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Address", self.url)
        form.addRow("SSH key file", self.key)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.add)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.added_key = ""

    def add(self) -> None:
        try:
            entry = self.registry.add(self.name.text(), self.url.text(), self.key.text().strip())
        except EngineError as e:
            self.error.setText(str(e))
            return
        self.added_key = entry.key
        self.accept()


class EnginesList(QWidget):
    """ "Engines" heading with an add button, and the list; ``selected(key)`` on a click."""

    selected = Signal(str)

    def __init__(self, registry: EngineRegistry, parent: QWidget | None = None):
        super().__init__(parent)
        self.registry = registry
        title = QLabel("ENGINES")
        title.setObjectName("enginesHeading")
        self.add_button = QPushButton("+")
        self.add_button.setObjectName("addEngine")
        self.add_button.setToolTip("Add an engine (ssh://, tcp:// or a socket)")
        self.add_button.setFixedSize(22, 22)
        self.add_button.clicked.connect(self.open_add_dialog)
        head = QHBoxLayout()
        head.setContentsMargins(16, 10, 10, 4)
        head.addWidget(title, 1)
        head.addWidget(self.add_button)
        self.list = QListWidget()
        self.list.setObjectName("engines")
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemClicked.connect(lambda item: self.selected.emit(item.data(KEY)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.setSpacing(0)
        layout.addLayout(head)
        layout.addWidget(self.list)
        self.dialog: AddEngineDialog | None = None
        self.rebuild()

    def _item(self, key: str) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(KEY) == key:
                return item
        return None

    def rebuild(self) -> None:
        """One row per engine, in the registry's order."""
        self.list.clear()
        for session in self.registry.ordered():
            item = QListWidgetItem(session.name)
            item.setData(KEY, session.key)
            self.list.addItem(item)
            self.update_engine(session.key)
        self.list.setFixedHeight(max(1, self.list.count()) * ROW_HEIGHT + 6)
        self.set_current(self.registry.current_key)

    def update_engine(self, key: str) -> None:
        """Refresh one engine's dot and tooltip (state, or its last error)."""
        item, session = self._item(key), self.registry.session(key)
        if item is None or session is None:
            return
        state = session.connection.state
        item.setText(session.name)
        item.setIcon(dot_icon(DOT.get(state, CONNECTING_DOT)))
        item.setToolTip(f"{session.name}: {session.status_text()}")
        item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, state)

    def state_of(self, key: str) -> str:
        """The state the row shows (tests read it as the user would see it)."""
        item = self._item(key)
        return str(item.data(Qt.ItemDataRole.AccessibleDescriptionRole)) if item else ""

    def set_current(self, key: str) -> None:
        item = self._item(key)
        if item is not None:
            self.list.setCurrentItem(item)

    def open_add_dialog(self) -> AddEngineDialog:
        dialog = AddEngineDialog(self.registry, self)
        dialog.accepted.connect(lambda: self.selected.emit(dialog.added_key))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        session = self.registry.session(item.data(KEY)) if item is not None else None
        if session is None:
            return
        menu = QMenu(self)
        menu.addAction("Reconnect", session.connection.retry_now)
        if session.entry.removable:
            menu.addAction("Remove", lambda: self.registry.remove(session.key))
        menu.popup(self.list.viewport().mapToGlobal(pos))
