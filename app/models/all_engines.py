"""The "All engines" tables: every connected engine's containers (or images) in one
table with an Engine column, merged from the engines' own models (no extra requests).

The merged rows are rebuilt shortly after any engine's model changes (coalesced, so an
event burst on one engine costs one rebuild), and only while a view shows them.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from .. import format as fmt
from ..engine_session import EngineSession
from . import container_info as info
from .resources import IMAGE_COLUMNS
from .table import Column, RecordTableModel

if TYPE_CHECKING:
    from ..engine_registry import EngineRegistry

Record = dict[str, Any]

ENGINE_COLUMN = Column("Engine", lambda r: r["_engine"])
CONTAINER_COLUMNS = [
    ENGINE_COLUMN,
    Column("Name", info.name),
    Column("Image", info.image),
    Column("State", info.state_text, tooltip=lambda r: str(r.get("Status") or "")),
    Column("Ports", lambda r: ", ".join(text for text, _ in info.port_links(r))),
    Column("Created", lambda r: fmt.ago(r.get("Created")), sort=lambda r: r.get("Created") or 0),
]
IMAGES_COLUMNS = [ENGINE_COLUMN, *IMAGE_COLUMNS]


def container_records(sessions: list[EngineSession]) -> list[Record]:
    """Every online engine's containers, tagged with the engine."""
    out = []
    for s in sessions:
        if not s.online:
            continue
        for c in s.feeds.containers.model.containers():
            out.append({**c, "_engine": s.name, "_engine_key": s.key})
    return out


def image_records(sessions: list[EngineSession]) -> list[Record]:
    """Every online engine's image rows, tagged with the engine."""
    out = []
    for s in sessions:
        if not s.online:
            continue
        for r in s.feeds.images.model.records():
            out.append({**r, "_engine": s.name, "_engine_key": s.key})
    return out


class AllEngines(QObject):
    """One merged model of a kind (``containers`` or ``images``) over the registry."""

    def __init__(self, registry: EngineRegistry, kind: str, parent: QObject | None = None):
        super().__init__(parent or registry)
        self.registry = registry
        self.kind = kind
        columns = CONTAINER_COLUMNS if kind == "containers" else IMAGES_COLUMNS
        inner = "Id" if kind == "containers" else "_key"
        self.model = RecordTableModel(
            columns, key=lambda r: f"{r['_engine_key']}|{r[inner]}", parent=self
        )
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.rebuild)
        self._wired: weakref.WeakSet[EngineSession] = weakref.WeakSet()
        registry.listed.connect(self._wire)
        registry.state_changed.connect(lambda _k: self.soon())
        self._wire()
        self.rebuild()

    def _wire(self) -> None:
        for s in self.registry.ordered():
            if s in self._wired:
                continue
            self._wired.add(s)
            if self.kind == "containers":
                # after each (event-driven) reload; CPU/RAM refreshes are not shown here
                s.feeds.containers.changed.connect(self.soon)
            else:
                model = s.feeds.images.model
                for signal in (model.dataChanged, model.rowsInserted, model.rowsRemoved):
                    signal.connect(self.soon)
        self.soon()

    def soon(self, *_: object) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def rebuild(self) -> None:
        sessions = self.registry.ordered()
        records = (
            container_records(sessions) if self.kind == "containers" else image_records(sessions)
        )
        self.model.set_records(records)
