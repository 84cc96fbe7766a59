"""Room to recover from a full disk.

When the data-root's filesystem fills, SQLite can no longer append to its write-ahead log,
so nothing could be recorded — not even the removals that would free space. The engine
therefore keeps a small file of allocated blocks (``reserve``) in the data root and gives
it back the first time a metadata write fails for lack of space: the failing write is
retried in the room it made, removals go through and free real space, and the reserve is
taken again once there is room for it.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

RESERVE_SIZE = 16 << 20
# Taken again only when this much more than the reserve itself is free, so retaking it
# never fills the disk again.
HEADROOM = 64 << 20
RECHECK_EVERY = 5.0


class SpaceReserve:
    """A file of ``size`` allocated bytes that :meth:`release` frees in one unlink."""

    def __init__(self, path: Path, size: int = RESERVE_SIZE) -> None:
        self.path = path
        self.size = size
        self._checked = 0.0

    @property
    def held(self) -> bool:
        return self.path.exists()

    def ensure(self) -> bool:
        """Allocate the reserve if it is missing and the disk has room; whether it is held."""
        if self.held:
            return True
        st = os.statvfs(self.path.parent)
        if st.f_bavail * st.f_frsize < self.size + HEADROOM:
            return False
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.size)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            log.warning("could not reserve %d MiB in %s: %s", self.size >> 20, self.path, e)
            return False
        log.info("reserved %d MiB in %s for recovery from a full disk", self.size >> 20, self.path)
        return True

    def ensure_now_and_then(self) -> None:
        """:meth:`ensure`, at most every few seconds (cheap enough after every write)."""
        now = time.monotonic()
        if now - self._checked >= RECHECK_EVERY:
            self._checked = now
            self.ensure()

    def release(self) -> bool:
        """Free the reserve; False when there was none to free."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        log.warning(
            "the disk holding %s is full: released the %d MiB reserve so that removals "
            "can free space",
            self.path.parent,
            self.size >> 20,
        )
        self._checked = time.monotonic()
        return True
