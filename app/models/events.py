"""One ``/events`` subscription for the whole app, fanned out as Qt signals.

Models never poll for state: they load once when the subscription opens (``opened``)
and then follow the events. If the stream breaks, ``lost`` tells the connection to
re-establish itself; a new :meth:`EventHub.start` re-opens and the models reload.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..client import EngineClient, EngineError

log = logging.getLogger(__name__)


class EventHub(QObject):
    """Reads the engine's events and re-emits them by type."""

    #: the subscription is open: load current state now.
    opened = Signal()
    #: the stream ended or failed (the sentence says why).
    lost = Signal(str)
    #: every event (not ``event``: QObject.event() is Qt's event handler), then one
    #: signal per object type.
    received = Signal(dict)
    container = Signal(dict)
    image = Signal(dict)
    volume = Signal(dict)
    network = Signal(dict)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._task: asyncio.Task[None] | None = None
        self.is_open = False
        self.count = 0

    def start(self, client: EngineClient) -> None:
        """(Re)subscribe with ``client``."""
        self.stop()
        self._task = asyncio.get_event_loop().create_task(self._run(client))

    def stop(self) -> None:
        """Unsubscribe (the task is cancelled; no ``lost`` is emitted)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self.is_open = False

    async def wait_stopped(self) -> None:
        """Cancel and wait for the reader to finish (for shutdown)."""
        task = self._task
        self.stop()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    def _on_open(self) -> None:
        self.is_open = True
        self.opened.emit()

    async def _run(self, client: EngineClient) -> None:
        by_type = {
            "container": self.container,
            "image": self.image,
            "volume": self.volume,
            "network": self.network,
        }
        reason = "the engine closed the event stream"
        try:
            async for ev in client.system.events(on_open=self._on_open):
                if not isinstance(ev, dict):
                    continue
                self.count += 1
                self.received.emit(ev)
                signal = by_type.get(str(ev.get("Type") or ""))
                if signal is not None:
                    signal.emit(ev)
        except asyncio.CancelledError:
            raise
        except EngineError as e:
            reason = str(e)
        except ValueError as e:  # a garbled stream: reconnecting is the cure
            reason = f"the event stream was garbled: {e}"
        self.is_open = False
        self.lost.emit(reason)


def actor_id(ev: dict[str, Any]) -> str:
    """The object id of an event (``Actor.ID``, or the legacy ``id``)."""
    return str((ev.get("Actor") or {}).get("ID") or ev.get("id") or "")


def action(ev: dict[str, Any]) -> str:
    """The action, without the detail after a colon (``health_status: unhealthy``)."""
    return str(ev.get("Action") or ev.get("status") or "").split(":", 1)[0]
