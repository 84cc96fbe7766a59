"""Base of the details tabs: a container id, activation while shown, clean stop."""

from __future__ import annotations

import asyncio

from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QWidget

from ...context import AppContext


class DetailsTab(QWidget):
    """A tab that works on ``self.cid`` only while it is visible.

    ``start()`` runs when the tab is shown for a container, ``stop()`` when it is hidden,
    the container changes, or the app closes; the base class tracks one background task.
    """

    title = ""
    #: Tabs whose work should outlive a switch to another tab (a shell) say False.
    stop_when_hidden = True

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.cid = ""
        self._task: asyncio.Task[None] | None = None
        self._started_for = ""

    def set_container(self, cid: str) -> None:
        """Show ``cid`` (restarts the tab's work if it is visible)."""
        if cid == self.cid:
            return
        self.stop()
        self.cid = cid
        self.reset()
        if self.isVisible():
            self._start()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.cid and self._started_for != self.cid:
            self._start()

    def hideEvent(self, event: QHideEvent) -> None:
        self.stop()
        super().hideEvent(event)

    def _start(self) -> None:
        self._started_for = self.cid
        self.start()

    def spawn(self, coro, what: str) -> asyncio.Task[None]:
        """Run the tab's background work (one at a time)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = self.ctx.runner.spawn(coro, what)
        return self._task

    def reset(self) -> None:
        """Clear what was shown for the previous container."""

    def start(self) -> None:
        """Begin showing ``self.cid``."""

    def stop(self) -> None:
        """Stop streams and timers (the tab may be shown again later)."""
        self._started_for = ""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def shutdown(self) -> None:
        """Stop and wait for the background work to end."""
        task = self._task
        self.stop()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
