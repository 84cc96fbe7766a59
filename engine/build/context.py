"""The build context: the uploaded tar, unpacked into a private directory.

The body is streamed through the images area's hostile-tar extractor (every write via
``O_NOFOLLOW`` directory fds, ``../`` and link escapes refused), so a context is never
held in memory and nothing lands outside its directory. Device nodes and whiteout names
have no business in a build context and are refused. ``.dockerignore`` is applied again
here (clients apply it too), and the Dockerfile and ``.dockerignore`` are removed when
they match it, as dockerd does.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import shutil
import stat
from collections.abc import AsyncIterator
from pathlib import Path

from ..errors import InvalidParameter
from ..images.pathsafe import UnsafePath
from ..images.stream import ChunkChannel, DigestReader
from ..images.tarformat import BLOCKDEV, CHAR, LINK, Entry, TarError, TarStream
from ..images.tarsafe import WHITEOUT, ExtractStats, LayerExtractor
from . import dockerfile as df
from .dockerignore import DockerIgnore

MAX_DOCKERFILE = 16 << 20


class ContextExtractor(LayerExtractor):
    """A layer extractor without layer semantics: devices and ``.wh.`` names are refused."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, None, None)

    def run(self, stream: TarStream) -> ExtractStats:
        """Extract every entry. The docker CLI's stream for a Dockerfile from outside
        the context (it splices the file into the tar) can end inside the last entry's
        padding; that end is accepted, as dockerd's reader does."""
        try:
            while True:
                try:
                    entry = stream.next()
                except TarError as e:
                    if "in padding" in str(e):
                        break
                    raise
                if entry is None:
                    break
                self.stats.entries += 1
                self._entry(entry, stream)
            self._apply_dir_times()
        finally:
            self.close()
        return self.stats

    def _entry(self, e: Entry, stream: TarStream) -> None:
        if e.name.startswith(b"/") or (e.type == LINK and e.linkname.startswith(b"/")):
            raise UnsafePath(f"invalid build context entry {e.shown()!r}: absolute path")
        if e.type in (CHAR, BLOCKDEV):
            raise UnsafePath(
                f"invalid build context entry {e.shown()!r}: device nodes are not allowed"
            )
        if os.path.basename(e.name.rstrip(b"/")).startswith(WHITEOUT):
            raise UnsafePath(f"invalid build context entry {e.shown()!r}: reserved name")
        super()._entry(e, stream)


def _extract_sync(src: ChunkChannel, root: Path) -> None:
    reader = DigestReader(src, "auto")
    try:
        ContextExtractor(root).run(TarStream(reader))
        while reader.read(1 << 20):  # the trailer (and anything after it) is read, unused
            pass
    except OSError as e:
        if isinstance(e, InvalidParameter):
            raise
        raise InvalidParameter(f"invalid build context: {e.strerror or e}") from e


async def receive(chunks: AsyncIterator[bytes], root: Path) -> None:
    """Unpack the uploaded context into ``root`` while it arrives."""
    loop = asyncio.get_running_loop()
    channel = ChunkChannel()

    def work() -> None:
        try:
            _extract_sync(channel, root)
        finally:
            channel.reader_done()

    fut = loop.run_in_executor(None, work)
    try:
        await channel.feed(chunks)
        await asyncio.shield(fut)
    except BaseException:
        channel.fail(ConnectionError("build cancelled"))
        await asyncio.wait([fut])
        raise


def resolve_in(root: Path, rel: str, follow_last: bool = True) -> Path:
    """``rel`` resolved inside ``root`` as if ``root`` were ``/`` (symlinks followed,
    never leaving it), as dockerd's FollowSymlinkInScope."""
    parts = [p for p in posixpath.normpath("/" + rel).split("/") if p]
    out: list[str] = []
    hops = 0
    while parts:
        comp = parts.pop(0)
        if comp == "..":
            if out:
                out.pop()
            continue
        if comp == ".":
            continue
        cand = root.joinpath(*out, comp)
        if (parts or follow_last) and cand.is_symlink():
            hops += 1
            if hops > 255:
                raise InvalidParameter(f"too many links in {rel}")
            target = os.readlink(cand)
            if target.startswith("/"):
                out = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        out.append(comp)
    return root.joinpath(*out)


def read_dockerfile(root: Path, name: str) -> tuple[str, bytes]:
    """The Dockerfile's path in the context and its bytes (``Dockerfile``, falling back
    to ``dockerfile``)."""
    candidates = [name] if name != "Dockerfile" else ["Dockerfile", "dockerfile"]
    for cand in candidates:
        path = resolve_in(root, cand)
        try:
            st = path.stat()
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if st.st_size > MAX_DOCKERFILE:
            raise InvalidParameter(f"the Dockerfile ({cand}) is too large")
        data = path.read_bytes()
        if not data.strip():
            raise InvalidParameter(f"the Dockerfile ({cand}) cannot be empty")
        return cand, data
    raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}")


def apply_dockerignore(root: Path, dockerfile_name: str) -> None:
    """Drop what ``.dockerignore`` excludes (the Dockerfile and ``.dockerignore`` only
    when they match it themselves, as dockerd)."""
    path = root / ".dockerignore"
    if not path.is_file() or path.is_symlink():
        return
    ignore = DockerIgnore.parse(path.read_bytes())
    for top, dirs, files in os.walk(root):
        rel_top = os.path.relpath(top, root)
        for name in files:
            rel = name if rel_top == "." else f"{rel_top}/{name}"
            if rel in (".dockerignore", dockerfile_name):
                continue
            if ignore.matches(rel):
                os.unlink(os.path.join(top, name))
        for name in list(dirs):
            rel = name if rel_top == "." else f"{rel_top}/{name}"
            full = os.path.join(top, name)
            if os.path.islink(full):
                if ignore.matches(rel):
                    os.unlink(full)
                dirs.remove(name)
            elif ignore.matches(rel) and not ignore.may_match_inside(rel):
                shutil.rmtree(full)
                dirs.remove(name)
    for special in (dockerfile_name, ".dockerignore"):
        if ignore.matches(special):
            (root / special).unlink(missing_ok=True)


def parse_dockerfile(data: bytes) -> df.Dockerfile:
    """Parse, turning a parse error into the client's 400."""
    try:
        return df.parse(data)
    except df.DockerfileParseError as e:
        raise InvalidParameter(str(e)) from None
