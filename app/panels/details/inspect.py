"""Inspect tab: ``docker inspect`` as a collapsible tree, with copy."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...client import EngineClient
from ...context import AppContext
from ...widgets.jsontree import JsonTree
from .tab import DetailsTab


class InspectTab(DetailsTab):
    """The container's full configuration and state."""

    title = "Inspect"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.tree = JsonTree()
        self.note = QLabel("")
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.start)
        copy = QPushButton("Copy")
        copy.setToolTip("Copy the selected value (or everything) as JSON")
        copy.clicked.connect(self._copy)
        bar = QHBoxLayout()
        bar.addWidget(self.note, 1)
        bar.addWidget(refresh)
        bar.addWidget(copy)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)

    def reset(self) -> None:
        self.tree.clear()

    def start(self) -> None:
        client = self.ctx.client
        if client is not None and self.cid:
            self.spawn(self._load(client, self.cid), "inspect the container")

    async def _load(self, client: EngineClient, cid: str) -> None:
        self.tree.set_document(await client.containers.inspect(cid))

    def _copy(self) -> None:
        text = self.tree.copy_selected()
        self.note.setText(f"Copied {len(text)} characters")
