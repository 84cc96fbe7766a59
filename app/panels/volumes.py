"""Volumes panel: list with sizes and users, create, delete, prune, browse files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .. import format as fmt
from ..context import AppContext
from ..widgets import dialogs
from .base import Panel, heading, table_section

if TYPE_CHECKING:
    from .volume_browser import VolumeBrowser


class VolumesPanel(Panel):
    """The volumes table; "Browse" opens a volume's files on a second page."""

    title = "Volumes"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.feed = ctx.feeds.volumes
        section = table_section(
            self.feed.model,
            prefix="volume",
            actions=[
                ("create", "Create…", self.ask_create),
                ("browse", "Browse files", self.browse_selected),
                ("delete", "Delete", self.delete_selected),
                ("prune", "Prune unused…", self.prune),
            ],
            search="Search volumes",
            widths=(320, 80, 100, 130),
            on_selection=self._update_buttons,
        )
        self.table, self.search, self.buttons = section.table, section.search, section.buttons
        self.table.doubleClicked.connect(lambda _i: self.browse_selected())
        self.list_page = QWidget()
        ll = QVBoxLayout(self.list_page)
        ll.addWidget(heading("Volumes"))
        ll.addLayout(section.bar)
        ll.addWidget(self.table, 1)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.list_page)
        self.browser: VolumeBrowser | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)
        self._update_buttons()

    def activated(self) -> None:
        # Sizes can change without an event (files written inside): refresh on view.
        self.feed.schedule()

    def _update_buttons(self) -> None:
        n = len(self.table.selected_records())
        self.buttons["browse"].setEnabled(n == 1)
        self.buttons["delete"].setEnabled(n > 0)

    def ask_create(self):
        """Ask for a name and create the volume."""
        name = dialogs.ask_text(self, "Create volume", "Name (empty for a generated one)")
        if name is None:
            return None
        return self.create_volume(name.strip())

    def create_volume(self, name: str):
        """Create a volume called ``name``."""
        client = self.ctx.client
        if client is None:
            return None
        return self.ctx.runner.spawn(
            client.volumes.create(name or None), f"create volume {name}", busy=True
        )

    def delete_selected(self):
        """Delete the selected volumes (after confirmation)."""
        client = self.ctx.client
        names = [r["Name"] for r in self.table.selected_records()]
        if client is None or not names:
            return None
        label = names[0] if len(names) == 1 else f"{len(names)} volumes"
        if not dialogs.confirm(self, "Delete volumes", f"Delete {label} and all its data?"):
            return None

        async def delete() -> None:
            for name in names:
                await client.volumes.remove(name)

        return self.ctx.runner.spawn(delete(), f"delete {label}", busy=True)

    def prune(self):
        """Delete every volume no container uses."""
        client = self.ctx.client
        if client is None:
            return None
        if not dialogs.confirm(
            self, "Prune volumes", "Delete every volume no container uses, with its data?", "Prune"
        ):
            return None

        async def prune() -> None:
            result = await client.volumes.prune(all=True)
            freed = int(result.get("SpaceReclaimed") or 0)
            count = len(result.get("VolumesDeleted") or [])
            self.ctx.runner.message.emit(f"Deleted {count} volumes, freed {fmt.size(freed)}")

        return self.ctx.runner.spawn(prune(), "prune volumes", busy=True)

    def browse_selected(self):
        """Show the files of the selected volume."""
        recs = self.table.selected_records()
        if len(recs) != 1:
            return None
        return self.browse(recs[0]["Name"])

    def browse(self, name: str):
        """Show the files of volume ``name``."""
        browser = self.browser
        if browser is None:
            from .volume_browser import VolumeBrowser

            browser = self.browser = VolumeBrowser(self.ctx)
            browser.back_requested.connect(self.close_browser)
            self.pages.addWidget(browser)
        self.pages.setCurrentWidget(browser)
        browser.open(name)
        return browser

    def close_browser(self) -> None:
        """Back to the table (the helper container is removed)."""
        if self.browser is not None:
            self.browser.close_volume()
        self.pages.setCurrentWidget(self.list_page)

    async def shutdown(self) -> None:
        """Remove the helper container if a volume is open."""
        if self.browser is not None:
            await self.browser.shutdown()
