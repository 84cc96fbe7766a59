"""Common behaviour of the sidebar's panels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from ..context import AppContext
from ..models.table import RecordTableModel
from ..widgets.table import RecordTable


class Panel(QWidget):
    """A page of the main window. Subclasses override :meth:`activated` to refresh
    what is only kept up to date while visible (graphs, disk usage)."""

    title = ""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName(type(self).__name__)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.activated()

    def activated(self) -> None:
        """Called each time the panel becomes visible."""


def heading(text: str) -> QLabel:
    """A section heading label."""
    label = QLabel(text)
    label.setObjectName("heading")
    return label


@dataclass
class TableSection:
    """A records table with its row of action buttons and a search box."""

    table: RecordTable
    search: QLineEdit
    buttons: dict[str, QPushButton]
    bar: QHBoxLayout


def table_section(
    model: RecordTableModel,
    *,
    prefix: str,
    actions: Sequence[tuple[str, str, Callable[[], object]]],
    search: str,
    widths: Sequence[int],
    on_selection: Callable[[], None],
) -> TableSection:
    """Build the table, the buttons ``(key, label, slot)`` (object names ``prefix_key``)
    and the search box of the Images, Volumes and Networks panels."""
    table = RecordTable(model)
    for col, width in enumerate(widths):
        table.setColumnWidth(col, width)
    box = QLineEdit()
    box.setPlaceholderText(search)
    box.setClearButtonEnabled(True)
    box.textChanged.connect(table.filter)
    bar = QHBoxLayout()
    buttons: dict[str, QPushButton] = {}
    for key, label, slot in actions:
        b = QPushButton(label)
        b.setObjectName(f"{prefix}_{key}")
        b.clicked.connect(lambda _=False, s=slot: s())
        buttons[key] = b
        bar.addWidget(b)
    bar.addStretch(1)
    bar.addWidget(box, 1)
    table.selectionModel().selectionChanged.connect(lambda *_: on_selection())
    return TableSection(table, box, buttons, bar)
