"""Deciding which container events deserve a desktop notification.

A container that exits on its own with a non-zero code, is killed by the OOM killer, or
turns unhealthy is news; one stopped or killed on request (someone called stop/kill,
which the engine announces before ``die``) is not. Restart loops are announced once a
minute at most per container.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Signal

from .context import AppContext
from .models.events import action, actor_id

EXPECTED_WINDOW = 60.0  # seconds a stop/kill request explains a following "die"
REPEAT_AFTER = 60.0


class Notifier(QObject):
    """Emits ``notify(title, text)`` for events a person should hear about."""

    notify = Signal(str, str)

    def __init__(self, ctx: AppContext, parent: QObject | None = None):
        super().__init__(parent)
        self._expected: dict[str, float] = {}
        self._last: dict[tuple[str, str], float] = {}
        self.sent: list[tuple[str, str]] = []
        ctx.events.container.connect(self.on_event)

    def on_event(self, ev: dict[str, Any]) -> None:
        """Look at one container event."""
        act = action(ev)
        cid = actor_id(ev)
        attrs = (ev.get("Actor") or {}).get("Attributes") or {}
        name = str(attrs.get("name") or cid[:12])
        now = time.monotonic()
        if act in ("kill", "stop", "destroy"):
            self._expected[cid] = now
            return
        if act == "oom":
            self._send(
                cid, "oom", f"{name} ran out of memory", "The kernel killed a process of it."
            )
        elif act == "die":
            code = str(attrs.get("exitCode") or "0")
            expected = now - self._expected.pop(cid, -1e9) < EXPECTED_WINDOW
            if not expected and code != "0":
                self._send(
                    cid, "die", f"{name} stopped unexpectedly", f"It exited with code {code}."
                )
        elif act == "health_status":
            status = str(ev.get("Action") or "").partition(":")[2].strip()
            if status == "unhealthy":
                self._send(cid, "unhealthy", f"{name} is unhealthy", "Its health check is failing.")
        elif act == "start":
            self._expected.pop(cid, None)

    def _send(self, cid: str, kind: str, title: str, text: str) -> None:
        now = time.monotonic()
        if now - self._last.get((cid, kind), -1e9) < REPEAT_AFTER:
            return
        self._last[(cid, kind)] = now
        self.sent.append((title, text))
        self.notify.emit(title, text)
