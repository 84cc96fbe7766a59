"""Live line charts, drawn with QPainter. Every chart of the app goes through this module.

:class:`TimeChart` shows the last ``window`` seconds of one or more series; callers append
``(value, time)`` points and the chart keeps at most ``max_points`` per series, so memory
stays flat however long it runs. It started on QtCharts; four QtCharts graphs cost about
6 MiB of resident memory (a QGraphicsScene each, plus the library), more than the rest of
the details page together, so the same API is now a few dozen lines of painting.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

PALETTE = ["#2f80ed", "#eb5757", "#27ae60", "#f2994a", "#9b51e0"]
GRID = QColor("#e4e7eb")
AXIS_TEXT = QColor("#7b8794")


def nice_ceiling(value: float) -> float:
    """The next round number (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ) at or above
    ``value``: a readable axis top that does not waste half the height."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        top = step * 10**exp
        if top >= value:
            return float(top)
    return float(10 ** (exp + 1))


class _Plot(QWidget):
    """The drawing area of a :class:`TimeChart`."""

    def __init__(self, chart: TimeChart):
        super().__init__(chart)
        self.chart = chart
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return QSize(400, 160)

    def paintEvent(self, event: QPaintEvent) -> None:
        chart = self.chart
        p = QPainter(self)
        p.fillRect(self.rect(), Qt.GlobalColor.white)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = p.fontMetrics()
        left = fm.horizontalAdvance(chart.fmt_axis(chart.top)) + 10 if chart.axis_labels else 6
        area = QRectF(left, 6, self.width() - left - 6, self.height() - 12)
        # Grid: four horizontal lines with their values, vertical lines every 10 s.
        p.setPen(QPen(GRID, 1))
        for i in range(5):
            y = area.bottom() - area.height() * i / 4
            p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            if chart.axis_labels and i in (0, 2, 4):
                p.setPen(AXIS_TEXT)
                text = chart.fmt_axis(chart.top * i / 4)
                p.drawText(
                    QRectF(0, y - fm.height() / 2, left - 6, fm.height()),
                    int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                    text,
                )
                p.setPen(QPen(GRID, 1))
        steps = int(chart.span // 10)
        for i in range(1, steps):
            x = area.left() + area.width() * i / steps
            p.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
        now = chart.now
        for key, data in chart.data.items():
            pts = [(t, v) for t, v in data if now - t <= chart.span]
            if not pts:
                continue
            path = QPainterPath()
            for i, (t, v) in enumerate(pts):
                x = area.right() - area.width() * (now - t) / chart.span
                y = area.bottom() - area.height() * min(v / chart.top, 1.0)
                if i == 0:
                    path.moveTo(x, y)
                else:
                    path.lineTo(x, y)
            pen = QPen(QColor(chart.colours[key]))
            pen.setWidthF(1.6)
            p.setPen(pen)
            p.drawPath(path)
        p.end()


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
        axis_fmt: Callable[[float], str] | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        # Not ``window``: QWidget.window() is a Qt method.
        self.span = window
        self.max_points = max_points
        self.axis_labels = axis_labels
        self._fmt = fmt
        # The header may say "1 MiB of 2 GiB"; the axis wants just "1 MiB".
        self._axis_fmt = axis_fmt or fmt
        self._minimum_top = minimum_top
        self.top = minimum_top
        self.now = time.monotonic()
        self.data: dict[str, deque[tuple[float, float]]] = {}
        self.names: dict[str, str] = {}
        self.colours: dict[str, str] = {}
        self._title = QLabel(title)
        self._title.setObjectName("chartTitle")
        self._value = QLabel("")
        self._value.setObjectName("chartValue")
        head = QHBoxLayout()
        head.setContentsMargins(4, 0, 4, 0)
        head.addWidget(self._title)
        head.addStretch(1)
        head.addWidget(self._value)
        self.plot = _Plot(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(self.plot, 1)

    def fmt_axis(self, value: float) -> str:
        """An axis label: the value in the chart's axis format (its own format by default)."""
        return self._axis_fmt(value)

    def add_series(self, key: str, label: str = "") -> None:
        """Declare a series (colours follow the order of declaration)."""
        self.data[key] = deque(maxlen=self.max_points)
        self.names[key] = label or key
        self.colours[key] = PALETTE[len(self.colours) % len(PALETTE)]

    def append(self, key: str, value: float, t: float | None = None) -> None:
        """Add a point (``t`` in ``time.monotonic()`` seconds; now by default)."""
        if key not in self.data:
            self.add_series(key)
        self.now = time.monotonic() if t is None else t
        self.data[key].append((self.now, float(value)))
        self._update()

    def points(self, key: str) -> list[tuple[float, float]]:
        """The points currently kept for ``key``."""
        return list(self.data.get(key, ()))

    def clear(self) -> None:
        """Forget every point."""
        for data in self.data.values():
            data.clear()
        self._value.setText("")
        self.plot.update()

    def _update(self) -> None:
        highest = 0.0
        parts = []
        for key, data in self.data.items():
            recent = [v for t, v in data if self.now - t <= self.span]
            if recent:
                highest = max(highest, max(recent))
                label = self._fmt(data[-1][1])
                parts.append(f"{self.names[key]} {label}" if len(self.data) > 1 else label)
        # Percentages keep their 0–100 scale until a value exceeds it (several CPUs).
        if highest <= self._minimum_top:
            self.top = self._minimum_top
        else:
            self.top = nice_ceiling(highest * 1.1)
        self._value.setText("   ".join(parts))
        self.plot.update()
