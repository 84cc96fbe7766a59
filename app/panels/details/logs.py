"""Logs tab: follows the container's output with timestamps, search and colours."""

from __future__ import annotations

import contextlib

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ...client import EngineClient
from ...context import AppContext
from ...widgets.logview import LogView
from .tab import DetailsTab

TAIL = 1000  # lines of history loaded before following


class LogsTab(DetailsTab):
    """``docker logs -f`` in a window."""

    title = "Logs"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.view = LogView()
        self.follow = QCheckBox("Follow")
        self.follow.setChecked(True)
        self.follow.toggled.connect(self._follow_toggled)
        self.timestamps = QCheckBox("Timestamps")
        self.timestamps.toggled.connect(self._timestamps_toggled)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search logs")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(lambda: self.view.find_text(self.search.text()))
        self.search.textChanged.connect(self.view.find_text)
        prev_b = QPushButton("↑")
        prev_b.setToolTip("Previous match")
        prev_b.clicked.connect(lambda: self.view.find_text(self.search.text(), backward=True))
        next_b = QPushButton("↓")
        next_b.setToolTip("Next match")
        next_b.clicked.connect(lambda: self.view.find_text(self.search.text()))
        clear = QPushButton("Clear")
        clear.clicked.connect(self.view.clear_log)
        bar = QHBoxLayout()
        bar.addWidget(self.follow)
        bar.addWidget(self.timestamps)
        bar.addStretch(1)
        bar.addWidget(self.search, 2)
        bar.addWidget(prev_b)
        bar.addWidget(next_b)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)

    def reset(self) -> None:
        self.view.clear_log()

    def start(self) -> None:
        client = self.ctx.client
        if client is not None and self.cid:
            self.view.clear_log()
            self.spawn(self._follow(client, self.cid), "read the container's logs")

    async def _follow(self, client: EngineClient, cid: str) -> None:
        # Timestamps are always asked for; the view decides whether to show them.
        stream = client.containers.logs(cid, follow=True, timestamps=True, tail=TAIL)
        async with contextlib.aclosing(stream) as lines:
            async for line in lines:
                self.view.add(line)
        self.view.flush()

    def _follow_toggled(self, on: bool) -> None:
        self.view.follow = on
        if on:
            self.view.verticalScrollBar().setValue(self.view.verticalScrollBar().maximum())

    def _timestamps_toggled(self, on: bool) -> None:
        self.view.show_timestamps = on
        if self.isVisible():
            self.stop()
            self._start()
