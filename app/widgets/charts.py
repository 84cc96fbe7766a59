"""Line charts over time, drawn with QPainter. Every chart of the app goes through this module.

:class:`TimeChart` shows the last ``window`` seconds of one or more series; callers append
``(value, time)`` points or load a recorded past with :meth:`TimeChart.set_points`, and
the chart keeps at most ``max_points`` per series, so memory stays flat however long it
runs. Times are wall-clock seconds, so a recorded past and live points share one axis.
It started on QtCharts; four QtCharts graphs cost about 6 MiB of resident memory (a
QGraphicsScene each, plus the library), more than the rest of the details page
together, so the same API is now a few hundred lines of painting.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QStaticText,
)
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

PALETTE = ["#2f80ed", "#eb5757", "#27ae60", "#f2994a", "#9b51e0"]
GRID = QColor("#e4e7eb")
AXIS_TEXT = QColor("#7b8794")
HOVER = QColor("#52606d")
# Fractions of the top at which the value axis is labelled.
AXIS_TICKS = (0.0, 0.5, 1.0)
# Vertical grid steps (seconds), the first giving at most MAX_TIME_LINES lines wins.
TIME_STEPS = (10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400)
MAX_TIME_LINES = 8


def nice_ceiling(value: float) -> float:
    """The next round number (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ) at or above
    ``value``: a readable axis top that does not waste half the height."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        top = step * 10**exp
        if top >= value * (1 - 1e-12):
            return float(top)
    return float(10 ** (exp + 1))


def distinct_top(top: float, fmt: Callable[[float], str]) -> float:
    """The smallest round top at or above ``top`` whose axis labels all read differently.

    A 1 B/s scale would label its middle 0.5 B/s as "0 B/s", the same as its bottom;
    the scale grows to the next round top until every label is distinct.
    """
    for _ in range(64):
        labels = [fmt(top * f) for f in AXIS_TICKS]
        if len(set(labels)) == len(labels):
            return top
        top = nice_ceiling(top * 1.0001)
    return top


def axis_labels(top: float, fmt: Callable[[float], str]) -> list[str]:
    """The value axis labels, bottom to top."""
    return [fmt(top * f) for f in AXIS_TICKS]


def time_step(span: float) -> int:
    """Seconds between vertical grid lines for a chart showing ``span`` seconds."""
    for step in TIME_STEPS:
        if span / step <= MAX_TIME_LINES:
            return step
    return TIME_STEPS[-1]


def time_label(t: float, step: int) -> str:
    """A time axis label: seconds for short steps, the weekday for whole days."""
    lt = time.localtime(t)
    if step >= 86400:
        return time.strftime("%a %d", lt)
    if step < 60:
        return time.strftime("%H:%M:%S", lt)
    return time.strftime("%H:%M", lt)


class _Plot(QWidget):
    """The drawing area of a :class:`TimeChart`.

    Repainted once a second while a graph is live: text is laid out once per label
    (``QStaticText``) rather than shaped again on every paint, and the plot area is
    measured again only when the scale or the size changes.
    """

    def __init__(self, chart: TimeChart):
        super().__init__(chart)
        self.chart = chart
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMouseTracking(True)
        self.hover_x: float | None = None
        self._area_key: tuple[object, ...] = ()
        self._area = QRectF()
        self._texts: dict[str, QStaticText] = {}

    def sizeHint(self) -> QSize:
        return QSize(400, 160)

    def _text(self, text: str) -> QStaticText:
        """``text`` laid out once (time labels come and go: the cache stays small)."""
        st = self._texts.get(text)
        if st is None:
            if len(self._texts) > 64:
                self._texts.clear()
            st = self._texts[text] = QStaticText(text)
            st.setTextFormat(Qt.TextFormat.PlainText)
            st.prepare(font=self.font())
        return st

    def area(self) -> QRectF:
        """Where the lines go (inside the axis labels)."""
        chart = self.chart
        key = (chart.top, chart.axis_labels, chart.time_labels, self.size(), self.font().key())
        if key != self._area_key:
            fm = self.fontMetrics()
            labels = axis_labels(chart.top, chart.fmt_axis)
            widest = max(fm.horizontalAdvance(x) for x in labels)
            left = widest + 10 if chart.axis_labels else 6
            bottom = fm.height() + 4 if chart.time_labels else 6
            self._area = QRectF(left, 6, self.width() - left - 6, self.height() - 6 - bottom)
            self._area_key = key
        return QRectF(self._area)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._texts.clear()
        super().changeEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self.chart.hover_at(event.position().x())
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self.chart.hover_at(None)
        super().leaveEvent(event)

    def _line(self, data: Iterable[tuple[float, float]], area: QRectF) -> QPainterPath:
        """The path through the points of one series inside the time window.

        A level stretch becomes one segment, not a vertex per second: the picture is the
        same, and stroking hundreds of vertices was most of a paint.
        """
        chart = self.chart
        now, span, gap = chart.now, chart.span, chart.gap
        right, width, bottom, height = area.right(), area.width(), area.bottom(), area.height()
        path = QPainterPath()
        prev_t: float | None = None
        level: tuple[float, float] | None = None  # the last point of a level stretch not drawn yet
        last_y = math.nan
        for t, v in data:
            x = right - width * (now - t) / span
            y = bottom - height * min(v / chart.top, 1.0)
            # A gap in the recording (the app was not running) stays a gap.
            if prev_t is None or t - prev_t > gap:
                if level is not None:
                    path.lineTo(*level)
                path.moveTo(x, y)
                level = None
            elif y == last_y:
                level = (x, y)
            else:
                if level is not None:
                    path.lineTo(*level)
                    level = None
                path.lineTo(x, y)
            prev_t, last_y = t, y
        if level is not None:
            path.lineTo(*level)
        return path

    def paintEvent(self, event: QPaintEvent) -> None:
        chart = self.chart
        area = self.area()
        p = QPainter(self)
        p.fillRect(self.rect(), Qt.GlobalColor.white)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = p.fontMetrics()
        # Grid: four horizontal lines, labelled at the bottom, middle and top.
        rows = [area.bottom() - area.height() * i / 4 for i in range(5)]
        p.setPen(QPen(GRID, 1))
        p.drawLines([QLineF(area.left(), y, area.right(), y) for y in rows])
        if chart.axis_labels:
            p.setPen(AXIS_TEXT)
            for i in (0, 2, 4):
                text = self._text(chart.fmt_axis(chart.top * i / 4))
                size = text.size()
                at = QPointF(area.left() - 6 - size.width(), rows[i] - size.height() / 2)
                p.drawStaticText(at, text)
        # Vertical grid lines at round times, labelled below.
        now, span = chart.now, chart.span
        step = time_step(span)
        tick = float(math.ceil((now - span) / step) * step)
        lines = []
        labels = []
        while tick <= now:
            x = area.right() - area.width() * (now - tick) / span
            lines.append(QLineF(x, area.top(), x, area.bottom()))
            if chart.time_labels:
                text = self._text(time_label(tick, step))
                w = text.size().width()
                if x - w / 2 >= area.left() and x + w / 2 <= area.right():
                    labels.append((QPointF(x - w / 2, area.bottom() + 2), text))
            tick += step
        p.setPen(QPen(GRID, 1))
        p.drawLines(lines)
        p.setPen(AXIS_TEXT)
        for at, text in labels:
            p.drawStaticText(at, text)
        for key in chart.data:
            pen = QPen(QColor(chart.colours[key]))
            pen.setWidthF(1.6)
            p.setPen(pen)
            p.drawPath(self._line(chart.shown(key), area))
        if self.hover_x is not None and chart.hover_text:
            x = self.hover_x
            p.setPen(QPen(HOVER, 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            w = fm.horizontalAdvance(chart.hover_text) + 8
            box = QRectF(min(x + 6, area.right() - w), area.top() + 2, w, fm.height() + 4)
            p.fillRect(box, QColor(255, 255, 255, 230))
            p.setPen(HOVER)
            p.drawRect(box)
            p.drawText(box, int(Qt.AlignmentFlag.AlignCenter), chart.hover_text)
        p.end()


class TimeChart(QWidget):
    """A titled chart of values over the last ``window`` seconds, with a hover read-out."""

    def __init__(
        self,
        title: str,
        *,
        window: float = 60.0,
        max_points: int = 120,
        fmt: Callable[[float], str] = lambda v: f"{v:.0f}",
        minimum_top: float = 1.0,
        axis_labels: bool = True,
        time_labels: bool = False,
        axis_fmt: Callable[[float], str] | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        # Not ``window``: QWidget.window() is a Qt method.
        self.span = window
        self.max_points = max_points
        self.axis_labels = axis_labels
        self.time_labels = time_labels
        #: seconds between two points beyond which the line breaks
        self.gap = 5.0
        self._fmt = fmt
        # The header may say "1 MiB of 2 GiB"; the axis wants just "1 MiB".
        self._axis_fmt = axis_fmt or fmt
        self._minimum_top = minimum_top
        self.top = distinct_top(minimum_top, self._axis_fmt)
        self.now = time.time()
        self.hover_text = ""
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

    @property
    def title(self) -> str:
        """The chart's title."""
        return self._title.text()

    def fmt_axis(self, value: float) -> str:
        """An axis label: the value in the chart's axis format (its own format by default)."""
        return self._axis_fmt(value)

    def fmt_value(self, value: float) -> str:
        """A value in the chart's header format."""
        return self._fmt(value)

    def add_series(self, key: str, label: str = "") -> None:
        """Declare a series (colours follow the order of declaration)."""
        self.data[key] = deque(maxlen=self.max_points)
        self.names[key] = label or key
        self.colours[key] = PALETTE[len(self.colours) % len(PALETTE)]

    def set_span(self, seconds: float) -> None:
        """Show the last ``seconds``."""
        self.span = seconds
        self._update()

    def append(self, key: str, value: float, t: float | None = None) -> None:
        """Add a point (``t`` in epoch seconds; now by default)."""
        if key not in self.data:
            self.add_series(key)
        self.now = time.time() if t is None else t
        self.data[key].append((self.now, float(value)))
        self._update()

    def append_many(self, values: Mapping[str, float], t: float | None = None) -> None:
        """Add one point to each of several series at once (one rescale, one repaint)."""
        self.now = time.time() if t is None else t
        for key, value in values.items():
            if key not in self.data:
                self.add_series(key)
            self.data[key].append((self.now, float(value)))
        self._update()

    def set_points(self, key: str, points: Iterable[tuple[float, float]], now: float) -> None:
        """Replace the points of ``key`` (a recorded past), the newest ``max_points`` kept."""
        if key not in self.data:
            self.add_series(key)
        self.data[key].clear()
        self.data[key].extend((float(t), float(v)) for t, v in points)
        self.now = now
        self._update()

    def shown(self, key: str) -> list[tuple[float, float]]:
        """The points of ``key`` inside the time window, oldest first.

        Points arrive in time order, so the scan starts at the newest and stops at the
        first one out of the window: after an hour of live points a 5 min graph no
        longer walks through the 4000 it keeps on every second.
        """
        out = []
        for t, v in reversed(self.data.get(key, ())):
            if self.now - t > self.span:
                break
            out.append((t, v))
        out.reverse()
        return out

    def points(self, key: str) -> list[tuple[float, float]]:
        """The points currently kept for ``key``."""
        return list(self.data.get(key, ()))

    def clear(self) -> None:
        """Forget every point."""
        for data in self.data.values():
            data.clear()
        self._value.setText("")
        self.hover_text = ""
        self.plot.update()

    def hover_at(self, x: float | None) -> str:
        """Show the values nearest to the plot's x coordinate ``x`` (None: hide)."""
        self.plot.hover_x = x
        self.hover_text = ""
        if x is not None:
            area = self.plot.area()
            if area.width() > 0:
                t = self.now - self.span * (area.right() - x) / area.width()
                self.hover_text = self.read_out(t)
        self.plot.update()
        return self.hover_text

    def read_out(self, t: float) -> str:
        """``12:03:04  In 1 kB/s  Out 0 B/s``: the points nearest to time ``t``."""
        parts = []
        when = None
        for key, data in self.data.items():
            if not data:
                continue
            times = [pt for pt, _v in data]
            i = bisect.bisect_left(times, t)
            near = min(
                (j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - t)
            )
            if abs(times[near] - t) > max(self.gap, self.span / 100):
                continue
            when = times[near] if when is None else when
            value = self._fmt(data[near][1])
            parts.append(f"{self.names[key]} {value}" if len(self.data) > 1 else value)
        if when is None:
            return ""
        stamp = time.strftime("%a %H:%M" if self.span > 86400 else "%H:%M:%S", time.localtime(when))
        return "  ".join([stamp, *parts])

    def save_png(self, path: str) -> bool:
        """Write the chart, title and all, as a PNG image."""
        return self.grab().save(path, "PNG")

    def _update(self) -> None:
        highest = 0.0
        parts = []
        for key, data in self.data.items():
            recent = self.shown(key)
            if recent:
                highest = max(highest, max(v for _t, v in recent))
            if data:
                label = self._fmt(data[-1][1])
                parts.append(f"{self.names[key]} {label}" if len(self.data) > 1 else label)
        # Percentages keep their 0–100 scale until a value exceeds it (several CPUs).
        top = self._minimum_top if highest <= self._minimum_top else nice_ceiling(highest * 1.1)
        self.top = distinct_top(top, self._axis_fmt)
        self._value.setText("   ".join(parts))
        self.plot.update()
