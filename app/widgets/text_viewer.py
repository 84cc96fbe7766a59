"""A read-only window showing a text file from a container."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from .. import format as fmt


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 KiB: not text worth showing."""
    return b"\0" in data[:8192]


class TextViewer(QDialog):
    """The text of ``path`` (read-only); says so when only the start was read."""

    def __init__(self, path: str, data: bytes, size: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(path)
        self.resize(760, 560)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.note = QLabel("")
        self.note.setObjectName("muted")
        if looks_binary(data):
            self.note.setText(f"{path} is a binary file ({fmt.size(size)}): download it instead.")
        else:
            self.text.setPlainText(data.decode("utf-8", "replace"))
            if size > len(data):
                self.note.setText(f"Showing the first {fmt.size(len(data))} of {fmt.size(size)}.")
            else:
                self.note.setText(f"{fmt.size(size)}, read-only.")
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.note)
