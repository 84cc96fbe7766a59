"""A terminal emulator widget: pyte keeps the screen, Qt paints it and reads the keyboard.

The widget knows nothing of containers: output bytes go in with :meth:`feed`, typed
keys come out of the ``key_bytes`` signal, and ``resized(rows, cols)`` tells the other
end the new window size.
"""

from __future__ import annotations

import pyte
from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import QWidget

BACKGROUND = QColor("#1e1e1e")
FOREGROUND = QColor("#d4d4d4")
NAMED = {
    "black": "#000000", "red": "#cd3131", "green": "#0dbc79", "brown": "#e5e510",
    "yellow": "#e5e510", "blue": "#2472c8", "magenta": "#bc3fbc", "cyan": "#11a8cd",
    "white": "#e5e5e5", "brightblack": "#666666", "brightred": "#f14c4c",
    "brightgreen": "#23d18b", "brightyellow": "#f5f543", "brightblue": "#3b8eea",
    "brightmagenta": "#d670d6", "brightcyan": "#29b8db", "brightwhite": "#ffffff",
}  # fmt: skip

KEYS = {
    Qt.Key.Key_Return: b"\r",
    Qt.Key.Key_Enter: b"\r",
    Qt.Key.Key_Backspace: b"\x7f",
    Qt.Key.Key_Tab: b"\t",
    Qt.Key.Key_Escape: b"\x1b",
    Qt.Key.Key_Up: b"\x1b[A",
    Qt.Key.Key_Down: b"\x1b[B",
    Qt.Key.Key_Right: b"\x1b[C",
    Qt.Key.Key_Left: b"\x1b[D",
    Qt.Key.Key_Home: b"\x1b[H",
    Qt.Key.Key_End: b"\x1b[F",
    Qt.Key.Key_Delete: b"\x1b[3~",
    Qt.Key.Key_PageUp: b"\x1b[5~",
    Qt.Key.Key_PageDown: b"\x1b[6~",
}


def _colour(name: str, default: QColor) -> QColor:
    if name == "default":
        return default
    if name in NAMED:
        return QColor(NAMED[name])
    if len(name) == 6:
        return QColor(f"#{name}")
    return default


def key_to_bytes(event: QKeyEvent) -> bytes:
    """What a terminal sends for a key press."""
    key = Qt.Key(event.key())
    mods = event.modifiers()
    if key in KEYS:
        return KEYS[key]
    if mods & Qt.KeyboardModifier.ControlModifier and Qt.Key.Key_A <= key <= Qt.Key.Key_Z:
        return bytes([key - Qt.Key.Key_A + 1])
    text = event.text()
    return text.encode() if text else b""


class TerminalWidget(QWidget):
    """A fixed-font character grid driven by a pyte screen."""

    key_bytes = Signal(bytes)
    resized = Signal(int, int)

    def __init__(self, rows: int = 24, cols: int = 80, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        fm = QFontMetrics(font)
        self._cw = max(fm.horizontalAdvance("M"), 1)
        self._ch = max(fm.height(), 1)
        self._ascent = fm.ascent()
        # Not ``screen``: QWidget.screen() is a Qt method.
        self.vt = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.vt)
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(100)
        self._resize_timer.timeout.connect(self._apply_size)

    @property
    def size_chars(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self.vt.lines, self.vt.columns

    def sizeHint(self) -> QSize:
        return QSize(self._cw * 80 + 8, self._ch * 24 + 8)

    def feed(self, data: bytes) -> None:
        """Output from the process."""
        self.stream.feed(data)
        self.update()

    def text(self) -> str:
        """The screen as text (trailing spaces removed)."""
        return "\n".join(line.rstrip() for line in self.vt.display)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        data = key_to_bytes(event)
        if data:
            self.key_bytes.emit(data)
        else:
            super().keyPressEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab belongs to the shell, not to focus navigation

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._resize_timer.start()

    def _apply_size(self) -> None:
        cols = max((self.width() - 8) // self._cw, 10)
        rows = max((self.height() - 8) // self._ch, 3)
        if (rows, cols) != self.size_chars:
            self.vt.resize(rows, cols)
            self.resized.emit(rows, cols)
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        p.setFont(self.font())
        buffer = self.vt.buffer
        for y in range(self.vt.lines):
            row = buffer[y]
            top = 4 + y * self._ch
            x = 0
            while x < self.vt.columns:
                char = row[x]
                # Paint runs of same-styled characters at once.
                run = [char.data]
                end = x + 1
                while end < self.vt.columns:
                    nxt = row[end]
                    if (nxt.fg, nxt.bg, nxt.bold, nxt.reverse) != (
                        char.fg,
                        char.bg,
                        char.bold,
                        char.reverse,
                    ):
                        break
                    run.append(nxt.data)
                    end += 1
                fg = _colour(char.fg, FOREGROUND)
                bg = _colour(char.bg, BACKGROUND)
                if char.reverse:
                    fg, bg = bg, fg
                rect = QRect(4 + x * self._cw, top, (end - x) * self._cw, self._ch)
                if bg != BACKGROUND:
                    p.fillRect(rect, bg)
                text = "".join(run)
                if text.strip():
                    f = self.font()
                    f.setBold(char.bold)
                    p.setFont(f)
                    p.setPen(fg)
                    p.drawText(rect.x(), top + self._ascent, text)
                x = end
        if not self.vt.cursor.hidden:
            c = self.vt.cursor
            rect = QRect(4 + c.x * self._cw, 4 + c.y * self._ch, self._cw, self._ch)
            colour = QColor(FOREGROUND)
            colour.setAlpha(160 if self.hasFocus() else 70)
            p.fillRect(rect, colour)
        p.end()
