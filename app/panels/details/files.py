"""Files tab: browse a container's filesystem through the archive API; download files.

The archive API works on stopped containers too (unlike exec), and a directory listing
reads only tar headers, skipping file bodies as they stream past.
"""

from __future__ import annotations

import asyncio
import posixpath
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ... import format as fmt
from ...client import EngineClient
from ...client.archive import TarEntry, iter_tar, list_directory
from ...context import AppContext
from .tab import DetailsTab

PATH_ROLE = int(Qt.ItemDataRole.UserRole) + 1


def choose_save_path(parent: QWidget, name: str) -> str:
    """Ask where to save a downloaded file ("" when cancelled); tests replace this."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save file", str(Path.home() / name))
    return path


class FileBrowser(QWidget):
    """A directory listing of some container, with navigation and download.

    Used by the Files tab and by the volume browser (over a helper container).
    """

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.cid = ""
        self.path = "/"
        self.root = "/"  # navigation never goes above this (a volume's mount point)
        self.entries: list[TarEntry] = []
        self._task: asyncio.Task[None] | None = None
        self.path_edit = QLineEdit("/")
        self.path_edit.returnPressed.connect(lambda: self.navigate(self.path_edit.text()))
        self.up = QPushButton("Up")
        self.up.clicked.connect(
            lambda: self.navigate(posixpath.dirname(self.path.rstrip("/")) or "/")
        )
        self.download_button = QPushButton("Download…")
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        self.status = QLabel("")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Name", "Size", "Mode", "Modified", "Link"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().resizeSection(0, 300)
        self.tree.header().resizeSection(1, 90)
        self.tree.header().resizeSection(2, 110)
        self.tree.header().resizeSection(3, 150)
        self.tree.itemDoubleClicked.connect(self._activated)
        bar = QHBoxLayout()
        bar.addWidget(self.up)
        bar.addWidget(self.path_edit, 1)
        bar.addWidget(self.download_button)
        bar.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)

    def set_container(self, cid: str, root: str = "/") -> None:
        """Browse ``cid`` starting (and staying) under ``root``."""
        self.cancel()
        self.cid, self.root = cid, root
        self.tree.clear()
        self.navigate(root)

    def navigate(self, path: str) -> None:
        """List ``path``."""
        client = self.ctx.client
        path = posixpath.normpath("/" + path.strip().lstrip("/"))
        if not (path == self.root or path.startswith(self.root.rstrip("/") + "/")):
            path = self.root
        if client is None or not self.cid:
            return
        self.path = path
        self.path_edit.setText(path)
        self._run(self._list(client, self.cid, path), f"list {path}")

    def _run(self, coro, what: str) -> None:
        self.cancel()
        self.cancel_button.setVisible(True)
        self._task = self.ctx.runner.spawn(coro, what)
        self._task.add_done_callback(lambda _t: self.cancel_button.setVisible(False))

    def cancel(self) -> None:
        """Stop a listing or download in progress."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            self.status.setText("Cancelled.")
        self._task = None

    async def _list(self, client: EngineClient, cid: str, path: str) -> None:
        self.status.setText(f"Reading {path}…")
        entries = await list_directory(client.containers.get_archive(cid, path))
        self.entries = entries
        self.tree.clear()
        for e in entries:
            item = QTreeWidgetItem(
                [
                    e.basename + ("/" if e.kind == "dir" else ""),
                    fmt.size(e.size) if e.kind == "file" else "",
                    e.permissions,
                    time.strftime("%Y-%m-%d %H:%M", time.localtime(e.mtime)) if e.mtime else "",
                    e.linkname,
                ]
            )
            item.setData(0, PATH_ROLE, (posixpath.join(path, e.basename), e.kind))
            self.tree.addTopLevelItem(item)
        self.status.setText(f"{len(entries)} entries in {path}")

    def _activated(self, item: QTreeWidgetItem, _col: int) -> None:
        path, kind = item.data(0, PATH_ROLE)
        if kind == "dir":
            self.navigate(path)
        elif kind == "symlink":
            target = item.text(4)
            self.navigate(posixpath.join(posixpath.dirname(path), target))
        else:
            self.download(path)

    def download_selected(self) -> None:
        """Download the selected file."""
        items = self.tree.selectedItems()
        if items:
            path, kind = items[0].data(0, PATH_ROLE)
            if kind == "file":
                self.download(path)

    def download(self, path: str, dest: str | None = None) -> None:
        """Save the file at ``path`` (asks where unless ``dest`` is given)."""
        client = self.ctx.client
        if client is None:
            return
        dest = dest or choose_save_path(self, posixpath.basename(path))
        if dest:
            self._run(self._download(client, self.cid, path, Path(dest)), f"download {path}")

    async def _download(self, client: EngineClient, cid: str, path: str, dest: Path) -> None:
        loop = asyncio.get_running_loop()
        partial = dest.with_name(dest.name + ".part")
        done = 0
        with open(partial, "wb") as out:  # noqa: ASYNC230 (opening is instant; writes go to a thread)

            async def write(_entry: TarEntry, piece: bytes) -> None:
                nonlocal done
                await loop.run_in_executor(None, out.write, piece)
                done += len(piece)
                self.status.setText(f"Downloading {posixpath.basename(path)}: {fmt.size(done)}")

            try:
                async for _entry in iter_tar(client.containers.get_archive(cid, path), write):
                    pass
            except BaseException:
                out.close()
                partial.unlink(missing_ok=True)
                raise
        partial.replace(dest)
        self.status.setText(f"Saved {dest} ({fmt.size(done)})")


class FilesTab(DetailsTab):
    """The container's filesystem."""

    title = "Files"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.browser = FileBrowser(ctx)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)

    def start(self) -> None:
        if self.browser.cid != self.cid:
            self.browser.set_container(self.cid)

    def stop(self) -> None:
        super().stop()
        self.browser.cancel()
