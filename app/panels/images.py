"""Images panel: pull, build, run, history, delete, prune."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QVBoxLayout, QWidget

from .. import format as fmt
from ..client import EngineClient
from ..context import AppContext
from ..widgets import dialogs
from ..widgets.table import RecordTable
from .base import Panel, heading, table_section
from .pull import PullBox


class ImagesPanel(Panel):
    """The images table with the pull box above it."""

    title = "Images"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.feed = ctx.feeds.images
        section = table_section(
            self.feed.model,
            prefix="image",
            actions=[
                ("build", "Build…", self.build_image),
                ("run", "Run…", self.run_selected),
                ("history", "History", self.history_selected),
                ("delete", "Delete", self.delete_selected),
                ("prune", "Prune unused…", self.prune),
            ],
            search="Search images",
            widths=(300, 110, 120, 130, 90),
            on_selection=self._update_buttons,
        )
        self.table, self.search, self.buttons = section.table, section.search, section.buttons
        self.table.doubleClicked.connect(lambda _i: self.run_selected())
        self.pull_box = PullBox(ctx)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Images"))
        layout.addWidget(self.pull_box)
        layout.addLayout(section.bar)
        layout.addWidget(self.table, 1)
        self.all_engines = QCheckBox("All engines")
        self.all_engines.setObjectName("allEngines")
        self.all_engines.setVisible(ctx.engines is not None)
        self.all_engines.toggled.connect(self.show_all_engines)
        section.bar.addWidget(self.all_engines)
        self.all_table: RecordTable | None = None
        self._layout = layout
        self._update_buttons()
        self.dialog: QDialog | None = None

    def show_all_engines(self, on: bool) -> None:
        """Every engine's images in one table with an Engine column (or back)."""
        if on and self.all_table is None and self.ctx.engines is not None:
            self.all_table = RecordTable(self.ctx.engines.overview("images").model)
            self.all_table.setObjectName("allImagesView")
            for col, width in enumerate((120, 260, 100, 120, 120, 90)):
                self.all_table.setColumnWidth(col, width)
            self.search.textChanged.connect(self.all_table.filter)
            self.all_table.filter(self.search.text())
            self._layout.addWidget(self.all_table, 1)
        if self.all_table is not None:
            self.all_table.setVisible(on)
        self.table.setVisible(not on)
        for b in self.buttons.values():
            b.setVisible(not on)

    def _update_buttons(self) -> None:
        n = len(self.table.selected_records())
        self.buttons["run"].setEnabled(n == 1)
        self.buttons["history"].setEnabled(n == 1)
        self.buttons["delete"].setEnabled(n > 0)

    def _client(self) -> EngineClient | None:
        return self.ctx.client

    # -- build -----------------------------------------------------------------------
    def build_image(self):
        """Open the Build dialog; the table reloads when an image is built."""
        from .build_dialog import BuildDialog

        dialog = BuildDialog(self.ctx, self)
        dialog.built.connect(lambda _id: self.feed.reload_now())
        self.dialog = dialog
        dialog.open()
        return dialog

    # -- run -------------------------------------------------------------------------
    def run_selected(self):
        """Open the Run dialog for the selected image."""
        recs = self.table.selected_records()
        if len(recs) != 1:
            return None
        from .run_dialog import RunDialog

        networks = sorted(
            str(r.get("Name")) for r in self.ctx.feeds.networks.model.records() if r.get("Name")
        )
        dialog = RunDialog(recs[0]["_ref"], networks, self)
        dialog.accepted.connect(lambda: self._run(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _run(self, dialog) -> None:
        client = self._client()
        if client is None:
            return
        config, name = dialog.config(), dialog.spec().name or None

        async def run() -> None:
            created = await client.containers.create(config, name=name)
            await client.containers.start(created["Id"])
            self.ctx.runner.message.emit(f"Started {name or created['Id'][:12]}")

        self.ctx.runner.spawn(run(), f"run {config['Image']}", busy=True)

    # -- history -----------------------------------------------------------------------
    def history_selected(self) -> None:
        """Show the layers of the selected image."""
        recs = self.table.selected_records()
        client = self._client()
        if len(recs) != 1 or client is None:
            return
        ref = recs[0]["_ref"]

        async def show() -> None:
            from .image_history import HistoryDialog

            history = await client.images.history(ref)
            dialog = HistoryDialog(ref, history, self)
            self.dialog = dialog
            dialog.open()

        self.ctx.runner.spawn(show(), f"read the history of {ref}")

    # -- delete and prune --------------------------------------------------------------
    def delete_selected(self):
        """Delete the selected tags (an untagged image by id)."""
        client = self._client()
        refs = [r["_ref"] for r in self.table.selected_records()]
        if client is None or not refs:
            return None
        label = refs[0] if len(refs) == 1 else f"{len(refs)} images"
        if not dialogs.confirm(self, "Delete images", f"Delete {label}?"):
            return None

        async def delete() -> None:
            for ref in refs:
                await client.images.remove(ref)

        return self.ctx.runner.spawn(delete(), f"delete {label}", busy=True)

    def prune(self):
        """Remove every image no container uses, and say how much space it freed."""
        client = self._client()
        if client is None:
            return None
        if not dialogs.confirm(
            self,
            "Prune images",
            "Remove every image that no container uses (tagged or not)?",
            "Prune",
        ):
            return None

        async def prune() -> None:
            result = await client.images.prune(dangling_only=False)
            freed = int(result.get("SpaceReclaimed") or 0)
            count = len(result.get("ImagesDeleted") or [])
            self.last_prune = f"Removed {count} layers and images, freed {fmt.size(freed)}"
            self.ctx.runner.message.emit(self.last_prune)

        return self.ctx.runner.spawn(prune(), "prune images", busy=True)

    async def shutdown(self) -> None:
        """Cancel pulls in flight."""
        await self.pull_box.shutdown()
