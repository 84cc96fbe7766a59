"""Pull progress: a bar per layer and a total, with cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import format as fmt
from ..client import PullProgress


def _bar(height: int = 10) -> QProgressBar:
    bar = QProgressBar()
    bar.setRange(0, 1000)
    bar.setTextVisible(False)
    bar.setMaximumHeight(height)
    return bar


class PullProgressView(QFrame):
    """One pull: ``ref``, total bar, and one row per layer."""

    cancel_requested = Signal()
    dismissed = Signal()

    def __init__(self, ref: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.ref = ref
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(f"Pulling {ref}")
        self.title.setObjectName("pullTitle")
        self.total = _bar(14)
        self.status = QLabel("Waiting for the registry…")
        self.status.setObjectName("key")
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_requested)
        self.close_button = QPushButton("×")
        self.close_button.setFlat(True)
        self.close_button.setVisible(False)
        self.close_button.clicked.connect(self.dismissed)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.total, 1)
        head.addWidget(self.cancel)
        head.addWidget(self.close_button)
        self._layers = QGridLayout()
        self._layers.setHorizontalSpacing(8)
        self._layers.setVerticalSpacing(2)
        self.layer_bars: dict[str, tuple[QLabel, QProgressBar, QLabel]] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(head)
        layout.addWidget(self.status)
        layout.addLayout(self._layers)
        self.fraction = 0.0

    def update_progress(self, progress: PullProgress) -> None:
        """Reflect the folded progress."""
        for lid, layer in progress.layers.items():
            row = self.layer_bars.get(lid)
            if row is None:
                n = len(self.layer_bars)
                row = (QLabel(lid[:12]), _bar(), QLabel(""))
                row[0].setObjectName("key")
                for col, w in enumerate(row):
                    self._layers.addWidget(w, n, col)
                self.layer_bars[lid] = row
            _name, bar, text = row
            bar.setValue(int(layer.fraction * 1000))
            detail = layer.status
            if layer.total and not layer.complete:
                detail += f" {fmt.size(layer.current)} / {fmt.size(layer.total)}"
            text.setText(detail)
        self.fraction = progress.fraction
        self.total.setValue(int(self.fraction * 1000))
        if progress.status:
            self.status.setText(progress.status)

    def finish(self, ok: bool, message: str) -> None:
        """The pull ended (``ok``) or failed/was cancelled."""
        self.cancel.setVisible(False)
        self.close_button.setVisible(True)
        if ok:
            self.total.setValue(1000)
            self.fraction = 1.0
        self.title.setText(("Pulled " if ok else "Did not pull ") + self.ref)
        self.status.setText(message)
        colour = "#1e9e4a" if ok else "#d63031"
        self.status.setStyleSheet(f"color: {colour};")
