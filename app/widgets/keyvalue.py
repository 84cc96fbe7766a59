"""A two-column grid of labelled values that can be refilled."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget


class KeyValueGrid(QWidget):
    """``set_rows([(label, value), ...])`` replaces the content."""

    def __init__(self, columns: int = 2, parent: QWidget | None = None):
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(16)
        self._grid.setVerticalSpacing(4)
        self._columns = columns
        self.values: dict[str, str] = {}

    def set_rows(self, rows: list[tuple[str, str]]) -> None:
        """Show ``rows`` (label, value) laid out in ``columns`` pairs per line."""
        while self._grid.count():
            item = self._grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.values = dict(rows)
        for i, (label, value) in enumerate(rows):
            r, c = divmod(i, self._columns)
            key = QLabel(label)
            key.setObjectName("key")
            val = QLabel(value)
            val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            val.setObjectName("value")
            self._grid.addWidget(key, r, c * 2)
            self._grid.addWidget(val, r, c * 2 + 1)
        for c in range(self._columns):
            self._grid.setColumnStretch(c * 2 + 1, 1)
