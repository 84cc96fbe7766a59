"""The page shown instead of a panel while no engine is connected."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ..connection import CONNECTING, STARTING, UNAVAILABLE
from ..machine import CREATE


class OfflinePage(QWidget):
    """Connecting / starting the engine (with progress) / unavailable (with what to do,
    including the offer to start Portside Machine where the engine cannot run here)."""

    retry_clicked = Signal()
    settings_clicked = Signal()
    machine_clicked = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("Connecting…")
        self.title.setObjectName("offlineTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel("")
        self.detail.setObjectName("offlineDetail")
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: we cannot know how long the engine takes
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(360)
        self.retry = QPushButton("Retry")
        self.retry.clicked.connect(self.retry_clicked)
        self.settings = QPushButton("Connection settings…")
        self.settings.clicked.connect(self.settings_clicked)
        self.machine = QPushButton("Start Portside Machine")
        self.machine.setVisible(False)
        self.machine.clicked.connect(self.machine_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.machine)
        buttons.addWidget(self.retry)
        buttons.addWidget(self.settings)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.title)
        layout.addWidget(self.progress, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        layout.addStretch(3)

    def show_state(self, state: str, detail: str, machine_offer: str = "") -> None:
        """Reflect a connection state (``machine_offer``: "create"/"start" when the app
        offers Portside Machine)."""
        titles = {
            CONNECTING: "Connecting to the engine…",
            STARTING: "Starting Portside's engine…",
            UNAVAILABLE: "No engine is available",
        }
        self.title.setText(titles.get(state, state))
        self.detail.setText(detail)
        busy = state in (CONNECTING, STARTING)
        self.progress.setVisible(busy)
        self.retry.setVisible(state == UNAVAILABLE)
        offered = state == UNAVAILABLE and bool(machine_offer)
        self.machine.setVisible(offered)
        self.machine.setText(
            "Create and start Portside Machine"
            if machine_offer == CREATE
            else "Start Portside Machine"
        )
