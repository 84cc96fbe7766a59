"""Guards against known defects of the Qt binding the app relies on."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(int)


def test_emitting_signals_keeps_bool_refcounts():
    """PySide6 6.12.0 released a reference to True on every ``emit()`` on Python < 3.12;
    a busy app then aborts with "bool_dealloc" (pyproject.toml excludes that release)."""
    e = _Emitter()
    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(1000):
        e.fired.emit(i)
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before
