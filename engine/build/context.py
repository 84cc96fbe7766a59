"""The build context: the uploaded tar, stored as it is and indexed by path.

The body goes through the images area's decompressor (gzip/bzip2/xz/zstd sniffed by
magic) into one file in the build's private directory while it arrives — never whole
in memory — and is then indexed (:class:`~.sources.TarSource`). Nothing is ever
written by an entry's name, and hostile entries are refused anyway with a 400:
absolute names, ``../`` escapes, entries below a symlink, hard links to what is not
in the archive, device nodes and whiteout names. ``.dockerignore`` is applied to the
index, and the Dockerfile and ``.dockerignore`` are dropped when they match it, as
dockerd does.
"""

from __future__ import annotations

import asyncio
import os
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..dockerignore import DockerIgnore
from ..errors import InvalidParameter
from ..fs import pathsafe
from ..fs.pathsafe import UnsafePath
from ..fs.stream import ChunkChannel, DigestReader, detect_compression
from . import dockerfile as df
from .sources import DIR, FILE, OTHER, SYMLINK, Info, Node, TarSource, resolve

MAX_DOCKERFILE = 16 << 20
_CHUNK = 1 << 20


class _Prefixed:
    """Bytes already read, then the rest of the channel (an uncompressed context is
    stored as it comes, without the decompressor's hashing in the way)."""

    def __init__(self, head: bytes, src: ChunkChannel) -> None:
        self._head = head
        self._src = src

    def read(self, n: int) -> bytes:
        if self._head:
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._src.read(n)


def _store_sync(src: ChunkChannel, path: Path, limit: int | None = None) -> int:
    """Store the uncompressed tar; returns its size as received. Zeros are appended up
    to the next block and a trailer: the docker CLI's stream for a Dockerfile from outside
    the context (spliced into the tar) can end inside the last entry's padding, which
    dockerd's reader accepts; payloads cut short are still caught by the index. Past
    ``limit`` uncompressed bytes the context is refused (contexts the engine fetches)."""
    first = src.read(_CHUNK)
    while 0 < len(first) < 16 and (more := src.read(_CHUNK)):
        first += more
    reader: Any = _Prefixed(first, src)
    if detect_compression(first) != "none":
        reader = DigestReader(reader, "auto")
    size = 0
    with open(path, "wb") as f:
        while chunk := reader.read(_CHUNK):
            f.write(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                raise InvalidParameter(
                    f"the build context is larger than the limit of {limit >> 20} MiB"
                )
        if size:
            f.write(b"\0" * (-size % 512 + 1024))
    return size


def _refuse(name: str, why: str) -> UnsafePath:
    return UnsafePath(f"invalid build context entry {name!r}: {why}")


def index(path: Path, size: int) -> TarSource:
    """Index the stored tar (``size`` bytes were received), refusing hostile entries
    (blocking)."""
    tree = TarSource(path)
    if size == 0:
        return tree
    try:
        tf = tarfile.open(path, "r:", encoding="utf-8", errors="surrogateescape")
    except tarfile.TarError as e:
        raise InvalidParameter(f"invalid build context: {e}") from None
    with tf:
        try:
            for m in tf:
                _add(tree, m, size)
        except tarfile.TarError as e:
            raise InvalidParameter(f"invalid build context: {e}") from None
        end = tf.offset
    # A header cut short ends tarfile's iteration silently: what follows the last entry
    # must be the zero blocks of the trailer (or nothing, see _add).
    if end < size:
        with open(path, "rb") as f:
            f.seek(end)
            while block := f.read(_CHUNK):
                if block.strip(b"\0"):
                    raise InvalidParameter("invalid build context: unexpected end of tar archive")
    return tree


def _add(tree: TarSource, m: tarfile.TarInfo, size: int) -> None:
    name = m.name
    if name.startswith("/") or (m.islnk() and m.linkname.startswith("/")):
        raise _refuse(name, "absolute path")
    parts = [p.decode("utf-8", "surrogateescape") for p in pathsafe.clean(os.fsencode(name))]
    if not parts:
        return
    if m.ischr() or m.isblk():
        raise _refuse(name, "device nodes are not allowed")
    if parts[-1].startswith(".wh."):
        raise _refuse(name, "reserved name")
    for i in range(1, len(parts)):
        above = tree.nodes.get("/".join(parts[:i]))
        if above is not None and above.info.kind != DIR:
            raise _refuse(name, f"{'/'.join(parts[:i])!r} is not a directory")
    rel = "/".join(parts)
    info = Info(OTHER, m.mode & 0o7777, 0, float(m.mtime))
    if m.isdir():
        info.kind = DIR
        tree.put(rel, Node(info))
    elif m.isreg():
        if m.offset_data + m.size > size:
            raise InvalidParameter("invalid build context: unexpected end of tar archive")
        info.kind, info.size = FILE, m.size
        tree.put(rel, Node(info, offset=m.offset_data))
    elif m.issym():
        if not m.linkname:
            raise _refuse(name, "symlink without a target")
        info.kind, info.size = SYMLINK, len(m.linkname)
        tree.put(rel, Node(info, linkname=m.linkname))
    elif m.islnk():
        target = "/".join(
            p.decode("utf-8", "surrogateescape") for p in pathsafe.clean(os.fsencode(m.linkname))
        )
        node = tree.nodes.get(target)
        if node is None or node.info.kind != FILE:
            raise _refuse(name, f"hard link target {m.linkname!r} is not in the context")
        tree.put(rel, Node(Info(FILE, node.info.mode, node.info.size, float(m.mtime)), node.offset))
    else:
        tree.put(rel, Node(info))


async def receive(
    chunks: AsyncIterator[bytes], workdir: Path, limit: int | None = None
) -> TarSource:
    """Store the uploaded context under ``workdir`` while it arrives; index it."""
    loop = asyncio.get_running_loop()
    channel = ChunkChannel()
    path = workdir / "context.tar"

    def work() -> int:
        try:
            return _store_sync(channel, path, limit)
        finally:
            channel.reader_done()

    fut = loop.run_in_executor(None, work)
    try:
        await channel.feed(chunks)
        size = await asyncio.shield(fut)
    except BaseException:
        channel.fail(ConnectionError("build cancelled"))
        await asyncio.wait([fut])
        raise
    return await loop.run_in_executor(None, index, path, size)


def read_dockerfile(tree: TarSource, name: str) -> tuple[str, bytes]:
    """The Dockerfile's path in the context and its bytes (``Dockerfile``, falling back
    to ``dockerfile``)."""
    candidates = [name] if name != "Dockerfile" else ["Dockerfile", "dockerfile"]
    for cand in candidates:
        rel = resolve(tree, cand)
        info = tree.info(rel)
        if info is None or info.kind != FILE:
            continue
        if info.size > MAX_DOCKERFILE:
            raise InvalidParameter(f"the Dockerfile ({cand}) is too large")
        with tree.open(rel) as f:
            data = f.read()
        if not data.strip():
            raise InvalidParameter(f"the Dockerfile ({cand}) cannot be empty")
        return rel, data
    raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}")


def apply_dockerignore(tree: TarSource, dockerfile_name: str) -> None:
    """Drop what ``.dockerignore`` excludes (the Dockerfile and ``.dockerignore`` only
    when they match it themselves, as dockerd)."""
    node = tree.nodes.get(".dockerignore")
    if node is None or node.info.kind != FILE:
        return
    with tree.open(".dockerignore") as f:
        ignore = DockerIgnore.parse(f.read(MAX_DOCKERFILE))
    for rel in sorted(tree.nodes):
        if not rel or rel not in tree.nodes or rel in (".dockerignore", dockerfile_name):
            continue
        if not ignore.matches(rel):
            continue
        if tree.nodes[rel].info.kind == DIR and ignore.may_match_inside(rel):
            continue
        tree.remove(rel)
    for special in (dockerfile_name, ".dockerignore"):
        if ignore.matches(special):
            tree.remove(special)


def parse_dockerfile(data: bytes) -> df.Dockerfile:
    """Parse, turning a parse error into the client's 400."""
    try:
        return df.parse(data)
    except df.DockerfileParseError as e:
        raise InvalidParameter(str(e)) from None
