"""A sortable, searchable table over a :class:`RecordTableModel`."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ..models import roles
from ..models.table import RecordTableModel


class RecordTable(QTableView):
    """Rows select whole; ``filter(text)`` searches every column; keys of the selection."""

    def __init__(self, model: RecordTableModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.source = model
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(roles.SORT)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setDynamicSortFilter(True)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(26)
        header = self.horizontalHeader()
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

    def filter(self, text: str) -> None:
        """Show rows containing ``text`` in any column."""
        self.proxy.setFilterFixedString(text)

    def selected_records(self) -> list[dict[str, Any]]:
        """The records of the selected rows."""
        out = []
        for index in self.selectionModel().selectedRows(0):
            rec = self.proxy.data(index, roles.RECORD)
            if rec is not None:
                out.append(rec)
        return out

    def select_key(self, key: str) -> bool:
        """Select the row whose key is ``key``."""
        row = self.source.row_of(key)
        if row < 0:
            return False
        index = self.proxy.mapFromSource(self.source.index(row, 0))
        self.clearSelection()
        self.selectRow(index.row())
        return True
