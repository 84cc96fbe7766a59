"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is crossed.
With an SSH engine, paramiko's and the link's threads allocate all the time, so an
unreachable cycle holding Qt objects (a closed dialog, a finished panel's models) could be
freed on one of them — and Qt objects must be destroyed in their own thread ("Timers cannot
be stopped from another thread", then a crash). While the app runs, automatic collection
is off and a timer on the GUI thread collects whenever the allocation count says it is due.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_MS = 500


class MainThreadCollector(QObject):
    """Takes over cyclic collection from ``start()`` to ``stop()``."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self.check)
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def check(self) -> None:
        """Collect the generations whose counts crossed their thresholds, as gc would."""
        threshold = gc.get_threshold()
        count = gc.get_count()
        for generation in (2, 1, 0):
            if count[generation] > threshold[generation]:
                gc.collect(generation)
                return

    def stop(self) -> None:
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
