"""Browsing a volume's files: mount it into a helper container, never started, and read
and write it through the archive API like any container's files. Deleting, which the
archive API cannot do, runs ``rm`` in a one-shot container with the same mount. Works on
any Docker-compatible engine, local or remote."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..client import BadRequest, EngineClient, NotFound
from ..client.files import run_rm_in
from ..context import AppContext
from ..models.container_filter import HELPER_LABEL
from .details.files import FileBrowser

MOUNT = "/volume"
PREFERRED_IMAGES = ("busybox:latest", "alpine:latest")


def helper_image(tags: list[str]) -> str | None:
    """Any local image can host the mount; small well-known ones first."""
    for pref in PREFERRED_IMAGES:
        if pref in tags:
            return pref
    return tags[0] if tags else None


class VolumeBrowser(QWidget):
    """The files of one volume."""

    back_requested = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.volume = ""
        self.helper = ""
        back = QPushButton("← Volumes")
        back.setFlat(True)
        back.clicked.connect(self.back_requested)
        self.title = QLabel("")
        self.title.setObjectName("heading")
        self.files = FileBrowser(ctx)
        self.files.delete_with = self._delete
        self.image = ""
        head = QHBoxLayout()
        head.addWidget(back)
        head.addWidget(self.title)
        head.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.files, 1)
        self._task: asyncio.Task[None] | None = None

    def open(self, name: str) -> None:
        """Show volume ``name``."""
        client = self.ctx.client
        if client is None:
            return
        self.close_volume()
        self.volume = name
        self.title.setText(f"Volume {name}")
        self.files.status.setText("Preparing…")
        self._task = self.ctx.runner.spawn(self._open(client, name), f"browse volume {name}")

    async def _open(self, client: EngineClient, name: str) -> None:
        tags = [
            str(r["_ref"])
            for r in self.ctx.feeds.images.model.records()
            if r.get("_tag") and not str(r["_ref"]).startswith("sha256:")
        ]
        image = helper_image(tags)
        if image is None:
            self.files.status.setText(
                "Browsing a volume mounts it into a helper container, which needs an image: "
                "pull one (busybox is tiny) and try again."
            )
            return
        self.image = image
        created = await client.containers.create(
            self._helper_config(["true"]),
            name=f"portside-volume-browser-{uuid.uuid4().hex[:8]}",
        )
        self.helper = created["Id"]
        self.files.set_container(self.helper, root=MOUNT)

    def _helper_config(self, cmd: list[str]) -> dict:
        return {
            "Image": self.image,
            "Cmd": cmd,
            "Labels": {HELPER_LABEL: "volume-browser"},
            "HostConfig": {"Binds": [f"{self.volume}:{MOUNT}"], "NetworkMode": "none"},
        }

    async def _delete(self, client: EngineClient, _cid: str, path: str) -> None:
        if path.rstrip("/") == MOUNT:
            raise BadRequest("the volume itself is deleted from the Volumes list, not from here")
        await run_rm_in(client, self._helper_config([]), path)

    def close_volume(self) -> None:
        """Remove the helper container (in the background)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.files.cancel()
        helper, self.helper = self.helper, ""
        client = self.ctx.client
        if helper and client is not None:
            self.ctx.runner.spawn(_remove(client, helper), "remove the volume browser's helper")

    async def shutdown(self) -> None:
        """Remove the helper container now (the app is closing)."""
        helper, self.helper = self.helper, ""
        client = self.ctx.client
        if helper and client is not None:
            await _remove(client, helper)


async def _remove(client: EngineClient, cid: str) -> None:
    with contextlib.suppress(NotFound):
        await client.containers.remove(cid, force=True)
