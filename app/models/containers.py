"""The containers tree: compose projects as groups, containers as rows.

Updated in place (insert/update/remove signals, never a reset after the first load)
so the selection, the expanded groups and the scroll position survive every event.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from .. import format as fmt
from ..icons import dot_icon
from . import container_info as info
from . import roles

Index = QModelIndex | QPersistentModelIndex

NAME, IMAGE, STATE, PORTS, CPU, MEMORY, CREATED = range(7)
HEADERS = ["Name", "Image", "State", "Ports", "CPU %", "Memory", "Created"]


class Node:
    """A row: a compose group or a container."""

    __slots__ = ("children", "cpu", "data", "key", "kind", "mem", "parent")

    def __init__(
        self, kind: str, key: str, parent: Node | None, data: dict[str, Any] | None = None
    ):
        self.kind = kind
        self.key = key
        self.parent = parent
        self.children: list[Node] = []
        self.data: dict[str, Any] = data or {}
        self.cpu: float | None = None
        self.mem: int | None = None

    def row(self) -> int:
        return self.parent.children.index(self) if self.parent is not None else 0


class ContainersModel(QAbstractItemModel):
    """Containers grouped by ``com.docker.compose.project``."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._root = Node("root", "", None)
        self._containers: dict[str, Node] = {}
        self._groups: dict[str, Node] = {}

    # -- Qt API ------------------------------------------------------------------------
    def _node(self, index: Index) -> Node:
        return index.internalPointer() if index.isValid() else self._root

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        node = self._node(parent)
        if 0 <= row < len(node.children) and 0 <= column < len(HEADERS):
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        node = self._node(index).parent
        if node is None or node is self._root:
            return QModelIndex()
        return self.createIndex(node.row(), 0, node)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._node(index)
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(node, col)
        if role == roles.KEY:
            return node.key
        if role == roles.KIND:
            return node.kind
        if role == roles.RECORD:
            return node.data if node.kind == "container" else None
        if role == roles.STATE:
            return info.state(node.data) if node.kind == "container" else self._group_state(node)
        if role == roles.LINKS and col == PORTS and node.kind == "container":
            return info.port_links(node.data)
        if role == roles.SORT:
            return self._sort(node, col)
        if col == STATE and node.kind == "container":
            if role == Qt.ItemDataRole.ForegroundRole:
                return QColor(info.state_colour(node.data))
            if role == Qt.ItemDataRole.DecorationRole:
                return dot_icon(info.state_colour(node.data))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (CPU, MEMORY):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and node.kind == "container":
            if col == STATE:
                return str(node.data.get("Status") or "")
            if col == NAME:
                return node.key[:12]
        return None

    # -- presentation ------------------------------------------------------------------
    def _text(self, node: Node, col: int) -> str:
        if node.kind == "group":
            if col == NAME:
                return node.key
            if col == STATE:
                running = sum(1 for c in node.children if info.state(c.data) == "running")
                return f"{running}/{len(node.children)} running"
            if col == CPU:
                vals = [c.cpu for c in node.children if c.cpu is not None]
                return fmt.percent(sum(vals)) if vals else ""
            if col == MEMORY:
                mems = [c.mem for c in node.children if c.mem is not None]
                return fmt.binary_size(sum(mems)) if mems else ""
            return ""
        c = node.data
        if col == NAME:
            return info.name(c)
        if col == IMAGE:
            return info.image(c)
        if col == STATE:
            return info.state_text(c)
        if col == PORTS:
            return ", ".join(text for text, _ in info.port_links(c))
        running = info.state(c) == "running"
        if col == CPU:
            return fmt.percent(node.cpu) if running and node.cpu is not None else ""
        if col == MEMORY:
            return fmt.binary_size(node.mem) if running and node.mem is not None else ""
        if col == CREATED:
            return fmt.ago(c.get("Created"))
        return ""

    def _group_state(self, node: Node) -> str:
        states = {info.state(c.data) for c in node.children}
        return "running" if "running" in states else (states.pop() if len(states) == 1 else "")

    def _sort(self, node: Node, col: int) -> Any:
        if col == CPU:
            return (
                node.cpu or 0.0
                if node.kind == "container"
                else sum(c.cpu or 0 for c in node.children)
            )
        if col == MEMORY:
            return (
                node.mem or 0
                if node.kind == "container"
                else sum(c.mem or 0 for c in node.children)
            )
        if col == CREATED:
            if node.kind == "group":
                return max((c.data.get("Created") or 0 for c in node.children), default=0)
            return node.data.get("Created") or 0
        return self._text(node, col).lower()

    # -- updates -------------------------------------------------------------------------
    def container(self, cid: str) -> dict[str, Any] | None:
        """The summary of a container in the model."""
        node = self._containers.get(cid)
        return node.data if node else None

    def containers(self) -> list[dict[str, Any]]:
        """Every container summary."""
        return [n.data for n in self._containers.values()]

    def ids(self) -> set[str]:
        """Every container id."""
        return set(self._containers)

    def index_of(self, cid: str, column: int = 0) -> QModelIndex:
        """The index of a container (invalid when absent)."""
        node = self._containers.get(cid)
        if node is None:
            return QModelIndex()
        return self.createIndex(node.row(), column, node)

    def _group_index(self, node: Node) -> QModelIndex:
        return QModelIndex() if node is self._root else self.createIndex(node.row(), 0, node)

    def sync(self, summaries: list[dict[str, Any]]) -> None:
        """Make the model equal to ``summaries`` (a full list from the engine)."""
        seen = set()
        for c in summaries:
            seen.add(c["Id"])
            self.upsert(c)
        for cid in list(self._containers):
            if cid not in seen:
                self.remove(cid)

    def upsert(self, c: dict[str, Any]) -> None:
        """Add or update one container summary."""
        cid = c["Id"]
        node = self._containers.get(cid)
        group_key = info.project(c)
        if node is not None:
            current_group = node.parent.key if node.parent and node.parent.kind == "group" else ""
            if current_group == group_key:
                node.data = c
                if info.state(c) != "running":
                    node.cpu = node.mem = None
                self._changed(node)
                return
            self.remove(cid)
        parent = self._root if not group_key else self._ensure_group(group_key)
        row = len(parent.children)
        self.beginInsertRows(self._group_index(parent), row, row)
        node = Node("container", cid, parent, c)
        parent.children.append(node)
        self._containers[cid] = node
        self.endInsertRows()
        if parent is not self._root:
            self._changed(parent)

    def remove(self, cid: str) -> None:
        """Remove a container (and its group when it was the last one)."""
        node = self._containers.pop(cid, None)
        if node is None or node.parent is None:
            return
        parent = node.parent
        row = node.row()
        self.beginRemoveRows(self._group_index(parent), row, row)
        del parent.children[row]
        self.endRemoveRows()
        if parent is not self._root:
            if not parent.children:
                grow = parent.row()
                self.beginRemoveRows(QModelIndex(), grow, grow)
                del self._root.children[grow]
                del self._groups[parent.key]
                self.endRemoveRows()
            else:
                self._changed(parent)

    def set_stats(self, cid: str, cpu: float | None, mem: int | None) -> None:
        """Update the CPU/memory cells of a running container."""
        node = self._containers.get(cid)
        if node is None:
            return
        node.cpu, node.mem = cpu, mem
        self._changed(node, CPU, MEMORY)
        if node.parent is not None and node.parent.kind == "group":
            self._changed(node.parent, CPU, MEMORY)

    def _ensure_group(self, key: str) -> Node:
        group = self._groups.get(key)
        if group is None:
            row = len(self._root.children)
            self.beginInsertRows(QModelIndex(), row, row)
            group = Node("group", key, self._root)
            self._root.children.append(group)
            self._groups[key] = group
            self.endInsertRows()
        return group

    def _changed(self, node: Node, first: int = 0, last: int = len(HEADERS) - 1) -> None:
        row = node.row()
        self.dataChanged.emit(self.createIndex(row, first, node), self.createIndex(row, last, node))
