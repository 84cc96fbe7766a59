"""Stats tab: CPU, memory, network and disk graphs of one container, its recorded past
first, then live (see :mod:`..history_view`)."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...context import AppContext
from ...widgets.charts import TimeChart
from ..history_view import HistoryView
from .tab import DetailsTab


class StatsTab(DetailsTab):
    """Keeps the container's stats stream open while visible (its table row shows the
    figures); the graphs come from the history recorder."""

    title = "Stats"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.view = HistoryView(ctx)
        self.cpu, self.memory, self.network, self.disk = self.view.charts
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)
        self._subscribed = ""

    @property
    def charts(self) -> list[TimeChart]:
        """The four charts."""
        return self.view.charts

    def reset(self) -> None:
        self.view.clear()

    def start(self) -> None:
        if self.cid and not self._subscribed:
            self._subscribed = self.cid
            self.ctx.stats.subscribe(self.cid)
        if self.cid and (self.view.key != self.cid or not self.view.is_loaded):
            self.view.set_series(self.cid, self.cid[:12])

    def stop(self) -> None:
        super().stop()
        if self._subscribed:
            self.ctx.stats.unsubscribe(self._subscribed)
            self._subscribed = ""
