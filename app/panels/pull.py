"""The pull box: type or click an image, watch per-layer progress, cancel."""

from __future__ import annotations

import asyncio
import contextlib

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ..client import EngineClient, PullProgress
from ..client.images import split_reference
from ..context import AppContext
from ..errors import describe
from ..widgets.progress import PullProgressView

SUGGESTED = ["busybox", "nginx", "redis", "postgres", "python", "node", "ubuntu", "alpine"]
DISMISS_AFTER_MS = 8000


def normalise(ref: str) -> str:
    """``nginx`` → ``nginx:latest`` (what will be pulled, spelled out)."""
    ref = ref.strip()
    name, tag = split_reference(ref)
    return ref if tag else f"{name}:latest"


class PullBox(QWidget):
    """Input, suggestion buttons, and a progress view per pull in flight."""

    pulled = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.input = QLineEdit()
        self.input.setPlaceholderText("Image to pull, e.g. nginx:1.27 or registry:5000/team/app")
        self.input.returnPressed.connect(lambda: self.pull(self.input.text()))
        go = QPushButton("Pull")
        go.setObjectName("primary")
        go.clicked.connect(lambda: self.pull(self.input.text()))
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(go)
        chips = QHBoxLayout()
        chips.addWidget(QLabel("Suggested:"))
        self.suggestions: dict[str, QPushButton] = {}
        for name in SUGGESTED:
            b = QPushButton(name)
            b.setObjectName(f"suggest_{name}")
            b.setFlat(True)
            b.setStyleSheet("QPushButton { color: #2f80ed; padding: 2px 6px; }")
            b.clicked.connect(lambda _=False, n=name: self.pull(n))
            self.suggestions[name] = b
            chips.addWidget(b)
        chips.addStretch(1)
        self.views = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addLayout(chips)
        layout.addLayout(self.views)
        self.active: dict[str, tuple[PullProgressView, asyncio.Task[None]]] = {}
        self.finished: dict[str, PullProgressView] = {}

    def pull(self, ref: str) -> asyncio.Task[None] | None:
        """Start pulling ``ref`` (one click = one pull; a second click on the same ref waits)."""
        client = self.ctx.client
        if not ref.strip() or client is None:
            return None
        ref = normalise(ref)
        if ref in self.active:
            return self.active[ref][1]
        old = self.finished.pop(ref, None)
        if old is not None:
            old.deleteLater()
        view = PullProgressView(ref)
        self.views.addWidget(view)
        task = self.ctx.runner.spawn(self._pull(client, ref, view), f"pull {ref}", busy=True)
        view.cancel_requested.connect(task.cancel)
        view.dismissed.connect(lambda: self._dismiss(ref))
        self.active[ref] = (view, task)
        task.add_done_callback(lambda t: self._done(ref, t))
        return task

    async def _pull(self, client: EngineClient, ref: str, view: PullProgressView) -> None:
        progress = PullProgress()
        async with contextlib.aclosing(client.images.pull(ref)) as messages:
            async for msg in messages:
                progress.feed(msg)
                view.update_progress(progress)

    def _done(self, ref: str, task: asyncio.Task[None]) -> None:
        view, _ = self.active.pop(ref)
        if task.cancelled():
            view.finish(False, "Cancelled.")
        elif task.exception() is not None:
            view.finish(False, describe(task.exception()))  # type: ignore[arg-type]
        else:
            view.finish(True, "Done.")
            self.pulled.emit(ref)
            # With ``self`` as context the timer dies with the box (app closing).
            QTimer.singleShot(DISMISS_AFTER_MS, self, lambda: self._dismiss(ref))
        self.finished[ref] = view

    def _dismiss(self, ref: str) -> None:
        view = self.finished.pop(ref, None)
        if view is not None:
            view.deleteLater()

    async def shutdown(self) -> None:
        """Cancel pulls in flight."""
        tasks = [t for _v, t in self.active.values()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
