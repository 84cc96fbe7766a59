"""A tiny asyncio wrapper over Linux inotify (ctypes), used to follow log files."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from pathlib import Path

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_MOVE_SELF = 0x800
IN_DELETE_SELF = 0x400
IN_CREATE = 0x100
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC


class Watch:
    """Wakes :meth:`wait` whenever any watched path changes."""

    def __init__(self) -> None:
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.fd = fd
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._loop.add_reader(fd, self._readable)

    def add(self, path: Path, mask: int = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE) -> None:
        """Watch ``path`` (a file or a directory)."""
        if _libc.inotify_add_watch(self.fd, str(path).encode(), mask) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path} failed")

    def _readable(self) -> None:
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass
        self._event.set()

    async def wait(self, limit: float | None = None) -> bool:
        """Wait for a change (True) or ``limit`` seconds (False)."""
        try:
            await asyncio.wait_for(self._event.wait(), limit)
        except TimeoutError:
            return False
        self._event.clear()
        return True

    def close(self) -> None:
        """Release the inotify descriptor."""
        if self.fd >= 0:
            self._loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
