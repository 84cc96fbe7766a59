"""History panel: every recorded series (this computer, the engine, containers, also
removed ones) and its graphs; removed containers' history is forgotten on request."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..context import AppContext
from ..history.store import SeriesInfo
from .base import Panel, heading
from .history_view import HistoryView

KEY_ROLE = int(Qt.ItemDataRole.UserRole) + 1


def series_label(s: SeriesInfo) -> str:
    """A list entry: the name, and whether the container is gone."""
    return f"{s.name} (removed)" if s.removed is not None else s.name


class HistoryPanel(Panel):
    """A list of series on the left, the graphs of the selected one on the right."""

    title = "History"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.series: list[SeriesInfo] = []
        self.list = QListWidget()
        self.list.setMaximumWidth(260)
        self.list.currentItemChanged.connect(self._selected)
        self.prune_button = QPushButton("Prune removed")
        self.prune_button.setToolTip("Forget the history of containers that no longer exist")
        self.prune_button.clicked.connect(self.prune)
        self.view = HistoryView(ctx)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(self.prune_button)
        body = QHBoxLayout()
        body.addLayout(left)
        body.addWidget(self.view, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("History"))
        layout.addLayout(body, 1)

    def activated(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Reload the list of recorded series."""
        history = self.ctx.history
        if history is not None and history.recorder.store is not None:
            self.ctx.runner.spawn(self._refresh(), "list the recorded history")

    async def _refresh(self) -> None:
        history = self.ctx.history
        assert history is not None
        self.series = await history.series()
        current = self.view.key
        self.list.blockSignals(True)
        self.list.clear()
        for s in self.series:
            item = QListWidgetItem(series_label(s))
            item.setData(KEY_ROLE, s.key)
            self.list.addItem(item)
            if s.key == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)

    def select(self, key: str) -> None:
        """Show series ``key``."""
        for i in range(self.list.count()):
            if self.list.item(i).data(KEY_ROLE) == key:
                self.list.setCurrentRow(i)

    def _selected(self, item: QListWidgetItem | None, _prev: QListWidgetItem | None) -> None:
        if item is not None:
            key = str(item.data(KEY_ROLE))
            name = next((s.name for s in self.series if s.key == key), key)
            self.view.set_series(key, name)

    def prune(self) -> None:
        """Forget removed containers' history."""
        history = self.ctx.history
        if history is not None and history.recorder.store is not None:
            self.ctx.runner.spawn(self._prune(), "prune the history of removed containers")

    async def _prune(self) -> None:
        history = self.ctx.history
        assert history is not None
        n = await history.prune_removed()
        self.view.status.setText(f"Forgot {n} removed container{'s' if n != 1 else ''}")
        await self._refresh()
