"""Reading conmon's k8s-file logs back as Docker's log stream (across the rotated
generations :mod:`.logfiles` keeps).

Each line of the file is ``<RFC3339Nano> <stdout|stderr> <F|P> <text>``: ``F`` ends a
line, ``P`` is a partial chunk (conmon splits long lines and writes unterminated
output as P) that is joined with what follows on the same stream.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...conventions import format_rfc3339, parse_rfc3339_exact
from .inotify import IN_CLOSE_WRITE, IN_CREATE, IN_MODIFY, IN_MOVED_TO, Watch
from .logfiles import files_to_read, read_log_file, spare_path

STDOUT, STDERR = 1, 2
_STREAMS = {b"stdout": STDOUT, b"stderr": STDERR}


@dataclass
class Entry:
    """One complete log line (or a trailing partial one)."""

    stream: int
    data: bytes
    secs: int  # UTC seconds since the epoch
    nanos: int

    @property
    def time(self) -> float:
        """Seconds since the epoch as a float."""
        return self.secs + self.nanos / 1e9

    def stamp(self) -> bytes:
        """Docker's timestamp prefix (RFC3339Nano, UTC)."""
        return format_rfc3339(ns=self.secs * 1_000_000_000 + self.nanos).encode()


class Parser:
    """Incremental parser: feed bytes, get complete entries (partials are joined)."""

    def __init__(self) -> None:
        self._rest = b""
        self._partial: dict[int, Entry] = {}

    def feed(self, chunk: bytes) -> list[Entry]:
        """Entries completed by ``chunk``."""
        data = self._rest + chunk
        lines = data.split(b"\n")
        self._rest = lines.pop()
        out: list[Entry] = []
        for line in lines:
            parts = line.split(b" ", 3)
            if len(parts) < 3 or parts[1] not in _STREAMS:
                continue
            stream = _STREAMS[parts[1]]
            text = parts[3] if len(parts) > 3 else b""
            try:
                secs, nanos = parse_rfc3339_exact(parts[0].decode())
            except (ValueError, UnicodeDecodeError):
                continue
            prev = self._partial.pop(stream, None)
            if prev is not None:
                text = prev.data + text
                secs, nanos = prev.secs, prev.nanos
            if parts[2] == b"P":
                self._partial[stream] = Entry(stream, text, secs, nanos)
            else:
                out.append(Entry(stream, text + b"\n", secs, nanos))
        return out

    def flush(self) -> list[Entry]:
        """Unterminated output left at the end (shown without a newline, like Docker)."""
        out = sorted(self._partial.values(), key=lambda e: (e.secs, e.nanos))
        self._partial.clear()
        return out


@dataclass
class LogOptions:
    """Query parameters of ``GET /containers/{id}/logs``."""

    stdout: bool = True
    stderr: bool = True
    follow: bool = False
    since: float = 0.0
    until: float = 0.0
    tail: int | None = None  # None: all
    timestamps: bool = False


def _keep(e: Entry, o: LogOptions) -> bool:
    if e.stream == STDOUT and not o.stdout:
        return False
    if e.stream == STDERR and not o.stderr:
        return False
    return not (o.since and e.time < o.since)


def _open(path: Path) -> Any:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def _older(path: Path, wanted_lines: int | None) -> bytes:
    """The rotated generations (oldest first): all of them, or with ``wanted_lines``
    only the newest ones that hold at least that many lines."""
    files = files_to_read(path)[:-1]
    chunks: list[bytes] = []
    lines = 0
    for f in reversed(files):
        if wanted_lines is not None and lines >= wanted_lines:
            break
        data = read_log_file(f)
        chunks.append(data)
        lines += data.count(b"\n")
    return b"".join(reversed(chunks))


def _replaced(path: Path, current: Any) -> Any:
    """The file now at ``path`` when it is no longer ``current`` (conmon rotated)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if current is not None and os.fstat(current.fileno()).st_ino == st.st_ino:
        return None
    return _open(path)


def _successor(path: Path, current: Any) -> Any:
    """The file conmon will write after ``current``: the engine's spare, opened now so a
    follower that falls behind by two rotations still reads it (None without one)."""
    spare = _open(spare_path(path))
    if spare is None:
        return None
    if current is not None and os.fstat(spare.fileno()).st_ino == os.fstat(current.fileno()).st_ino:
        spare.close()
        return None
    return spare


async def read_logs(
    path: Path,
    opts: LogOptions,
    running: Callable[[], bool],
    exited: asyncio.Event | None = None,
) -> AsyncIterator[Entry]:
    """Yield the entries ``opts`` asks for, across rotated generations; with ``follow``
    keep going until the container stops (``running()`` turns false; ``exited`` is
    set) and the file is drained, moving on to the new file when conmon rotates."""
    loop = asyncio.get_running_loop()
    parser = Parser()
    current = await loop.run_in_executor(None, _open, path)
    try:
        data = await loop.run_in_executor(None, current.read) if current else b""
        wanted = None if opts.tail is None else max(opts.tail - data.count(b"\n"), 0)
        older = await loop.run_in_executor(None, _older, path, wanted)
        entries = [e for e in parser.feed(older + data) if _keep(e, opts)]
        if not (opts.follow and running()):
            entries += [e for e in parser.flush() if _keep(e, opts)]
        if opts.tail is not None:
            entries = entries[-opts.tail :] if opts.tail > 0 else []
        for e in entries:
            if opts.until and e.time > opts.until:
                return
            yield e
        if not opts.follow:
            return
        watch = Watch()
        successor = _successor(path, current)
        try:
            watch.add(path.parent, IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO)
            while True:
                alive = running()
                data = current.read() if current else b""
                newer = None
                if not data:
                    newer = _replaced(path, current)
                    if newer is not None:
                        if current is not None:
                            data = current.read()  # the old file's last bytes first
                            current.close()
                        if successor is not None:
                            if (
                                os.fstat(successor.fileno()).st_ino
                                != os.fstat(newer.fileno()).st_ino
                            ):
                                # conmon wrote the spare and moved on already: read it whole
                                data += successor.read()
                            successor.close()
                        current = newer
                        successor = _successor(path, current)
                for e in parser.feed(data):
                    if opts.until and e.time > opts.until:
                        return
                    if _keep(e, opts):
                        yield e
                if data or newer is not None:
                    continue
                if not alive:
                    for e in parser.flush():
                        if _keep(e, opts):
                            yield e
                    return
                timeout = 1.0  # a safety net only: file changes and the exit wake us at once
                if opts.until:
                    timeout = min(timeout, opts.until - time.time())
                    if timeout <= 0:
                        return
                await _wait_any(watch, exited, timeout)
        finally:
            watch.close()
            if successor is not None:
                successor.close()
    finally:
        if current is not None:
            current.close()


async def _wait_any(watch: Watch, exited: asyncio.Event | None, limit: float) -> None:
    if exited is None or not alive_event(exited):
        await watch.wait(limit)
        return
    waiters = {asyncio.ensure_future(watch.wait(limit)), asyncio.ensure_future(exited.wait())}
    _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()


def alive_event(ev: asyncio.Event) -> bool:
    """True while ``ev`` is not set (the container has not exited yet)."""
    return not ev.is_set()
