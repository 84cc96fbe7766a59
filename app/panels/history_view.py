"""Four graphs (CPU, memory, network, disk) of one recorded series, past and live.

Opening the view draws what the history database holds for the chosen range (5 min to
7 days), so a graph is never empty after a restart; rows recorded from then on are
appended as they arrive. The series and the picture export as CSV and PNG.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import format as fmt
from ..context import AppContext
from ..history import Row
from ..models.history import RANGES
from ..widgets.charts import TimeChart

MAX_POINTS = 1500  # per series drawn from the database; live points add to it
KEEP_POINTS = 4000


def rate(v: float) -> str:
    """Bytes per second, decimal units."""
    return f"{fmt.size(v)}/s"


def choose_export_path(parent: QWidget, title: str, name: str, pattern: str) -> str:
    """Ask where to save an export ("" when cancelled); tests replace this."""
    path, _ = QFileDialog.getSaveFileName(parent, title, str(Path.home() / name), pattern)
    return path


class HistoryView(QWidget):
    """The graphs of series ``key`` over a chosen range, with hover read-outs."""

    #: emitted after the recorded past has been drawn
    loaded = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.key = ""
        self.name = ""
        self.seconds = RANGES["5 min"]
        self.is_loaded = False
        self._early: list[Row] = []
        self.cpu = self._chart("CPU", lambda v: f"{v:.1f} %", minimum_top=10)
        self.cpu.add_series("cpu", "CPU")
        self.memory = self._chart("Memory", fmt.binary_size)
        self.memory.add_series("mem", "Used")
        self.network = self._chart("Network I/O", rate)
        self.network.add_series("rx", "In")
        self.network.add_series("tx", "Out")
        self.disk = self._chart("Disk I/O", rate)
        self.disk.add_series("read", "Read")
        self.disk.add_series("write", "Write")
        self.range = QComboBox()
        self.range.addItems(list(RANGES))
        self.range.currentTextChanged.connect(self.set_range)
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.clicked.connect(lambda: self.export_csv())
        self.png_button = QPushButton("Save PNG…")
        self.png_button.clicked.connect(lambda: self.save_png())
        self.status = QLabel("")
        self.status.setObjectName("muted")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Range"))
        bar.addWidget(self.range)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.csv_button)
        bar.addWidget(self.png_button)
        self.graphs = QWidget()
        grid = QGridLayout(self.graphs)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.cpu, 0, 0)
        grid.addWidget(self.memory, 0, 1)
        grid.addWidget(self.network, 1, 0)
        grid.addWidget(self.disk, 1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.graphs, 1)
        if ctx.history is not None:
            ctx.history.recorded.connect(self._recorded)

    @staticmethod
    def _chart(title: str, f: Callable[[float], str], minimum_top: float = 1.0) -> TimeChart:
        return TimeChart(
            title, fmt=f, minimum_top=minimum_top, max_points=KEEP_POINTS, time_labels=True
        )

    @property
    def charts(self) -> list[TimeChart]:
        """The four charts."""
        return [self.cpu, self.memory, self.network, self.disk]

    def set_series(self, key: str, name: str = "") -> None:
        """Show series ``key`` (a container ID, or the engine's or host's key)."""
        self.key, self.name = key, name or key[:12]
        self.reload()

    def set_range(self, label: str) -> None:
        """Show the last 5 min, 1 h, 24 h or 7 d."""
        self.seconds = RANGES[label]
        if self.range.currentText() != label:
            self.range.setCurrentText(label)  # comes back here through the signal
            return
        self.reload()

    def clear(self) -> None:
        """Forget every point."""
        for chart in self.charts:
            chart.clear()
        self.is_loaded = False

    def reload(self) -> None:
        """Draw the recorded past of the current range."""
        history = self.ctx.history
        self.is_loaded = False
        self._early = []
        if history is None or history.recorder.store is None or not self.key:
            return
        self.ctx.runner.spawn(self._load(self.key, self.seconds), "read the resource history")

    async def _load(self, key: str, seconds: int) -> None:
        history = self.ctx.history
        assert history is not None
        now, rows = await history.query(key, seconds, MAX_POINTS)
        if key != self.key or seconds != self.seconds:
            return
        bucket = max(1.0, seconds / MAX_POINTS, 60.0 if seconds > 3600 else 1.0)
        for chart in self.charts:
            chart.span = seconds
            chart.gap = max(5.0, 3 * math.ceil(bucket))
            for series in chart.data:
                chart.set_points(series, ((r.t, r.value(series)) for r in rows), now)
        self.is_loaded = True
        early, self._early = self._early, []
        for r in early:
            if r.t > now:
                self._append(r)
        self.status.setText(f"{len(rows)} points recorded" if rows else "Nothing recorded yet")
        self.loaded.emit()

    def _recorded(self, batch: list[tuple[str, Row]]) -> None:
        for key, row in batch:
            if key != self.key:
                continue
            if not self.is_loaded:
                self._early.append(row)
            else:
                self._append(row)

    def _append(self, row: Row) -> None:
        for chart in self.charts:
            chart.append_many({series: row.value(series) for series in chart.data}, row.t)

    def export_csv(self, dest: str = "") -> None:
        """Save the series' whole history as CSV (asks where unless ``dest`` is given)."""
        history = self.ctx.history
        if history is None or not self.key:
            return
        dest = dest or choose_export_path(
            self, "Export history", f"{self.name}-history.csv", "CSV (*.csv)"
        )
        if dest:
            self.ctx.runner.spawn(self._export(dest), f"export the history of {self.name}")

    async def _export(self, dest: str) -> None:
        history = self.ctx.history
        assert history is not None
        n = await history.export_csv(self.key, dest)
        self.status.setText(f"Exported {n} rows to {dest}")

    def save_png(self, dest: str = "") -> bool:
        """Save the four graphs as one PNG (asks where unless ``dest`` is given)."""
        dest = dest or choose_export_path(self, "Save graphs", f"{self.name}.png", "PNG (*.png)")
        if not dest:
            return False
        ok = self.graphs.grab().save(dest, "PNG")
        self.status.setText(f"Saved {dest}" if ok else f"Could not write {dest}")
        return bool(ok)
