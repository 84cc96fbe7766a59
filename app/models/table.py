"""A table model over engine JSON records, updated in place so selections survive."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from . import roles

Record = dict[str, Any]
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    """How one column shows a record."""

    title: str
    text: Callable[[Record], str]
    sort: Callable[[Record], Any] | None = None
    right: bool = False
    tooltip: Callable[[Record], str] | None = None


class RecordTableModel(QAbstractTableModel):
    """Rows are records (dicts) identified by ``key(record)``."""

    def __init__(
        self,
        columns: list[Column],
        key: Callable[[Record], str],
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.columns = columns
        self._key = key
        self._rows: list[Record] = []
        self._index: dict[str, int] = {}

    # -- Qt API ----------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.columns)
        ):
            return self.columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        rec = self._rows[index.row()]
        col = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(rec)
        if role == roles.SORT:
            return col.sort(rec) if col.sort else col.text(rec).lower()
        if role == roles.KEY:
            return self._key(rec)
        if role == roles.RECORD:
            return rec
        if role == Qt.ItemDataRole.TextAlignmentRole and col.right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and col.tooltip:
            return col.tooltip(rec)
        return None

    # -- records -----------------------------------------------------------------------
    def records(self) -> list[Record]:
        """All records in row order."""
        return list(self._rows)

    def record(self, key: str) -> Record | None:
        """The record with ``key``."""
        row = self._index.get(key)
        return None if row is None else self._rows[row]

    def row_of(self, key: str) -> int:
        """Row of ``key`` or -1."""
        return self._index.get(key, -1)

    def set_records(self, records: Iterable[Record]) -> None:
        """Replace the content: changed rows are updated, gone rows removed, new appended."""
        new = {self._key(r): r for r in records}
        # Remove rows that disappeared, from the bottom so row numbers stay valid.
        for row in range(len(self._rows) - 1, -1, -1):
            if self._key(self._rows[row]) not in new:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
        self._reindex()
        last_col = len(self.columns) - 1
        for key, rec in new.items():
            found = self._index.get(key)
            if found is None:
                continue
            row = found
            if self._rows[row] != rec:
                self._rows[row] = rec
                self.dataChanged.emit(self.index(row, 0), self.index(row, last_col))
        added = [rec for key, rec in new.items() if key not in self._index]
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._rows.extend(added)
            self.endInsertRows()
            self._reindex()

    def _reindex(self) -> None:
        self._index = {self._key(r): i for i, r in enumerate(self._rows)}
