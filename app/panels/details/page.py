"""The details page of one container: a header with actions, and the tabs."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from ... import format as fmt
from ...context import AppContext
from ...models import container_info as info
from .. import container_actions
from .exec import ExecTab
from .files import FilesTab
from .inspect import InspectTab
from .logs import LogsTab
from .stats import StatsTab
from .tab import DetailsTab


class ContainerDetails(QWidget):
    """Header (name, state, image, actions) over Logs / Inspect / Stats / Exec / Files."""

    back_requested = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.cid = ""
        self.model = ctx.feeds.containers.model
        back = QPushButton("← Containers")
        back.setFlat(True)
        back.clicked.connect(self.back_requested)
        self.name = QLabel("")
        self.name.setObjectName("heading")
        self.state = QLabel("")
        self.meta = QLabel("")
        self.meta.setObjectName("key")
        self.buttons: dict[str, QPushButton] = {}
        head = QHBoxLayout()
        head.addWidget(back)
        head.addWidget(self.name)
        head.addWidget(self.state)
        head.addStretch(1)
        for key in ("start", "stop", "restart", "pause", "unpause", "delete"):
            action = container_actions.BY_KEY[key]
            b = QPushButton(action.label)
            b.setObjectName(f"details_{key}")
            b.clicked.connect(lambda _=False, k=key: self._action(k))
            self.buttons[key] = b
            head.addWidget(b)
        self.tabs = QTabWidget()
        self.logs = LogsTab(ctx)
        self.inspect = InspectTab(ctx)
        self.stats = StatsTab(ctx)
        self.exec = ExecTab(ctx)
        self.files = FilesTab(ctx)
        for tab in self.all_tabs:
            self.tabs.addTab(tab, tab.title)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.meta)
        layout.addWidget(self.tabs, 1)
        self.model.dataChanged.connect(self._model_changed)
        self.model.rowsRemoved.connect(lambda *_: self._check_gone())

    @property
    def all_tabs(self) -> list[DetailsTab]:
        """Every tab, in order."""
        return [self.logs, self.inspect, self.stats, self.exec, self.files]

    def open(self, cid: str) -> None:
        """Show ``cid``."""
        if cid != self.cid:
            for tab in self.all_tabs:
                tab.stop()
        self.cid = cid
        for tab in self.all_tabs:
            tab.set_container(cid)
        self.refresh_header()

    def show_tab(self, name: str) -> DetailsTab:
        """Switch to the tab titled ``name``."""
        tab = next(t for t in self.all_tabs if t.title == name)
        self.tabs.setCurrentWidget(tab)
        return tab

    def refresh_header(self) -> None:
        """Name, state and actions from the model."""
        c = self.model.container(self.cid)
        if c is None:
            return
        self.name.setText(info.name(c))
        self.state.setText(info.state_text(c))
        self.state.setStyleSheet(f"color: {info.state_colour(c)}; font-weight: 600;")
        ports = ", ".join(t for t, _ in info.port_links(c))
        parts = [info.image(c), self.cid[:12], f"created {fmt.ago(c.get('Created'))}"]
        if ports:
            parts.append(f"ports {ports}")
        if info.project(c):
            parts.append(f"project {info.project(c)}")
        self.meta.setText("  ·  ".join(parts))
        st = [info.state(c)]
        for key, b in self.buttons.items():
            b.setEnabled(container_actions.applicable(container_actions.BY_KEY[key], st))

    def _model_changed(self, top_left: QModelIndex, *_: object) -> None:
        if self.cid and top_left.internalPointer() is not None:
            if getattr(top_left.internalPointer(), "key", "") == self.cid:
                self.refresh_header()

    def _check_gone(self) -> None:
        if self.cid and self.model.container(self.cid) is None and self.isVisible():
            self.back_requested.emit()

    def _action(self, key: str) -> None:
        c = self.model.container(self.cid) or {"Id": self.cid}
        container_actions.run(
            self.ctx, key, [(self.cid, info.name(c))], self, {self.cid: info.state(c)}
        )

    def close_container(self) -> None:
        """Stop every tab's streams (the page is left)."""
        for tab in self.all_tabs:
            tab.stop()

    async def shutdown(self) -> None:
        """Stop and wait for every tab."""
        await asyncio.gather(*(tab.shutdown() for tab in self.all_tabs))
