"""Changing a container's files: upload, new folder, delete, read the start of a file.

Writes go through ``PUT /containers/{id}/archive`` (works on stopped containers too).
The archive API cannot delete, so deleting runs ``rm`` inside the container: through
exec in a running one, or in a one-shot container sharing the same mounts (see
``run_rm_in``), which is how a volume is changed without a container using it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import posixpath
import tarfile
import tempfile
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

from .archive import TarEntry, iter_tar
from .client import EngineClient
from .errors import BadRequest, Conflict

UPLOAD_CHUNK = 256 * 1024
VIEW_LIMIT = 2 * 1024 * 1024  # bytes of a file the viewer reads


def directory_tar(name: str, mode: int = 0o755) -> bytes:
    """A tar holding one empty directory ``name`` (a new folder, through PUT archive)."""
    if not name or "/" in name or name in (".", ".."):
        raise BadRequest(f"not a folder name: {name!r}")
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = int(time.time())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info)
    return buf.getvalue()


def write_upload_tar(sources: Sequence[Path], dest: Any) -> int:
    """Write a tar of local files and folders (recursively, under their own names) into
    the binary file ``dest``; returns its size. Blocking: run it on a thread."""
    with tarfile.open(fileobj=dest, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for src in sources:
            tar.add(str(src), arcname=src.name, recursive=True)
    dest.flush()
    return int(dest.tell())


async def _file_chunks(
    f: Any, total: int, progress: Callable[[int, int], None]
) -> AsyncGenerator[bytes, None]:
    loop = asyncio.get_running_loop()
    done = 0
    f.seek(0)
    while True:
        chunk = await loop.run_in_executor(None, f.read, UPLOAD_CHUNK)
        if not chunk:
            return
        done += len(chunk)
        progress(done, total)
        yield chunk


async def upload(
    client: EngineClient,
    cid: str,
    directory: str,
    sources: Sequence[Path],
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Copy local files and folders into ``directory`` of the container; ``progress(done,
    total)`` follows the bytes sent. Returns the bytes sent. Cancelling stops the
    transfer (the engine sees the body end early and keeps nothing half-written that it
    had not already extracted)."""
    loop = asyncio.get_running_loop()
    fd, name = tempfile.mkstemp(prefix="portside-upload-", suffix=".tar")
    try:
        with os.fdopen(fd, "w+b") as f:
            total = await loop.run_in_executor(None, write_upload_tar, list(sources), f)
            await client.containers.put_archive(cid, directory, _file_chunks(f, total, progress))
            return total
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


async def make_directory(client: EngineClient, cid: str, parent: str, name: str) -> str:
    """Create folder ``name`` in ``parent``; returns its path."""
    await client.containers.put_archive(cid, parent, directory_tar(name))
    return posixpath.join(parent, name)


async def delete_by_exec(client: EngineClient, cid: str, path: str) -> None:
    """Delete ``path`` (recursively) with ``rm`` run inside the running container."""
    if path in ("", "/"):
        raise BadRequest("refusing to delete the root directory")
    info = await client.containers.inspect(cid)
    if not (info.get("State") or {}).get("Running"):
        raise Conflict(
            "the container is not running: the engine has no API to delete a file, "
            "so Portside runs rm inside the container"
        )
    code, out, err = await client.exec.run(cid, ["rm", "-rf", "--", path])
    if code != 0:
        raise BadRequest(_first_line(err or out) or f"rm exited with status {code}")


async def run_rm_in(
    client: EngineClient, config: dict[str, Any], path: str, name: str | None = None
) -> None:
    """Delete ``path`` with ``rm`` in a one-shot container made from ``config`` (an
    image and the mounts to reach the path), removed afterwards."""
    if path in ("", "/"):
        raise BadRequest("refusing to delete the root directory")
    body = {**config, "Cmd": ["rm", "-rf", "--", path], "Entrypoint": []}
    cid = (await client.containers.create(body, name=name))["Id"]
    try:
        await client.containers.start(cid)
        result = await client.containers.wait(cid)
        code = int(result.get("StatusCode") or 0)
        if code != 0:
            text = "\n".join([line.text async for line in client.containers.logs(cid)])
            raise BadRequest(_first_line(text.encode()) or f"rm exited with status {code}")
    finally:
        await client.containers.remove(cid, force=True)


class _Enough(Exception):
    """The viewer has read as much of a file as it shows."""


async def read_head(
    client: EngineClient, cid: str, path: str, limit: int = VIEW_LIMIT
) -> tuple[bytes, int]:
    """The first ``limit`` bytes of the file at ``path`` and its full size."""
    data = bytearray()
    size = 0

    async def keep(_entry: TarEntry, piece: bytes) -> None:
        data.extend(piece[: limit - len(data)])
        if len(data) >= limit:
            raise _Enough  # closes the archive stream: the rest is never read

    try:
        async for entry in iter_tar(client.containers.get_archive(cid, path), keep):
            size = entry.size
            if entry.kind != "file":
                raise BadRequest(f"{path} is not a regular file")
    except _Enough:
        pass
    return bytes(data), size


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else ""
