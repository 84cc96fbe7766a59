"""The details page of one container: a header with actions, and the tabs."""

from __future__ import annotations

import asyncio
import importlib

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from ... import format as fmt
from ...context import AppContext
from ...models import container_info as info
from .. import container_actions
from .tab import DetailsTab

# (title, module, class): a tab is imported and built the first time it is shown, so the
# terminal (pyte) or the charts (QtCharts) cost nothing until someone opens them.
TABS = [
    ("Logs", "logs", "LogsTab"),
    ("Inspect", "inspect", "InspectTab"),
    ("Stats", "stats", "StatsTab"),
    ("Exec", "exec", "ExecTab"),
    ("Files", "files", "FilesTab"),
]


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
        self._built: dict[str, DetailsTab] = {}
        self._holders: dict[str, QWidget] = {}
        for title, _mod, _cls in TABS:
            holder = QWidget()
            holder_layout = QVBoxLayout(holder)
            holder_layout.setContentsMargins(0, 0, 0, 0)
            self._holders[title] = holder
            self.tabs.addTab(holder, title)
        self.tabs.currentChanged.connect(lambda i: self.tab(TABS[i][0]))
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.meta)
        layout.addWidget(self.tabs, 1)
        self.model.dataChanged.connect(self._model_changed)
        self.model.rowsRemoved.connect(lambda *_: self._check_gone())

    def tab(self, title: str) -> DetailsTab:
        """The tab called ``title``, built on first use."""
        built = self._built.get(title)
        if built is None:
            _title, module, cls = next(t for t in TABS if t[0] == title)
            mod = importlib.import_module(f"{__package__}.{module}")
            built = getattr(mod, cls)(self.ctx)
            self._built[title] = built
            holder = self._holders[title]
            layout = holder.layout()
            assert layout is not None
            layout.addWidget(built)
            if self.cid:
                built.set_container(self.cid)
        return built

    @property
    def all_tabs(self) -> list[DetailsTab]:
        """The tabs built so far."""
        return list(self._built.values())

    # Named access for callers and tests (each builds its tab when first asked for).
    logs = property(lambda self: self.tab("Logs"))
    inspect = property(lambda self: self.tab("Inspect"))
    stats = property(lambda self: self.tab("Stats"))
    exec = property(lambda self: self.tab("Exec"))
    files = property(lambda self: self.tab("Files"))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.tab(TABS[self.tabs.currentIndex()][0])  # the visible tab must exist

    def open(self, cid: str, tab: str | None = None) -> None:
        """Show ``cid`` (on the tab titled ``tab``, else the current one)."""
        if cid != self.cid:
            for built in self.all_tabs:
                built.stop()
        self.cid = cid
        for built in self.all_tabs:
            built.set_container(cid)
        if tab is not None:
            self.tabs.setCurrentWidget(self._holders[tab])
        if self.isVisible():
            self.tab(TABS[self.tabs.currentIndex()][0])
        self.refresh_header()

    def show_tab(self, name: str) -> DetailsTab:
        """Switch to the tab titled ``name``."""
        tab = self.tab(name)
        self.tabs.setCurrentWidget(self._holders[name])
        return tab

    def refresh_header(self) -> None:
        """Name, state and actions from the model."""
        c = self.model.container(self.cid)
        if c is None:
            return
        self.name.setText(info.name(c))
        self.state.setText(info.state_text(c))
        colour = f"color: {info.state_colour(c)}; font-weight: 600;"
        # Called on every stats sample of the container: setting a style sheet, even the
        # same one, re-polishes the label and lays the header out again.
        if self.state.styleSheet() != colour:
            self.state.setStyleSheet(colour)
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
