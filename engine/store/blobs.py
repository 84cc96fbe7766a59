"""Content-addressed blob store: ``<data-root>/blobs/sha256/<hex>``.

Every blob is written to ``blobs/tmp/``, fsynced, its sha256 checked and only then
renamed into place, so a reader never sees a partial or wrong blob and a crash leaves
at most an orphan temp file (removed at the next start). Hashing and disk writes run
in the default executor; the event loop only moves chunks around.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ..errors import InvalidParameter, NotFound, SystemError_

log = logging.getLogger(__name__)

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# Network chunks are small; batching them keeps executor hops to one per MiB.
_FLUSH_BYTES = 1 << 20


class DigestMismatch(InvalidParameter):
    """Content did not hash to the digest it was announced with (400)."""


def check_digest(digest: str) -> str:
    """Validate a ``sha256:<64 hex>`` digest and return it."""
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise InvalidParameter(f"invalid digest {digest!r}: expected sha256:<64 hex digits>")
    return digest


def sha256_digest(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def disk_error(e: OSError, what: str) -> SystemError_:
    """A clear engine error for a failed write (disk full gets its own words)."""
    if e.errno == errno.ENOSPC:
        return SystemError_(f"no space left on device while writing {what}")
    if e.errno == errno.EDQUOT:
        return SystemError_(f"disk quota exceeded while writing {what}")
    return SystemError_(f"writing {what} failed: {e.strerror or e}")


async def run_settled(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking ``fn`` in the executor and return its result.

    If the caller is cancelled meanwhile, ``fn`` still runs to its end before the
    cancellation propagates: the disk is then in its final state when the caller
    cleans up, and no file descriptor is closed under a thread still using it.
    """
    fut = asyncio.get_running_loop().run_in_executor(None, fn, *args)
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        await asyncio.wait([fut])
        if not fut.cancelled():
            fut.exception()  # retrieved: the cancellation is what the caller sees
        raise


def fsync_dir(path: Path) -> None:
    """Persist a rename in ``path`` (the directory entry, not only the file data)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _TempBlob:
    """A temp file in ``blobs/tmp`` being filled and hashed (used from one thread at a time)."""

    def __init__(self, tmp_dir: Path) -> None:
        self.path = tmp_dir / uuid.uuid4().hex
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += len(data)

    def finish(self) -> str:
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        return "sha256:" + self.hash.hexdigest()

    def discard(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class ContentStore:
    """Blobs (image configs, manifests, layer blobs) addressed by their sha256."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "sha256"
        self.tmp = root / "tmp"
        self._locks: dict[str, list[Any]] = {}

    def start(self) -> None:
        """Create the directories and remove temp files a crash left behind."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            for orphan in self.tmp.iterdir():
                log.info("removing orphan temp blob %s", orphan.name)
                if orphan.is_dir() and not orphan.is_symlink():
                    shutil.rmtree(orphan, ignore_errors=True)
                else:
                    orphan.unlink(missing_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    # -- lookups -----------------------------------------------------------------------
    def path(self, digest: str) -> Path:
        """Where the blob with ``digest`` lives (whether or not it exists)."""
        return self.dir / check_digest(digest)[7:]

    def has(self, digest: str) -> bool:
        """Whether the blob is stored."""
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        """Size in bytes of a stored blob."""
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    async def read(self, digest: str) -> bytes:
        """The whole blob (meant for configs and manifests, not layers)."""
        path = self.path(digest)
        try:
            return await run_settled(path.read_bytes)
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    # -- writes ------------------------------------------------------------------------
    async def write(self, data: bytes, expected_digest: str | None = None) -> str:
        """Store ``data``; returns its digest. Raises DigestMismatch when it differs.

        If cancelled, nothing new is left behind.
        """
        if expected_digest is not None:
            check_digest(expected_digest)
        data = bytes(data)
        digest = sha256_digest(data)
        if expected_digest is not None and digest != expected_digest:
            raise DigestMismatch(f"digest mismatch: expected {expected_digest}, got {digest}")
        if self.has(digest):
            return digest
        tmp = await run_settled(self._new_temp, digest)
        try:
            try:
                await run_settled(self._stage, tmp, data)
            except OSError as e:
                raise disk_error(e, f"blob {digest}") from e
            await self._publish_once(tmp, digest)
        except BaseException:
            tmp.discard()
            raise
        return digest

    @staticmethod
    def _stage(tmp: _TempBlob, data: bytes) -> None:
        tmp.write(data)
        tmp.finish()

    async def ingest(
        self,
        chunks: AsyncIterator[bytes],
        expected_digest: str,
        expected_size: int | None = None,
    ) -> str:
        """Stream ``chunks`` into the store, verifying sha256 (and size) on the way.

        Nothing is left behind when the content is wrong, the stream fails or the
        caller is cancelled. Returns the digest.
        """
        check_digest(expected_digest)
        tmp = await run_settled(self._new_temp, expected_digest)

        async def disk(fn: Callable[..., Any], *args: Any) -> Any:
            # Only our own writes become "disk" errors; a failing source keeps its error.
            try:
                return await run_settled(fn, *args)
            except OSError as e:
                raise disk_error(e, f"blob {expected_digest}") from e

        pending: list[bytes] = []
        pending_len = 0
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                pending.append(bytes(chunk))
                pending_len += len(chunk)
                if expected_size is not None and tmp.size + pending_len > expected_size:
                    raise DigestMismatch(
                        f"blob {expected_digest} is larger than the expected {expected_size} bytes"
                    )
                if pending_len >= _FLUSH_BYTES:
                    await disk(tmp.write, b"".join(pending))
                    pending, pending_len = [], 0
            if pending:
                await disk(tmp.write, b"".join(pending))
            if expected_size is not None and tmp.size != expected_size:
                raise DigestMismatch(
                    f"blob {expected_digest} has {tmp.size} bytes, expected {expected_size}"
                )
            digest = await disk(tmp.finish)
            if digest != expected_digest:
                raise DigestMismatch(f"digest mismatch: expected {expected_digest}, got {digest}")
            await self._publish_once(tmp, digest)
            return digest
        except BaseException:
            tmp.discard()
            raise

    def digests(self) -> set[str]:
        """Every stored blob's digest."""
        return {
            f"sha256:{f.name}" for f in self.dir.iterdir() if _DIGEST_RE.match(f"sha256:{f.name}")
        }

    async def delete(self, digest: str) -> None:
        """Remove a blob (no error when it is already gone)."""
        async with self._lock(digest):
            self.path(digest).unlink(missing_ok=True)

    # -- helpers -----------------------------------------------------------------------
    def _new_temp(self, what: str) -> _TempBlob:
        try:
            return _TempBlob(self.tmp)
        except OSError as e:
            raise disk_error(e, f"blob {what}") from e

    @asynccontextmanager
    async def _lock(self, digest: str) -> AsyncIterator[None]:
        """Serialise publishing and deleting one digest (entries vanish when unused)."""
        entry = self._locks.setdefault(digest, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[digest]

    async def _publish_once(self, tmp: _TempBlob, digest: str) -> None:
        """Rename a verified temp file into place.

        If the caller is cancelled here, the rename still completes (run_settled) and
        is then undone when the blob is new, so a cancelled write leaves nothing; the
        lock keeps a concurrent writer of the same digest from being undone with it.
        """
        async with self._lock(digest):
            existed = self.has(digest)
            try:
                await run_settled(self._publish, tmp, digest)
            except asyncio.CancelledError:
                if not existed:
                    self.path(digest).unlink(missing_ok=True)
                raise
            except OSError as e:
                raise disk_error(e, f"blob {digest}") from e

    def _publish(self, tmp: _TempBlob, digest: str) -> None:
        """Rename a verified temp file into place (atomic; a racing writer is harmless)."""
        os.replace(tmp.path, self.path(digest))
        fsync_dir(self.dir)
