"""``docker export``: the container's merged root filesystem as a tar stream.

Like Docker, only the rootfs (image layers + the container's changes) — no volumes,
no /proc. The walk stays on the overlay's own device, so nothing mounted inside the
rootfs directory on the host is ever archived.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ...fs.tarwrite import TreeTar, stream_from_thread

if TYPE_CHECKING:
    from .archive import Archives

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


async def export_rootfs(archives: Archives, ref: str) -> AsyncIterator[bytes]:
    """Tar chunks of the rootfs of ``ref`` (mounted for the duration if stopped)."""
    cm = archives.view(ref)
    c, view = await cm.__aenter__()
    try:
        root_fd = os.open(view.root, _OPEN_DIR)
    except BaseException as e:
        await cm.__aexit__(type(e), e, e.__traceback__)
        raise
    archives.containers.emit_event(c, "export")

    def work(emit: Any) -> None:
        tar = TreeTar(emit)
        try:
            root_dev = os.fstat(root_fd).st_dev
            # Docker's export has no entry for the root itself: names start at "bin/".
            for name in sorted(os.listdir(root_fd)):
                tar.add_tree(
                    root_fd,
                    name,
                    name,
                    descend=lambda _arc, st, _parent: st.st_dev == root_dev,
                )
            tar.close()
        finally:
            os.close(root_fd)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in stream_from_thread(work):
                yield chunk
        finally:
            await cm.__aexit__(None, None, None)

    return chunks()
