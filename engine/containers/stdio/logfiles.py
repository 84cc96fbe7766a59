"""A container's log files on disk: the one conmon writes and its older generations.

conmon bounds its k8s-file itself (``--log-size-max``): before a write that would take
the file past the limit it opens ``<log>.tmp`` (``O_TRUNC``) and renames it over
``<log>``, so the full file simply loses its name. To keep ``max-file`` generations as
Docker does, the engine holds second names for the files involved:

- ``<log>.live`` is a hard link to the file being written, so a file conmon replaces
  survives and is moved to ``<log>.1`` (older ones shift to ``.2`` …, the oldest beyond
  ``max-file`` is deleted, ``compress`` gzips them);
- ``<log>.next`` is an empty spare, also linked as ``<log>.tmp``: conmon's next rotation
  opens that existing file, so the file it then writes is held from its first byte.

Rotation is exact to the byte and costs one inotify event per rotation, not per write;
the engine has two rotations' time to settle one, and while the engine is down the
generations held by the two links survive (later ones are lost, the bounds hold).

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

from ..hooks import ContainerHook
from ..model import Container
from .inotify import IN_MOVED_TO, Watch
from .logdrivers import LogPolicy, log_policy

log = logging.getLogger(__name__)


def live_link(log_path: Path) -> Path:
    """The engine's second name for the file conmon is writing."""
    return log_path.with_name(log_path.name + ".live")


def spare_path(log_path: Path) -> Path:
    """The empty file conmon will write next (linked as its ``.tmp``)."""
    return log_path.with_name(log_path.name + ".next")


def _conmon_tmp(log_path: Path) -> Path:
    return log_path.with_name(log_path.name + ".tmp")


def _generation(log_path: Path, n: int, ext: str = "") -> Path:
    return log_path.with_name(f"{log_path.name}.{n}{ext}")


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


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


def _unsettled(log_path: Path) -> list[Path]:
    """Files conmon has closed that are not numbered generations yet, oldest first."""
    current = _stat(log_path)
    if current is None:
        return []
    out = []
    live = _stat(live_link(log_path))
    if live is not None and live.st_ino != current.st_ino:
        out.append(live_link(log_path))
        spare = _stat(spare_path(log_path))
        if (
            spare is not None
            and spare.st_ino != current.st_ino
            and spare.st_size > 0
            and not _conmon_tmp(log_path).exists()
        ):
            out.append(spare_path(log_path))  # conmon used the spare and replaced it as well
    return out


def files_to_read(log_path: Path) -> list[Path]:
    """Every file holding the log, oldest first, the one being written last."""
    gens = _generations(log_path)
    return [gens[n] for n in sorted(gens, reverse=True)] + _unsettled(log_path) + [log_path]


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


def _push(log_path: Path, closed: Path, keep: int) -> None:
    """Make ``closed`` generation 1, shifting the others up and dropping the oldest."""
    for n, p in _generations(log_path).items():
        if n >= keep:
            p.unlink(missing_ok=True)
    for n in range(keep - 1, 0, -1):
        for ext in ("", ".gz"):
            src = _generation(log_path, n, ext)
            if src.exists():
                os.rename(src, _generation(log_path, n + 1, ext))
    os.rename(closed, _generation(log_path, 1))


def _preparespare_path(log_path: Path) -> None:
    """An empty spare linked as conmon's ``.tmp``, unless one is in place."""
    spare, tmp = spare_path(log_path), _conmon_tmp(log_path)
    spare_st, tmp_st = _stat(spare), _stat(tmp)
    if spare_st is not None and tmp_st is not None and spare_st.st_ino == tmp_st.st_ino:
        return
    spare.unlink(missing_ok=True)
    spare.write_bytes(b"")
    try:
        os.link(spare, tmp)
    except FileExistsError:
        pass  # conmon is rotating right now: the event that follows settles it


def rotate_step(log_path: Path, policy: LogPolicy) -> None:
    """Move files conmon has replaced into the generations, hold the one it writes and
    give it a fresh spare. Idempotent: a settled state is left as it is."""
    current = _stat(log_path)
    if current is None:
        return  # conmon has not opened it yet
    live = live_link(log_path)
    closed = _unsettled(log_path)
    if closed:
        for f in closed:
            _push(log_path, f, policy.max_file - 1)
        if policy.compress:
            for p in _generations(log_path).values():
                if not p.name.endswith(".gz"):
                    _gzip(p)
    spare = _stat(spare_path(log_path))
    if _stat(live) is None:
        if spare is not None and spare.st_ino == current.st_ino:
            os.rename(spare_path(log_path), live)  # the spare conmon took is the file it writes
        else:
            os.link(log_path, live)
    _preparespare_path(log_path)


def _gzip(path: Path) -> None:
    tmp = Path(f"{path}.gz.tmp")
    with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.rename(tmp, Path(f"{path}.gz"))
    path.unlink()


def prepare_start(log_path: Path, policy: LogPolicy) -> None:
    """Before conmon opens the log: settle any rotation it did while the engine was
    away, start a new generation when the last run left the file half full, and hold
    the file conmon will write."""
    rotate_step(log_path, policy)
    current = _stat(log_path)
    if current is not None and current.st_size and current.st_size >= policy.max_size // 2:
        # as conmon rotates: the spare (linked as .tmp) takes the name, .live keeps the old
        os.rename(_conmon_tmp(log_path), log_path)
        rotate_step(log_path, policy)
    log_path.touch()
    rotate_step(log_path, policy)


class LogRotation(ContainerHook):
    """Container hook keeping the generations of logs that rotate (``max-file`` > 1)."""

    def __init__(self, log_path_of: Callable[[str], Path]) -> None:
        self._log_path_of = log_path_of
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @staticmethod
    def _policy(c: Container) -> LogPolicy | None:
        try:
            policy = log_policy(c.host_config.get("LogConfig"))
        except Exception:  # a stored config that no longer parses keeps nothing extra
            return None
        return policy if policy.rotates else None

    async def prepare(self, c: Container, spec: dict[str, Any]) -> None:
        """Before conmon starts (every start): settle the files and hold the link."""
        policy = self._policy(c)
        if policy is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, prepare_start, self._log_path_of(c.id), policy)

    async def on_start(self, c: Container) -> None:
        """Follow conmon's rotations while the container runs."""
        self._follow(c)

    async def on_restore(self, c: Container) -> None:
        """A live-restored container: catch up with what conmon did meanwhile."""
        self._follow(c)

    async def on_stop(self, c: Container) -> None:
        """Stop following; a rotation just before the exit is settled still."""
        await self._cancel(c.id)
        policy = self._policy(c)
        if policy is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, rotate_step, self._log_path_of(c.id), policy)

    async def on_remove(self, c: Container) -> None:
        """Stop following (the files go with the container's directory)."""
        await self._cancel(c.id)

    async def shutdown(self) -> None:
        """Stop every follower (the engine is stopping; conmon keeps bounding the files)."""
        for cid in list(self._tasks):
            await self._cancel(cid)

    def _follow(self, c: Container) -> None:
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
