"""Terminal helpers shared by container attach and exec: detach keys and resizes.

Detach keys follow Docker's ``term.ToBytes``: a comma-separated list of single
characters or ``ctrl-<x>`` combinations; the default is ``ctrl-p,ctrl-q``. The
scanner holds back bytes that could be the start of the sequence, so nothing of a
completed sequence reaches the container, and a broken one is passed on intact.

Resizes go through conmon's control fifo (``<bundle>/ctl``): one line
``1 <height> <width>`` per resize; conmon applies it to the pty master with
``TIOCSWINSZ`` and the kernel sends the shell SIGWINCH.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import termios
from pathlib import Path
from typing import Any

from ...errors import InvalidParameter
from ..hooks import ContainerHook
from ..model import Container

log = logging.getLogger(__name__)

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL_SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(spec: str | None, what: str = "detach keys") -> bytes:
    """The byte sequence for ``spec`` (Docker's default when empty).

    Raises :class:`InvalidParameter` with Docker's wording for unknown keys.
    """
    if not spec:
        spec = DEFAULT_DETACH_KEYS
    out = bytearray()
    for key in spec.split(","):
        if len(key) == 1:
            out.append(ord(key) & 0xFF)
            continue
        low = key.lower()
        if len(low) == 6 and low.startswith("ctrl-"):
            ch = low[5]
            if "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
                continue
            if ch in _CTRL_SPECIAL:
                out.append(_CTRL_SPECIAL[ch])
                continue
        raise InvalidParameter(f"Invalid {what} ({spec}) provided")
    return bytes(out)


class DetachScanner:
    """Watches a byte stream for the detach sequence.

    :meth:`feed` returns the bytes that may be forwarded now and whether the sequence
    was completed (everything after it is dropped, as Docker does).
    """

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = b""  # a proper prefix of ``keys`` seen so far

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Scan ``data``; ``(forwardable bytes, detached)``."""
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            candidate = self._held + bytes((b,))
            if self.keys.startswith(candidate):
                if len(candidate) == len(self.keys):
                    self._held = b""
                    return bytes(out), True
                self._held = candidate
                continue
            # Mismatch: the held bytes were ordinary input after all.
            out += self._held
            self._held = b""
            if self.keys[:1] == bytes((b,)):
                self._held = bytes((b,))
                if len(self.keys) == 1:
                    self._held = b""
                    return bytes(out), True
            else:
                out.append(b)
        return bytes(out), False

    def flush(self) -> bytes:
        """Bytes still held back (at end of input they were ordinary input)."""
        held, self._held = self._held, b""
        return held


def resize_tty(pid: int | None, bundle: Path, height: int, width: int) -> bool:
    """Resize the pty of ``pid`` now; conmon's control fifo is the fallback.

    conmon applies a fifo request whenever its main loop gets to it, so a command run right
    after the API answered could still see the old size. Setting the size on the process's own
    terminal (reopened through /proc) takes effect before we answer, as dockerd's does.
    """
    if height <= 0 or width <= 0:
        return False
    if pid and _set_winsize_of(pid, height, width):
        return True
    return write_resize(bundle, height, width)


def _set_winsize_of(pid: int, height: int, width: int) -> bool:
    packed = struct.pack("HHHH", height, width, 0, 0)
    for n in (0, 1, 2):
        try:
            fd = os.open(f"/proc/{pid}/fd/{n}", os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            if os.isatty(fd):
                fcntl.ioctl(fd, termios.TIOCSWINSZ, packed)
                return True
        except OSError as e:
            log.debug("resize of pid %d: %s", pid, e)
        finally:
            os.close(fd)
    return False


def write_resize(bundle: Path, height: int, width: int) -> bool:
    """Ask conmon to resize the pty of the process it monitors from ``bundle``.

    Non-blocking: False when no conmon reads the fifo (process gone or no TTY).
    """
    if height <= 0 or width <= 0:
        return False
    ctl = bundle / "ctl"
    try:
        fd = os.open(ctl, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        log.debug("resize via %s: %s", ctl, e)
        return False
    try:
        os.write(fd, f"1 {height} {width}\n".encode())
    except OSError as e:
        log.debug("resize via %s: %s", ctl, e)
        return False
    finally:
        os.close(fd)
    return True


def console_size(value: object) -> tuple[int, int] | None:
    """``[height, width]`` from a request (HostConfig/exec ConsoleSize), if usable."""
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in value)
        and value[0] > 0
        and value[1] > 0
    ):
        return value[0], value[1]
    return None


def set_console_size(process: dict, size: tuple[int, int] | None) -> None:
    """Give a TTY process its initial size in the OCI spec (the runtime sets it on the
    pty before the process runs, so the first ``stty size`` is already right)."""
    if size and process.get("terminal"):
        process["consoleSize"] = {"height": size[0], "width": size[1]}


class ConsoleSizeHook(ContainerHook):
    """Container hook: ``HostConfig.ConsoleSize`` becomes the pty's initial size."""

    async def prepare(self, c: Container, spec: dict[str, Any]) -> None:
        """Set ``process.consoleSize`` for TTY containers."""
        host_config = c.host_config or {}
        set_console_size(spec.get("process") or {}, console_size(host_config.get("ConsoleSize")))
