"""Containers panel: the grouped table with search, actions, live CPU/RAM, and details."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..context import AppContext
from ..models import container_info as info
from ..models import containers as cols
from ..models import roles
from ..models.container_filter import ContainersProxy
from ..widgets.links import LinkDelegate
from ..widgets.table import RecordTable
from . import container_actions
from .base import Panel, heading

if TYPE_CHECKING:
    from .details.page import ContainerDetails


class ContainersPanel(Panel):
    """The containers table and, on double-click, one container's details."""

    title = "Containers"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.model = ctx.feeds.containers.model
        self.proxy = ContainersProxy(self)
        self.proxy.setSourceModel(self.model)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, image, project…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_text)
        self.only_running = QCheckBox("Only running")
        self.only_running.toggled.connect(self.proxy.set_only_running)

        self.buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        for action in container_actions.ACTIONS:
            b = QPushButton(action.label)
            b.setObjectName(f"action_{action.key}")
            b.clicked.connect(lambda _=False, k=action.key: self.run_action(k))
            self.buttons[action.key] = b
            actions.addWidget(b)
        actions.addStretch(1)
        actions.addWidget(self.only_running)
        self.all_engines = QCheckBox("All engines")
        self.all_engines.setObjectName("allEngines")
        self.all_engines.setVisible(ctx.engines is not None)
        self.all_engines.toggled.connect(self.show_all_engines)
        actions.addWidget(self.all_engines)
        self.all_table: RecordTable | None = None

        self.view = QTreeView()
        self.view.setObjectName("containersView")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(cols.NAME, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAlternatingRowColors(True)
        self.view.setUniformRowHeights(True)
        self.view.setMouseTracking(True)
        self.links = LinkDelegate(self.view)
        self.view.setItemDelegateForColumn(cols.PORTS, self.links)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(cols.NAME, QHeaderView.ResizeMode.Stretch)
        for col, width in ((cols.IMAGE, 170), (cols.STATE, 130), (cols.PORTS, 150),
                           (cols.CPU, 70), (cols.MEMORY, 90), (cols.CREATED, 120)):  # fmt: skip
            header.resizeSection(col, width)
        self.view.doubleClicked.connect(self._double_clicked)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())

        top = QHBoxLayout()
        top.addWidget(heading("Containers"))
        top.addStretch(1)
        top.addWidget(self.search, 1)

        self.list_page = QWidget()
        ll = QVBoxLayout(self.list_page)
        ll.addLayout(top)
        ll.addLayout(actions)
        ll.addWidget(self.view, 1)
        self._list_layout = ll

        self.pages = QStackedWidget()
        self.pages.addWidget(self.list_page)
        self.details: ContainerDetails | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        # Which rows are on screen decides which containers the stats hub samples.
        self._visible_timer = QTimer(self)
        self._visible_timer.setSingleShot(True)
        self._visible_timer.setInterval(150)
        self._visible_timer.timeout.connect(self.update_visible)
        for sig in (
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
            self.proxy.layoutChanged,
            self.proxy.modelReset,
            self.view.expanded,
            self.view.collapsed,
            self.view.verticalScrollBar().valueChanged,
            ctx.feeds.containers.changed,
        ):
            sig.connect(self._visible_soon)
        self.proxy.rowsInserted.connect(self._expand_groups)
        self.model.dataChanged.connect(self._source_changed)
        self.view.expandAll()
        self.update_buttons()

    # -- selection and actions -----------------------------------------------------------
    def selected_ids(self) -> list[str]:
        """Containers selected (a selected group means all of its containers)."""
        ids: list[str] = []
        for index in self.view.selectionModel().selectedRows(0):
            src = self.proxy.mapToSource(index)
            if self.model.data(src, roles.KIND) == "group":
                for r in range(self.model.rowCount(src)):
                    ids.append(self.model.data(self.model.index(r, 0, src), roles.KEY))
            else:
                ids.append(self.model.data(src, roles.KEY))
        return list(dict.fromkeys(ids))

    def select(self, cid: str) -> None:
        """Select one container's row."""
        index = self.proxy.mapFromSource(self.model.index_of(cid))
        self.view.selectionModel().clearSelection()
        self.view.setCurrentIndex(index)

    def _states(self, ids: list[str]) -> dict[str, str]:
        return {cid: info.state(self.model.container(cid) or {}) for cid in ids}

    def update_buttons(self) -> None:
        """Enable the actions that apply to the selection."""
        states = list(self._states(self.selected_ids()).values())
        for action in container_actions.ACTIONS:
            self.buttons[action.key].setEnabled(container_actions.applicable(action, states))

    def run_action(self, key: str, ids: list[str] | None = None):
        """Apply an action to the selection (or to ``ids``)."""
        ids = ids if ids is not None else self.selected_ids()
        targets = [(cid, info.name(self.model.container(cid) or {"Id": cid})) for cid in ids]
        return container_actions.run(self.ctx, key, targets, self, self._states(ids))

    def _source_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, *_: object) -> None:
        # State changes (not CPU/RAM refreshes) may change which actions apply.
        if top_left.column() <= cols.STATE <= bottom_right.column():
            self.update_buttons()

    def _expand_groups(self, parent: QModelIndex, first: int, last: int) -> None:
        if not parent.isValid():
            for row in range(first, last + 1):
                self.view.expand(self.proxy.index(row, 0))

    # -- stats for visible rows --------------------------------------------------------
    def _visible_soon(self, *_: object) -> None:
        self._visible_timer.start()

    def visible_running(self) -> set[str]:
        """Running containers whose rows are on screen."""
        if not self.isVisible() or self.pages.currentWidget() is not self.list_page:
            return set()
        if not self.view.isVisible():
            return set()
        out: set[str] = set()
        viewport = self.view.viewport()
        index = self.view.indexAt(QPoint(1, 1))
        while index.isValid():
            if self.view.visualRect(index).top() > viewport.height():
                break
            src = self.proxy.mapToSource(index)
            if self.model.data(src, roles.KIND) == "container":
                if self.model.data(src, roles.STATE) == "running":
                    out.add(self.model.data(src, roles.KEY))
            index = self.view.indexBelow(index)
        return out

    def update_visible(self) -> None:
        """Tell the stats hub which rows are on screen."""
        self.ctx.stats.set_visible(self.visible_running())

    def activated(self) -> None:
        self._visible_soon()

    def hideEvent(self, event) -> None:
        self.ctx.stats.set_visible(set())
        super().hideEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._visible_soon()

    # -- all engines -------------------------------------------------------------------
    def show_all_engines(self, on: bool) -> None:
        """Every engine's containers in one table with an Engine column (or back)."""
        if on and self.all_table is None and self.ctx.engines is not None:
            overview = self.ctx.engines.overview("containers")
            self.all_table = RecordTable(overview.model)
            self.all_table.setObjectName("allContainersView")
            self.all_table.setColumnWidth(0, 120)
            self.all_table.setColumnWidth(1, 200)
            self.search.textChanged.connect(self.all_table.filter)
            self.all_table.filter(self.search.text())
            self.all_table.doubleClicked.connect(self._all_double_clicked)
            self._list_layout.addWidget(self.all_table, 1)
        if self.all_table is not None:
            self.all_table.setVisible(on)
        self.view.setVisible(not on)
        for b in self.buttons.values():
            b.setVisible(not on)
        self.only_running.setVisible(not on)
        self._visible_soon()

    def _all_double_clicked(self, _index: QModelIndex) -> None:
        # work in the row's engine (its own panels then show the container)
        table = self.all_table
        records = table.selected_records() if table is not None else []
        if records and self.ctx.engines is not None:
            self.ctx.engines.select(records[0]["_engine_key"])

    # -- details -----------------------------------------------------------------------
    def _double_clicked(self, index: QModelIndex) -> None:
        src = self.proxy.mapToSource(index)
        if self.model.data(src, roles.KIND) == "container" and index.column() != cols.PORTS:
            self.open_details(self.model.data(src, roles.KEY))

    def open_details(self, cid: str, tab: str | None = None):
        """Show one container's details page (on ``tab``, e.g. "Stats")."""
        details = self.details
        if details is None:
            from .details.page import ContainerDetails

            details = self.details = ContainerDetails(self.ctx)
            details.back_requested.connect(self.close_details)
            self.pages.addWidget(details)
        details.open(cid, tab)
        self.pages.setCurrentWidget(details)
        self.ctx.stats.set_visible(set())
        return details

    def close_details(self) -> None:
        """Back to the table."""
        if self.details is not None:
            self.details.close_container()
        self.pages.setCurrentWidget(self.list_page)
        self._visible_soon()

    async def shutdown(self) -> None:
        """Stop the details page's streams."""
        if self.details is not None:
            await self.details.shutdown()
