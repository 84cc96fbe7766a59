"""Files tab: browse a container's filesystem through the archive API; download, upload
(button or drag-and-drop), new folders, delete, and a read-only viewer for text.

The archive API works on stopped containers too (unlike exec), and a directory listing
reads only tar headers, skipping file bodies as they stream past. Transfers show their
progress and stop with Cancel; a refusal (a read-only mount, permissions) is shown as
the engine's own words in a sentence.
"""

from __future__ import annotations

import asyncio
import posixpath
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ... import format as fmt
from ...client import EngineClient
from ...client import files as file_ops
from ...client.archive import TarEntry, iter_tar, list_directory
from ...context import AppContext
from ...errors import describe
from ...widgets.text_viewer import TextViewer
from .tab import DetailsTab

#: ``delete(client, container id, path)``: how a path is deleted in this browser.
Deleter = Callable[[EngineClient, str, str], Awaitable[None]]

PATH_ROLE = int(Qt.ItemDataRole.UserRole) + 1


def choose_save_path(parent: QWidget, name: str) -> str:
    """Ask where to save a downloaded file ("" when cancelled); tests replace this."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save file", str(Path.home() / name))
    return path


def choose_upload_paths(parent: QWidget) -> list[str]:
    """Ask which local files to upload ([] when cancelled); tests replace this."""
    paths, _ = QFileDialog.getOpenFileNames(parent, "Upload files", str(Path.home()))
    return list(paths)


def ask_folder_name(parent: QWidget) -> str:
    """Ask for a new folder's name ("" when cancelled); tests replace this."""
    name, ok = QInputDialog.getText(parent, "New folder", "Name:")
    return name.strip() if ok else ""


def confirm_delete(parent: QWidget, path: str) -> bool:
    """Ask before deleting ``path``; tests replace this."""
    answer = QMessageBox.question(parent, "Delete", f"Delete {path} and everything in it?")
    return answer == QMessageBox.StandardButton.Yes


def local_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[Path]:
    """The local files and folders being dragged ([] for anything else)."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    urls = mime.urls()
    if not urls or not all(u.isLocalFile() for u in urls):
        return []
    return [Path(u.toLocalFile()) for u in urls]


class FileBrowser(QWidget):
    """A directory listing of some container, with navigation and download.

    Used by the Files tab and by the volume browser (over a helper container).
    """

    #: ``(bytes done, bytes in all)`` of the transfer in progress
    transfer_progress = Signal(int, int)
    #: a listing, transfer or change finished (successfully or not)
    finished = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.cid = ""
        self.path = "/"
        self.root = "/"  # navigation never goes above this (a volume's mount point)
        self.entries: list[TarEntry] = []
        self.viewer: TextViewer | None = None
        #: how to delete: exec rm in the container; the volume browser uses a one-shot one
        self.delete_with: Deleter = file_ops.delete_by_exec
        self._task: asyncio.Task[None] | None = None
        self.setAcceptDrops(True)
        self.path_edit = QLineEdit("/")
        self.path_edit.returnPressed.connect(lambda: self.navigate(self.path_edit.text()))
        self.up = QPushButton("Up")
        self.up.clicked.connect(
            lambda: self.navigate(posixpath.dirname(self.path.rstrip("/")) or "/")
        )
        self.download_button = QPushButton("Download…")
        self.download_button.clicked.connect(self.download_selected)
        self.upload_button = QPushButton("Upload…")
        self.upload_button.setToolTip("Upload files (or drop them here)")
        self.upload_button.clicked.connect(self.upload_chosen)
        self.mkdir_button = QPushButton("New folder…")
        self.mkdir_button.clicked.connect(self.mkdir_asked)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.view_button = QPushButton("View")
        self.view_button.clicked.connect(self.view_selected)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
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
        bar.addWidget(self.view_button)
        bar.addWidget(self.download_button)
        bar.addWidget(self.upload_button)
        bar.addWidget(self.mkdir_button)
        bar.addWidget(self.delete_button)
        foot = QHBoxLayout()
        foot.addWidget(self.status, 1)
        foot.addWidget(self.progress)
        foot.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)
        layout.addLayout(foot)

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

    @property
    def busy(self) -> bool:
        """A listing, transfer or change is in progress."""
        return self._task is not None and not self._task.done()

    def _run(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        self.cancel()
        self.cancel_button.setVisible(True)
        task = self._task = self.ctx.runner.spawn(
            coro, what, on_error=lambda e: self._failed(what, e)
        )
        task.add_done_callback(lambda _t: self._done(task))

    def _failed(self, what: str, exc: BaseException) -> None:
        # The engine's refusal, in words, where the user is looking.
        self.status.setText(f"Could not {what}: {describe(exc)}.")

    def _done(self, task: asyncio.Task[None]) -> None:
        if task is self._task:
            self.cancel_button.setVisible(False)
            self.progress.setVisible(False)
        self.finished.emit()

    def cancel(self) -> None:
        """Stop a listing, transfer or change in progress."""
        # The task stays referenced until it has unwound (``busy`` says so): an upload
        # ends by closing its connection, and the engine may hold the container till then.
        if self._task is not None and not self._task.done():
            self._task.cancel()
            self.status.setText("Cancelled.")
        self.progress.setVisible(False)

    def _show_progress(self, verb: str, name: str, done: int, total: int) -> None:
        self.progress.setVisible(True)
        if total > 0:
            # QProgressBar counts in int: per mille keeps large files in range.
            self.progress.setRange(0, 1000)
            self.progress.setValue(min(1000, done * 1000 // total))
            self.status.setText(f"{verb} {name}: {fmt.size(done)} of {fmt.size(total)}")
        else:
            self.progress.setRange(0, 0)
            self.status.setText(f"{verb} {name}: {fmt.size(done)}")
        self.transfer_progress.emit(done, total)

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

            async def write(entry: TarEntry, piece: bytes) -> None:
                nonlocal done
                await loop.run_in_executor(None, out.write, piece)
                done += len(piece)
                self._show_progress("Downloading", posixpath.basename(path), done, entry.size)

            try:
                async for _entry in iter_tar(client.containers.get_archive(cid, path), write):
                    pass
            except BaseException:
                out.close()
                partial.unlink(missing_ok=True)
                raise
        partial.replace(dest)
        self.status.setText(f"Saved {dest} ({fmt.size(done)})")

    # -- changes -------------------------------------------------------------------------
    def _selected(self) -> tuple[str, str] | None:
        items = self.tree.selectedItems()
        if not items:
            return None
        path, kind = items[0].data(0, PATH_ROLE)
        return str(path), str(kind)

    def upload_chosen(self) -> None:
        """Ask for local files and upload them into the current folder."""
        paths = choose_upload_paths(self)
        if paths:
            self.upload([Path(p) for p in paths])

    def upload(self, sources: list[Path], directory: str | None = None) -> None:
        """Upload local files and folders into ``directory`` (the current folder)."""
        client = self.ctx.client
        if client is None or not self.cid or not sources:
            return
        directory = directory or self.path
        names = ", ".join(p.name for p in sources)
        self._run(
            self._upload(client, self.cid, directory, sources, names),
            f"upload {names} to {directory}",
        )

    async def _upload(
        self, client: EngineClient, cid: str, directory: str, sources: list[Path], names: str
    ) -> None:
        self._show_progress("Uploading", names, 0, 0)
        sent = await file_ops.upload(
            client,
            cid,
            directory,
            sources,
            lambda done, total: self._show_progress("Uploading", names, done, total),
        )
        await self._list(client, cid, self.path)
        self.status.setText(f"Uploaded {names} to {directory} ({fmt.size(sent)})")

    def mkdir_asked(self) -> None:
        """Ask for a name and create that folder in the current one."""
        name = ask_folder_name(self)
        if name:
            self.mkdir(name)

    def mkdir(self, name: str) -> None:
        """Create folder ``name`` in the current folder."""
        client = self.ctx.client
        if client is None or not self.cid:
            return
        self._run(self._mkdir(client, self.cid, self.path, name), f"create {name} in {self.path}")

    async def _mkdir(self, client: EngineClient, cid: str, parent: str, name: str) -> None:
        path = await file_ops.make_directory(client, cid, parent, name)
        await self._list(client, cid, self.path)
        self.status.setText(f"Created {path}")

    def delete_selected(self, confirm: bool = True) -> None:
        """Delete the selected file or folder (after asking)."""
        chosen = self._selected()
        if chosen and (not confirm or confirm_delete(self, chosen[0])):
            self.delete(chosen[0])

    def delete(self, path: str) -> None:
        """Delete ``path`` and everything under it."""
        client = self.ctx.client
        if client is None or not self.cid:
            return
        self._run(self._delete(client, self.cid, path), f"delete {path}")

    async def _delete(self, client: EngineClient, cid: str, path: str) -> None:
        self.status.setText(f"Deleting {path}…")
        await self.delete_with(client, cid, path)
        await self._list(client, cid, self.path)
        self.status.setText(f"Deleted {path}")

    def view_selected(self) -> None:
        """Open the selected file in the read-only viewer."""
        chosen = self._selected()
        if chosen and chosen[1] == "file":
            self.view(chosen[0])

    def view(self, path: str) -> None:
        """Show the text of ``path`` in a read-only window."""
        client = self.ctx.client
        if client is None or not self.cid:
            return
        self._run(self._view(client, self.cid, path), f"open {path}")

    async def _view(self, client: EngineClient, cid: str, path: str) -> None:
        self.status.setText(f"Reading {path}…")
        data, size = await file_ops.read_head(client, cid, path)
        if self.viewer is not None:
            self.viewer.close()
            self.viewer.deleteLater()
        self.viewer = TextViewer(path, data, size, self)
        self.viewer.show()
        self.status.setText(f"Opened {path}")

    # -- drag and drop from the desktop --------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.cid and local_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self.cid and local_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event)
        if not (self.cid and paths):
            event.ignore()
            return
        event.acceptProposedAction()
        self.upload(paths)


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
