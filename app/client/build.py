"""Building images: a context folder as a tar stream, and reading ``/build``'s messages.

``.dockerignore`` is applied here, as the docker CLI does: dockerd's classic builder only
drops the Dockerfile and ``.dockerignore`` themselves, so a client that sent ignored files
would get them in the image. Its rules come from the engine's pure matcher
(``portside.engine.dockerignore``), the one module of the engine the app may import
(tests/test_packaging.py), so client and server cannot disagree. Packing runs in a
thread into a spooled temporary file, so a large context neither blocks the event loop
nor sits in memory.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import tarfile
import tempfile
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from portside.engine.dockerignore import DockerIgnore

CHUNK = 1 << 20
_STEP = re.compile(r"^Step (\d+)/(\d+) : ?(.*)$")
_BUILT = re.compile(r"^Successfully built ([0-9a-f]+)")
_TAGGED = re.compile(r"^Successfully tagged (\S+)")


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # The docker CLI sends every context file as 0:0; host owners mean nothing in an image.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack_context(folder: str | Path, dockerfile: str | Path | None, out: IO[bytes]) -> str:
    """Write ``folder`` as a tar to ``out``; returns the Dockerfile's name inside it.

    ``dockerfile`` relative to ``folder`` (or an absolute path inside it) is sent as is; a
    Dockerfile outside the folder is added under a generated name, as the docker CLI does.
    Blocking: call it in a thread.
    """
    root = Path(folder).resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"the build context {folder} is not a folder")
    name = "Dockerfile"
    extra: Path | None = None
    if dockerfile:
        path = Path(dockerfile)
        full = (path if path.is_absolute() else root / path).resolve()
        if full.is_relative_to(root):
            name = full.relative_to(root).as_posix()
        else:
            extra = full
            name = f".dockerfile.{secrets.token_hex(10)}"
    ignore_file = root / ".dockerignore"
    ignore = DockerIgnore.parse(ignore_file.read_bytes()) if ignore_file.is_file() else None
    # The Dockerfile and .dockerignore always go: the engine needs them, and drops them
    # from the image itself when .dockerignore lists them.
    always = {name, ".dockerignore"}
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, arcname in _context_entries(root, ignore, always):
            tar.add(path, arcname=arcname, recursive=False, filter=_as_root)
        if extra is not None:
            tar.add(extra, arcname=name, recursive=False, filter=_as_root)
    return name


def _context_entries(
    root: Path, ignore: DockerIgnore | None, always: set[str]
) -> list[tuple[Path, str]]:
    """Every path of the context in tar order, less what ``.dockerignore`` leaves out.

    A left-out directory is still walked when a ``!`` pattern may bring something back
    from inside it; that something is then sent with its parent directories.
    """
    found: list[tuple[Path, str]] = []
    sent_dirs: set[str] = set()

    def send(path: Path, rel: str) -> None:
        parent = rel.rpartition("/")[0]
        missing = []
        while parent and parent not in sent_dirs:
            missing.append(parent)
            parent = parent.rpartition("/")[0]
        for directory in reversed(missing):
            sent_dirs.add(directory)
            found.append((root / directory, directory))
        found.append((path, rel))

    def walk(folder: Path, prefix: str) -> None:
        for entry in sorted(os.listdir(folder)):
            path = folder / entry
            rel = f"{prefix}{entry}"
            left_out = ignore is not None and rel not in always and ignore.matches(rel)
            is_dir = path.is_dir() and not path.is_symlink()
            if not left_out:
                send(path, rel)
                if is_dir:
                    sent_dirs.add(rel)
            if is_dir and (not left_out or (ignore is not None and ignore.may_match_inside(rel))):
                walk(path, rel + "/")

    walk(root, "")
    return found


@dataclass
class PackedContext:
    """A packed build context ready to stream; ``close()`` frees its spool."""

    file: IO[bytes]
    dockerfile: str
    size: int

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        self.file.seek(0)
        while True:
            chunk = await asyncio.to_thread(self.file.read, CHUNK)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        self.file.close()


async def packed_context(folder: str | Path, dockerfile: str | Path | None = None) -> PackedContext:
    """Pack ``folder`` in a thread (see :func:`pack_context`)."""
    # Owned by the PackedContext returned (closed by its caller).
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)

    def work() -> PackedContext:
        name = pack_context(folder, dockerfile, spool)
        return PackedContext(spool, name, spool.tell())

    try:
        return await asyncio.to_thread(work)
    except BaseException:
        spool.close()
        raise


@dataclass
class BuildProgress:
    """What a classic build has said so far: output lines, the current step, the result."""

    lines: list[str] = field(default_factory=list)
    step: int = 0
    steps: int = 0
    instruction: str = ""
    image_id: str | None = None
    tags: list[str] = field(default_factory=list)
    error: str | None = None
    _partial: str = ""

    def feed(self, msg: dict[str, Any]) -> None:
        """Take one decoded ``/build`` message."""
        aux = msg.get("aux")
        if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
            self.image_id = aux["ID"]
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            self.error = str(msg.get("error") or detail.get("message") or "unknown error")
            self._add(self.error + "\n")
        text = msg.get("stream")
        if isinstance(text, str):
            self._add(text)
        status = msg.get("status")
        if isinstance(status, str):  # a pull of the base image
            progress = msg.get("progress") or ""
            ident = msg.get("id")
            self._add(f"{ident + ': ' if ident else ''}{status} {progress}".rstrip() + "\n")

    def _add(self, text: str) -> None:
        text = self._partial + text
        *complete, self._partial = text.split("\n")
        for line in complete:
            self.lines.append(line)
            m = _STEP.match(line)
            if m:
                self.step, self.steps, self.instruction = int(m[1]), int(m[2]), m[3]
            m = _BUILT.match(line)
            if m and self.image_id is None:
                self.image_id = m[1]
            m = _TAGGED.match(line)
            if m:
                self.tags.append(m[1])

    def finish(self) -> None:
        """Flush a last line that came without its newline."""
        if self._partial:
            self._add("\n")
