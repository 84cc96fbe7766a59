"""Live line charts. QtCharts is used only here, so it can be swapped in one place.

:class:`TimeChart` shows the last ``window`` seconds of one or more series. Callers
append ``(timestamp, value)`` points; the chart keeps at most ``max_points`` per series
so memory stays flat however long it runs.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QMargins, QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

PALETTE = ["#2f80ed", "#eb5757", "#27ae60", "#f2994a", "#9b51e0"]


def nice_ceiling(value: float) -> float:
    """The next 1, 2 or 5 × 10ⁿ at or above ``value`` (a readable axis top)."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top = step * 10**exp
        if top >= value:
            return float(top)
    return float(10 ** (exp + 1))


class TimeChart(QWidget):
    """A titled chart of values over the last ``window`` seconds."""

    def __init__(
        self,
        title: str,
        *,
        window: float = 60.0,
        max_points: int = 120,
        fmt: Callable[[float], str] = lambda v: f"{v:.0f}",
        minimum_top: float = 1.0,
        axis_labels: bool = True,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.window = window
        self.max_points = max_points
        self._fmt = fmt
        self._minimum_top = minimum_top
        self._data: dict[str, deque[tuple[float, float]]] = {}
        self._series: dict[str, QLineSeries] = {}
        self._t0 = time.monotonic()

        self._title = QLabel(title)
        self._title.setObjectName("chartTitle")
        self._value = QLabel("")
        self._value.setObjectName("chartValue")
        chart = QChart()
        chart.legend().setVisible(False)
        chart.setMargins(QMargins(0, 0, 0, 0))
        chart.setBackgroundRoundness(0)
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self._x = QValueAxis()
        self._x.setRange(-window, 0)
        self._x.setLabelsVisible(False)
        self._x.setTickCount(7)
        self._y = QValueAxis()
        self._y.setRange(0, minimum_top)
        self._y.setTickCount(3)
        self._y.setLabelFormat("%.0f")
        self._y.setLabelsVisible(axis_labels)
        chart.addAxis(self._x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self._y, Qt.AlignmentFlag.AlignLeft)
        self._chart = chart
        view = QChartView(chart)
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        view.setMinimumHeight(120)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        head = QWidget()
        hl = QHBoxLayout(head)
        hl.setContentsMargins(4, 0, 4, 0)
        hl.addWidget(self._title)
        hl.addStretch(1)
        hl.addWidget(self._value)
        layout.addWidget(head)
        layout.addWidget(view, 1)

    def add_series(self, key: str, label: str = "") -> None:
        """Declare a series (colours follow the order of declaration)."""
        series = QLineSeries()
        series.setName(label or key)
        pen = QPen(QColor(PALETTE[len(self._series) % len(PALETTE)]))
        pen.setWidthF(1.6)
        series.setPen(pen)
        self._chart.addSeries(series)
        series.attachAxis(self._x)
        series.attachAxis(self._y)
        self._series[key] = series
        self._data[key] = deque(maxlen=self.max_points)

    def append(self, key: str, value: float, t: float | None = None) -> None:
        """Add a point (``t`` in ``time.monotonic()`` seconds; now by default)."""
        if key not in self._series:
            self.add_series(key)
        now = time.monotonic() if t is None else t
        self._data[key].append((now, float(value)))
        self._redraw(now)

    def points(self, key: str) -> list[tuple[float, float]]:
        """The points currently kept for ``key``."""
        return list(self._data.get(key, ()))

    def clear(self) -> None:
        """Forget every point."""
        for key, data in self._data.items():
            data.clear()
            self._series[key].clear()
        self._value.setText("")

    def _redraw(self, now: float) -> None:
        top = 0.0
        parts = []
        for key, data in self._data.items():
            pts = [QPointF(t - now, v) for t, v in data if now - t <= self.window]
            self._series[key].replace(pts)
            if pts:
                top = max(top, max(p.y() for p in pts))
                name = self._series[key].name()
                label = self._fmt(data[-1][1])
                parts.append(f"{name} {label}" if len(self._data) > 1 else label)
        # Percentages keep their 0–100 scale until a value exceeds it (several CPUs).
        limit = self._minimum_top if top <= self._minimum_top else nice_ceiling(top * 1.1)
        self._y.setRange(0, limit)
        self._value.setText("   ".join(parts))
