"""A collapsible JSON tree with copy (for ``docker inspect`` output)."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

VALUE_ROLE = int(Qt.ItemDataRole.UserRole) + 1


def _preview(value: Any) -> str:
    if isinstance(value, dict):
        return f"{{{len(value)}}}"
    if isinstance(value, list):
        return f"[{len(value)}]"
    return json.dumps(value, ensure_ascii=False)


class JsonTree(QTreeWidget):
    """Keys and values; objects and arrays fold. ``copy_selected`` copies a subtree."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Key", "Value"])
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.header().resizeSection(0, 260)
        self.document: Any = None

    def set_document(self, doc: Any, expand_depth: int = 1) -> None:
        """Show ``doc``; levels up to ``expand_depth`` start expanded."""
        self.clear()
        self.document = doc
        root = self.invisibleRootItem()
        self._fill(root, doc)
        self.expandToDepth(expand_depth - 1)

    def _fill(self, parent: QTreeWidgetItem, value: Any) -> None:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            item = QTreeWidgetItem([str(key), _preview(child)])
            # Stored as JSON text: Qt would turn a dict into a QVariantMap and sort its keys.
            item.setData(0, VALUE_ROLE, json.dumps(child, ensure_ascii=False))
            if isinstance(child, dict | list) and child:
                self._fill(item, child)
                item.setForeground(1, Qt.GlobalColor.gray)
            parent.addChild(item)

    def find_key(self, *path: str) -> QTreeWidgetItem | None:
        """The item at a key path (``"State", "Status"``)."""
        item = self.invisibleRootItem()
        for key in path:
            found = None
            for i in range(item.childCount()):
                child = item.child(i)
                if child is not None and child.text(0) == key:
                    found = child
                    break
            if found is None:
                return None
            item = found
        return item

    def selected_json(self) -> str:
        """The selected value as JSON (the whole document when nothing is selected)."""
        items = self.selectedItems()
        value = json.loads(items[0].data(0, VALUE_ROLE)) if items else self.document
        return json.dumps(value, indent=2, ensure_ascii=False)

    def copy_selected(self) -> str:
        """Copy :meth:`selected_json` to the clipboard and return it."""
        text = self.selected_json()
        QGuiApplication.clipboard().setText(text)
        return text
