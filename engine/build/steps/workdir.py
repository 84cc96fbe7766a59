"""WORKDIR's directory, made as dockerd's classic builder makes it.

dockerd (``dispatchWorkdir`` → ``ContainerCreateWorkdir``) creates a container, makes
its working directory with ``MkdirAllAndChownNew(path, 0755, root)`` and commits the
container: new directories are root's whatever USER says, existing ones are left as
they are, symlinks resolve inside the image, a non-directory in the way fails the step
with "Cannot mkdir: <path> is not a directory", and when nothing was created the commit
has an empty diff, so the history entry is an empty layer.

Here no container is needed: the path is resolved in a read-only view of the image and
the layer holds the new directories plus the existing ones above them (what overlayfs'
copy-up puts in a container's diff).
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import InvalidParameter
from ...images.layers import PendingLayer

MAX_SYMLINKS = 40


@dataclass
class DirEntry:
    """One directory of the layer, by its path relative to the image's root."""

    arc: str
    mode: int
    uid: int
    gid: int
    mtime: int


def _not_a_directory(workdir: str) -> InvalidParameter:
    return InvalidParameter(f"Cannot mkdir: {workdir} is not a directory")


def plan(root: Path | None, workdir: str) -> list[DirEntry]:
    """The directories the layer must hold to make ``workdir`` exist in the image whose
    merged files are at ``root`` (None: an empty stage); [] when it exists already
    (blocking: it reads the image's files)."""
    # dockerd cleans the path before resolving it: its ".." are lexical; only those
    # of symlink targets are met while walking.
    workdir = "/" + posixpath.normpath("/" + workdir).lstrip("/")
    pending = [p for p in workdir.split("/") if p not in ("", ".")]
    done: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        here = "/".join([*done, part])
        try:
            st = os.lstat(root / here) if root is not None else None
        except FileNotFoundError:
            st = None
        except NotADirectoryError:
            raise _not_a_directory(workdir) from None
        if st is None:
            return _layer(root, done, [part, *pending])
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > MAX_SYMLINKS:
                raise InvalidParameter(f"too many levels of symbolic links in {workdir}")
            assert root is not None
            target = os.readlink(root / here)
            if target.startswith("/"):
                done = []
            pending = [p for p in target.split("/") if p not in ("", ".")] + pending
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise _not_a_directory(workdir)
        done.append(part)
    return []


def _layer(root: Path | None, existing: list[str], missing: list[str]) -> list[DirEntry]:
    """Existing directories keep their metadata (the one the first new directory goes
    into gets a new mtime, as its copy-up would); new ones are root's, 0755."""
    now = int(time.time())
    entries: list[DirEntry] = []
    for i in range(1, len(existing) + 1):
        assert root is not None
        arc = "/".join(existing[:i])
        st = os.lstat(root / arc)
        mtime = now if i == len(existing) else int(st.st_mtime)
        entries.append(DirEntry(arc, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, mtime))
    made = list(existing)
    for part in missing:
        if part == "..":
            # Past a missing directory ".." only climbs back within the new ones.
            if len(made) > len(existing):
                made.pop()
            continue
        made.append(part)
        entries.append(DirEntry("/".join(made), 0o755, 0, 0, now))
    return entries


def layer_tar(entries: list[DirEntry]) -> bytes:
    """The layer's tar: directory headers only, so a few KiB at most."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            ti = tarfile.TarInfo(e.arc + "/")
            ti.type = tarfile.DIRTYPE
            ti.mode, ti.uid, ti.gid, ti.mtime = e.mode, e.uid, e.gid, e.mtime
            ti.uname = ti.gname = ""
            tar.addfile(ti)
    return buf.getvalue()


async def write_layer(images: Any, entries: list[DirEntry]) -> PendingLayer:
    """Write the directories as a layer into the layer store (not yet committed)."""
    data = layer_tar(entries)

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    pending: PendingLayer = await images.layers.extract(chunks(), compression="none")
    return pending
