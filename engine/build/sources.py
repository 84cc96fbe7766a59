"""Where COPY/ADD read from: the build context (a stored tar and its index) or a
directory (a read-only view of a stage or image, ADD downloads).

The context is kept as the uploaded tar itself, indexed by path: a build that hits the
cache never creates (or later deletes) one file per context entry, which on a busy disk
cost seconds per ten thousand files. Symlinks resolve inside the tree as if it were
``/``, in both kinds of source.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from ..errors import InvalidParameter

DIR, FILE, SYMLINK, OTHER = "dir", "file", "symlink", "other"
MAX_HOPS = 255


@dataclass
class Info:
    """What COPY needs to know of an entry."""

    kind: str
    mode: int  # permission bits
    size: int
    mtime: float


class Source(Protocol):
    """A tree COPY/ADD can read."""

    def info(self, rel: str) -> Info | None: ...
    def listdir(self, rel: str) -> list[str]: ...
    def readlink(self, rel: str) -> str: ...
    def open(self, rel: str) -> IO[bytes]: ...


def split(rel: str) -> list[str]:
    """Path components, ``..`` clamped at the root (as if chrooted)."""
    out: list[str] = []
    for comp in rel.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if out:
                out.pop()
            continue
        out.append(comp)
    return out


def resolve(src: Source, rel: str, follow_last: bool = True) -> str:
    """``rel`` with every symlink followed inside the tree (FollowSymlinkInScope)."""
    parts = split(rel)
    done: list[str] = []
    hops = 0
    while parts:
        comp = parts.pop(0)
        if comp == "..":
            if done:
                done.pop()
            continue
        cand = "/".join([*done, comp])
        info = src.info(cand)
        if info is not None and info.kind == SYMLINK and (parts or follow_last):
            hops += 1
            if hops > MAX_HOPS:
                raise InvalidParameter(f"too many links in {rel}")
            target = src.readlink(cand)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        done.append(comp)
    return "/".join(done)


class DirSource:
    """A directory on the host, read without following symlinks out of it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, rel: str) -> Path:
        return self.root.joinpath(*split(rel))

    def info(self, rel: str) -> Info | None:
        try:
            st = os.lstat(self._path(rel))
        except (FileNotFoundError, NotADirectoryError):
            return None
        mode = st.st_mode
        kind = (
            DIR
            if stat.S_ISDIR(mode)
            else FILE
            if stat.S_ISREG(mode)
            else SYMLINK
            if stat.S_ISLNK(mode)
            else OTHER
        )
        return Info(kind, stat.S_IMODE(mode), st.st_size, st.st_mtime)

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self._path(rel)))
        except OSError:
            return []

    def readlink(self, rel: str) -> str:
        return os.readlink(self._path(rel))

    def open(self, rel: str) -> IO[bytes]:
        fd = os.open(self._path(rel), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return os.fdopen(fd, "rb")


@dataclass
class Node:
    """One context entry: where its payload lies in the stored tar."""

    info: Info
    offset: int = 0
    linkname: str = ""


class _Slice(io.RawIOBase):
    """A seekable window onto the stored tar (one entry's payload)."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        self._f = open(path, "rb")
        self._start = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        n = min(len(view), self._size - self._pos)
        if n <= 0:
            return 0
        self._f.seek(self._start + self._pos)
        data = self._f.read(n)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._f.close()
        super().close()


class TarSource:
    """The build context: the uploaded tar (uncompressed, on disk) and its index."""

    def __init__(self, tar_path: Path) -> None:
        self.tar_path = tar_path
        self.nodes: dict[str, Node] = {"": Node(Info(DIR, 0o755, 0, 0.0))}
        self.children: dict[str, set[str]] = {"": set()}

    def info(self, rel: str) -> Info | None:
        node = self.nodes.get("/".join(split(rel)))
        return node.info if node else None

    def listdir(self, rel: str) -> list[str]:
        return sorted(self.children.get("/".join(split(rel)), ()))

    def readlink(self, rel: str) -> str:
        return self.nodes["/".join(split(rel))].linkname

    def open(self, rel: str) -> IO[bytes]:
        node = self.nodes["/".join(split(rel))]
        return io.BufferedReader(_Slice(self.tar_path, node.offset, node.info.size), 1 << 20)

    # -- building the index -----------------------------------------------------------
    def put(self, rel: str, node: Node) -> None:
        """Add or replace an entry (a later tar entry wins, as extraction would)."""
        old = self.nodes.get(rel)
        if old is not None and old.info.kind == DIR and node.info.kind == DIR:
            old.info = node.info
            return
        if old is not None:
            self.remove(rel)
        parent = posixpath.dirname(rel)
        self._ensure_dir(parent)
        self.nodes[rel] = node
        self.children[parent].add(posixpath.basename(rel))
        if node.info.kind == DIR:
            self.children.setdefault(rel, set())

    def _ensure_dir(self, rel: str) -> None:
        if rel in self.nodes:
            return
        self.put(rel, Node(Info(DIR, 0o755, 0, 0.0)))

    def remove(self, rel: str) -> None:
        """Drop an entry and everything under it."""
        node = self.nodes.pop(rel, None)
        if node is None:
            return
        for child in list(self.children.pop(rel, ())):
            self.remove(f"{rel}/{child}" if rel else child)
        parent = posixpath.dirname(rel)
        self.children.get(parent, set()).discard(posixpath.basename(rel))
