"""The ``local`` volume driver's filesystem side: ``<data-root>/volumes/<name>/_data``.

Plain volumes are directories. Volumes created with ``type``/``device``/``o`` options
(tmpfs, bind-style ``o=bind``, a block device...) get that filesystem mounted on their
``_data`` directory while at least one container uses them, as Docker's local driver
does; the mount is made with the host's ``mount``/``umount`` so their error messages
reach the user unchanged.

Removal never follows symlinks and never descends into something mounted inside a
volume: a bind-style volume whose unmount failed must not take the bound host
directory's contents with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import stat
import uuid
from pathlib import Path

from ..errors import SystemError_

log = logging.getLogger(__name__)

DATA = "_data"
TRASH_PREFIX = ".trash-"


def unescape_mountinfo(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as ``\\ooo``."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_points() -> list[str]:
    """Every mount point of this process's mount namespace."""
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return []
    return [unescape_mountinfo(line.split()[4]) for line in text.splitlines() if line]


def is_mount_point(path: Path) -> bool:
    """Whether something is mounted exactly on ``path``."""
    p = os.path.normpath(str(path))
    return p in mount_points()


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path``."""
    p = os.path.normpath(str(path))
    return [m for m in mount_points() if m == p or m.startswith(p + "/")]


def tree_size(path: Path) -> int:
    """Bytes used by the files below ``path`` (hard links counted once, symlinks not
    followed). Blocking: run it in an executor."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [str(path)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                    continue
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_size
    return total


def _hide_password(text: str, o: str) -> str:
    for part in o.split(","):
        if part.startswith("password="):
            text = text.replace(part, "password=********")
    return text


class LocalDriver:
    """Directories (and option mounts) under ``<data-root>/volumes``."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure_root(self) -> None:
        """Create the volumes directory (0701: containers' remapped users may traverse)."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o701)

    def volume_dir(self, name: str) -> Path:
        """``<root>/<name>``: the volume's own directory."""
        return self.root / name

    def data_path(self, name: str) -> Path:
        """``<root>/<name>/_data``: what containers see (Docker's Mountpoint)."""
        return self.root / name / DATA

    def exists(self, name: str) -> bool:
        """Whether the volume's data directory exists."""
        return self.data_path(name).is_dir()

    def create(self, name: str) -> None:
        """Make the volume's directories (idempotent)."""
        vdir = self.volume_dir(name)
        vdir.mkdir(mode=0o701, exist_ok=True)
        data = vdir / DATA
        try:
            data.mkdir(mode=0o755)
            os.chmod(data, 0o755)  # umask must not narrow what containers can reach
        except FileExistsError:
            if not data.is_dir() or data.is_symlink():
                raise SystemError_(
                    f"error while creating volume data path '{data}': not a directory"
                ) from None

    def list_names(self) -> list[str]:
        """Volume directories found on disk (trash and stray files ignored)."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        return [
            e.name
            for e in entries
            if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
        ]

    async def remove(self, name: str) -> None:
        """Delete a volume's directory and data.

        The directory is first renamed into a trash name (atomic), so a crash mid-way
        leaves either the whole volume or garbage that :meth:`clean_trash` removes.
        """
        vdir = self.volume_dir(name)
        if not vdir.exists():
            return
        data = vdir / DATA
        if is_mount_point(data):
            await self.unmount(name)
        busy = mounts_under(vdir)
        if busy:
            raise SystemError_(
                f"unable to remove volume {name}: something is still mounted at {busy[0]}"
            )
        trash = self.root / f"{TRASH_PREFIX}{uuid.uuid4().hex}"
        os.rename(vdir, trash)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, shutil.rmtree, trash, True)

    def clean_trash(self) -> None:
        """Finish removals interrupted by a crash (blocking; called once at start)."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        for e in entries:
            if e.name.startswith(TRASH_PREFIX) and not mounts_under(Path(e.path)):
                shutil.rmtree(e.path, ignore_errors=True)

    async def mount(self, name: str, options: dict[str, str]) -> None:
        """Mount the volume's ``device`` on its data directory unless already mounted."""
        data = self.data_path(name)
        if is_mount_point(data):
            return
        device = options.get("device", "")
        if not device:
            raise SystemError_(
                f"error while mounting volume '{data}': missing device in volume options"
            )
        argv = ["mount"]
        if options.get("type"):
            argv += ["-t", options["type"]]
        if options.get("o"):
            argv += ["-o", options["o"]]
        argv += ["--", device, str(data)]
        rc, out = await _run(argv)
        if rc != 0:
            msg = _hide_password(out.strip(), options.get("o", ""))
            raise SystemError_(
                f"error while mounting volume '{data}': failed to mount local volume: {msg}"
            )

    async def unmount(self, name: str) -> None:
        """Unmount the volume's data directory if something is mounted there."""
        data = self.data_path(name)
        if not is_mount_point(data):
            return
        rc, out = await _run(["umount", str(data)])
        if rc != 0 and is_mount_point(data):
            raise SystemError_(f"error while unmounting volume '{data}': {out.strip()}")


async def _run(argv: list[str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")
