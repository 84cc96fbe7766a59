"""The history (layers) of an image."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from .. import format as fmt


class HistoryDialog(QDialog):
    """One row per layer: the instruction that made it, its size and age."""

    def __init__(self, ref: str, history: list[dict], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"History of {ref}")
        self.resize(820, 420)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Created by", "Size", "Created", "Layer"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().resizeSection(0, 470)
        for layer in history:
            created_by = str(layer.get("CreatedBy") or "")
            created_by = created_by.replace("/bin/sh -c #(nop) ", "").strip()
            lid = str(layer.get("Id") or "")
            item = QTreeWidgetItem(
                [
                    created_by,
                    fmt.size(layer.get("Size")),
                    fmt.ago(layer.get("Created")),
                    fmt.short_id(lid) if lid.startswith("sha256:") else "",
                ]
            )
            item.setToolTip(0, str(layer.get("CreatedBy") or ""))
            self.tree.addTopLevelItem(item)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
