"""A log view: ANSI colours, timestamps, search, auto-follow and bounded memory."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QFont, QFontDatabase, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from ..client import LogLine
from . import ansi

MAX_LINES = 5000
FLUSH_MS = 80


class LogView(QPlainTextEdit):
    """Lines are queued and painted in batches; only the last ``max_lines`` are kept."""

    def __init__(self, max_lines: int = MAX_LINES, parent: QWidget | None = None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setMaximumBlockCount(max_lines)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setUndoRedoEnabled(False)
        self.follow = True
        self.show_timestamps = False
        self._queue: list[LogLine] = []
        self._styles: dict[str, ansi.Style] = {}
        self._formats: dict[tuple[ansi.Style, str], QTextCharFormat] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        self.lines_received = 0

    def add(self, line: LogLine) -> None:
        """Queue one line (painted within ``FLUSH_MS``)."""
        self._queue.append(line)
        self.lines_received += 1
        if not self._timer.isActive():
            self._timer.start()

    def clear_log(self) -> None:
        """Forget every line."""
        self._queue.clear()
        self._styles.clear()
        self.clear()

    def _format(self, style: ansi.Style, stream: str) -> QTextCharFormat:
        key = (style, stream)
        fmt = self._formats.get(key)
        if fmt is None:
            fmt = QTextCharFormat()
            fg = style.fg or ("#c0392b" if stream == "stderr" else None)
            if fg:
                fmt.setForeground(QColor(fg))
            if style.bg:
                fmt.setBackground(QColor(style.bg))
            if style.bold:
                fmt.setFontWeight(QFont.Weight.Bold)
            fmt.setFontItalic(style.italic)
            fmt.setFontUnderline(style.underline)
            self._formats[key] = fmt
        return fmt

    def flush(self) -> None:
        """Paint the queued lines."""
        if not self._queue:
            return
        lines, self._queue = self._queue, []
        bar = self.verticalScrollBar()
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        stamp_fmt = QTextCharFormat()
        stamp_fmt.setForeground(QColor("#7b8794"))
        first = self.document().isEmpty()
        for line in lines:
            if not first:
                cursor.insertBlock()
            first = False
            if self.show_timestamps and line.timestamp:
                cursor.insertText(line.timestamp[:23].replace("T", " ") + "  ", stamp_fmt)
            runs, self._styles[line.stream] = ansi.segments(
                line.text, self._styles.get(line.stream, ansi.PLAIN)
            )
            for text, style in runs:
                cursor.insertText(text, self._format(style, line.stream))
        cursor.endEditBlock()
        if self.follow:
            bar.setValue(bar.maximum())

    def text_lines(self) -> list[str]:
        """Every line kept, as plain text (tests, copy)."""
        self.flush()
        return self.toPlainText().split("\n") if not self.document().isEmpty() else []

    def find_text(self, text: str, backward: bool = False) -> bool:
        """Move to the next (or previous) occurrence and highlight every occurrence."""
        self._highlight(text)
        if not text:
            return False
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        if self.find(text, flags):
            return True
        # Wrap around once.
        cursor = self.textCursor()
        cursor.movePosition(
            QTextCursor.MoveOperation.End if backward else QTextCursor.MoveOperation.Start
        )
        self.setTextCursor(cursor)
        return self.find(text, flags)

    def _highlight(self, text: str, limit: int = 500) -> None:
        selections: list[QTextEdit.ExtraSelection] = []
        if text:
            fmt = QTextCharFormat()
            fmt.setBackground(QColor("#ffe58f"))
            cursor = self.document().find(text)
            while not cursor.isNull() and len(selections) < limit:
                sel = QTextEdit.ExtraSelection()
                sel.cursor = cursor
                sel.format = fmt
                selections.append(sel)
                cursor = self.document().find(text, cursor)
        self.setExtraSelections(selections)
