"""Common behaviour of the sidebar's panels."""

from __future__ import annotations

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QWidget

from ..context import AppContext


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
