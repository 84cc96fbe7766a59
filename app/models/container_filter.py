"""Search and "only running" filtering of the containers tree, and its sort order."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel

from . import container_info as info
from . import roles

Index = QModelIndex | QPersistentModelIndex
HELPER_LABEL = "io.portside.helper"


class ContainersProxy(QSortFilterProxyModel):
    """Keeps containers whose name, image, project or id contains the search text.

    A group stays visible while one of its containers does (recursive filtering), and
    a search that matches a project name shows the project's containers.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._text = ""
        self._only_running = False
        self.setRecursiveFilteringEnabled(True)
        self.setSortRole(roles.SORT)
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        """The search text (case-insensitive)."""
        self._refilter(lambda: setattr(self, "_text", text.strip().lower()))

    def set_only_running(self, only: bool) -> None:
        """Hide containers that are not running."""
        self._refilter(lambda: setattr(self, "_only_running", only))

    def _refilter(self, change) -> None:
        # Qt 6.10 replaced invalidateFilter() with a begin/end pair around the change.
        self.beginFilterChange()
        change()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:
        model = self.sourceModel()
        index = model.index(row, 0, parent)
        if model.data(index, roles.KIND) != "container":
            return False  # groups are shown through their accepted children
        c = model.data(index, roles.RECORD) or {}
        if HELPER_LABEL in (c.get("Labels") or {}):
            return False  # the app's own helpers (volume browser) are not the user's
        if self._only_running and info.state(c) != "running":
            return False
        if not self._text:
            return True
        fields = [info.name(c), info.image(c), info.project(c), str(c.get("Id", ""))[:12]]
        return any(self._text in f.lower() for f in fields)
