"""A container's log files on disk: the one conmon writes and its older generations.

conmon bounds its k8s-file itself (``--log-size-max``): before a write that would take
the file past the limit it opens ``<log>.tmp`` and renames it over ``<log>``, so the
full file simply loses its name. To keep ``max-file`` generations as Docker does, the
engine holds a second name for the file being written (``<log>.live``, a hard link):
when conmon replaces ``<log>``, the old file survives under that link and is moved to
``<log>.1`` (older ones shift to ``.2`` …, the oldest beyond ``max-file`` is deleted,
``.1`` is gzipped with ``compress``), and the new file gets the link. Rotation is thus
exact to the byte and costs one inotify event per rotation, not per write. While the
engine is down conmon still bounds the file; only the generation held by the link is
kept then, the ones rotated away meanwhile are lost.

conmon counts only the bytes it writes itself, so a restarted container would append
to a file that is already partly full; a file left at least half full is therefore
rotated before conmon opens it again (a file never exceeds 1.5 × max-size).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .inotify import IN_MOVED_TO, Watch
from .logdrivers import LogPolicy, log_policy

log = logging.getLogger(__name__)


def live_link(log_path: Path) -> Path:
    """The engine's second name for the file conmon is writing."""
    return log_path.with_name(log_path.name + ".live")


def _generation(log_path: Path, n: int, ext: str = "") -> Path:
    return log_path.with_name(f"{log_path.name}.{n}{ext}")


def _generations(log_path: Path) -> dict[int, Path]:
    """Rotated generations on disk by number (a plain file wins over its .gz while the
    .gz is being written)."""
    found: dict[int, Path] = {}
    prefix = log_path.name + "."
    try:
        names = os.listdir(log_path.parent)
    except FileNotFoundError:
        return found
    for name in names:
        if not name.startswith(prefix):
            continue
        num, _, ext = name[len(prefix) :].partition(".")
        if num.isdigit() and ext in ("", "gz") and (ext == "" or int(num) not in found):
            found[int(num)] = log_path.with_name(name)
    return found


def files_to_read(log_path: Path) -> list[Path]:
    """Every file holding the log, oldest first, the one being written last."""
    gens = _generations(log_path)
    files = [gens[n] for n in sorted(gens, reverse=True)]
    live = live_link(log_path)
    try:
        if live.stat().st_ino != log_path.stat().st_ino:
            files.append(live)  # replaced by conmon a moment ago, not yet moved to .1
    except FileNotFoundError:
        pass
    files.append(log_path)
    return files


def read_log_file(path: Path) -> bytes:
    """A generation's bytes (gunzipped); empty when it is gone."""
    candidates = [path] if path.name.endswith(".gz") else [path, Path(f"{path}.gz")]
    for p in candidates:
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            continue
        return gzip.decompress(raw) if p.name.endswith(".gz") else raw
    return b""


def rotate_step(log_path: Path, policy: LogPolicy) -> None:
    """Move a file conmon has replaced into the generations and link the new one.

    Idempotent: nothing happens unless ``<log>`` and ``<log>.live`` differ.
    """
    live = live_link(log_path)
    try:
        current = log_path.stat().st_ino
    except FileNotFoundError:
        return  # conmon has not opened it yet
    try:
        held = live.stat().st_ino
    except FileNotFoundError:
        os.link(log_path, live)
        return
    if held == current:
        return
    keep = policy.max_file - 1  # rotated generations kept beside the current file
    gens = _generations(log_path)
    for n, p in gens.items():
        if n >= keep:
            p.unlink(missing_ok=True)
    for n in range(keep - 1, 0, -1):
        for ext in ("", ".gz"):
            src = _generation(log_path, n, ext)
            if src.exists():
                os.rename(src, _generation(log_path, n + 1, ext))
    first = _generation(log_path, 1)
    os.rename(live, first)
    os.link(log_path, live)
    if policy.compress:
        _gzip(first)


def _gzip(path: Path) -> None:
    tmp = Path(f"{path}.gz.tmp")
    with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.rename(tmp, Path(f"{path}.gz"))
    path.unlink()


def prepare_start(log_path: Path, policy: LogPolicy) -> None:
    """Before conmon opens the log: settle any rotation it did while the engine was
    away, start a new generation when the last run left the file half full, and hold
    the link to the file conmon will write."""
    rotate_step(log_path, policy)
    try:
        size = log_path.stat().st_size
    except FileNotFoundError:
        size = 0
    if size and size >= policy.max_size // 2:
        live = live_link(log_path)
        if not live.exists():
            os.link(log_path, live)
        tmp = Path(f"{log_path}.tmp")
        tmp.write_bytes(b"")
        os.rename(tmp, log_path)  # as conmon rotates: the full file keeps only .live
        rotate_step(log_path, policy)
    log_path.touch()
    rotate_step(log_path, policy)


class LogRotation:
    """Container hook keeping the generations of logs that rotate (``max-file`` > 1)."""

    def __init__(self, log_path_of: Callable[[str], Path]) -> None:
        self._log_path_of = log_path_of
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @staticmethod
    def _policy(c: Any) -> LogPolicy | None:
        try:
            policy = log_policy(c.host_config.get("LogConfig"))
        except Exception:  # a stored config that no longer parses keeps nothing extra
            return None
        return policy if policy.rotates else None

    async def prepare(self, c: Any, spec: dict[str, Any]) -> None:
        """Before conmon starts (every start): settle the files and hold the link."""
        policy = self._policy(c)
        if policy is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, prepare_start, self._log_path_of(c.id), policy)

    async def on_start(self, c: Any) -> None:
        """Follow conmon's rotations while the container runs."""
        self._follow(c)

    async def on_restore(self, c: Any) -> None:
        """A live-restored container: catch up with what conmon did meanwhile."""
        self._follow(c)

    async def on_stop(self, c: Any) -> None:
        """Stop following; a rotation just before the exit is settled still."""
        await self._cancel(c.id)
        policy = self._policy(c)
        if policy is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, rotate_step, self._log_path_of(c.id), policy)

    async def on_remove(self, c: Any) -> None:
        """Stop following (the files go with the container's directory)."""
        await self._cancel(c.id)

    async def shutdown(self) -> None:
        """Stop every follower (the engine is stopping; conmon keeps bounding the files)."""
        for cid in list(self._tasks):
            await self._cancel(cid)

    def _follow(self, c: Any) -> None:
        policy = self._policy(c)
        if policy is None or c.id in self._tasks:
            return
        task = asyncio.ensure_future(self._run(self._log_path_of(c.id), policy))
        self._tasks[c.id] = task

    async def _cancel(self, cid: str) -> None:
        task = self._tasks.pop(cid, None)
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self, log_path: Path, policy: LogPolicy) -> None:
        loop = asyncio.get_running_loop()
        watch = Watch()
        try:
            watch.add(log_path.parent, IN_MOVED_TO)
            while True:
                try:
                    await loop.run_in_executor(None, rotate_step, log_path, policy)
                except OSError as e:
                    log.warning("rotating %s failed: %s", log_path, e)
                await watch.wait(None)
        finally:
            watch.close()
