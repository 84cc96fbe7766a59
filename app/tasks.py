"""One place that runs the GUI's coroutines, reports their failures in words, cancels them.

Widgets never call ``asyncio.create_task`` themselves: a task started here is cancelled
when the window closes, and an exception becomes a sentence in the status bar (engine
errors) or a logged bug report (anything else), never a traceback on the terminal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from .client import EngineError
from .errors import sentence

log = logging.getLogger(__name__)


class TaskRunner(QObject):
    """Spawns and tracks asyncio tasks on the qasync loop."""

    #: ``(sentence)`` when a task failed.
    failed = Signal(str)
    #: ``(sentence)`` progress/status messages for the status bar.
    message = Signal(str)
    #: number of tasks doing user-visible work (for a busy indicator).
    busy_changed = Signal(int)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy = 0
        self._closing = False

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        """Tasks still running."""
        return {t for t in self._tasks if not t.done()}

    def spawn(
        self,
        coro: Coroutine[Any, Any, Any],
        what: str,
        *,
        busy: bool = False,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Task[Any]:
        """Run ``coro``; ``what`` completes "Could not …" when it fails.

        ``on_done(result)`` runs after success, ``on_error(exc)`` after a failure
        (in addition to the ``failed`` signal). Cancellation is silent.
        """
        if self._closing:
            coro.close()
            raise RuntimeError("the application is shutting down")
        task = asyncio.get_event_loop().create_task(coro)
        self._tasks.add(task)
        if busy:
            self._busy += 1
            self.busy_changed.emit(self._busy)

        def finished(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if busy:
                self._busy -= 1
                self.busy_changed.emit(self._busy)
            if t.cancelled():
                return
            exc = t.exception()
            if exc is None:
                if on_done is not None:
                    on_done(t.result())
                return
            if not isinstance(exc, EngineError | OSError | TimeoutError):
                log.error("%s failed", what, exc_info=exc)
            if not self._closing:
                self.failed.emit(sentence(what, exc))
            if on_error is not None:
                on_error(exc)

        task.add_done_callback(finished)
        return task

    async def shutdown(self, within: float = 5.0) -> None:
        """Cancel every task and wait (bounded) for them to finish."""
        self._closing = True
        pending = self.tasks
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=within)
