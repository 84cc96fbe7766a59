"""The guest's initramfs: busybox, a ten-line init and the modules to mount ``/dev/vda``.

Debian's initramfs-tools image is ~30 MB and probes for everything; under emulation its
unpacking and udev settle cost seconds. This one is a few hundred KB and does one thing.
Written as a newc cpio by hand: no cpio binary needed on the build host.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from .kmods import closure


def _entry(
    out: io.BytesIO,
    ino: int,
    name: str,
    mode: int,
    data: bytes = b"",
    rdev: tuple[int, int] = (0, 0),
) -> None:
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    header = b"070701" + b"".join(f"{v:08x}".encode() for v in fields)
    out.write(header + name.encode() + b"\0")
    out.write(b"\0" * ((4 - out.tell() % 4) % 4))
    out.write(data)
    out.write(b"\0" * ((4 - out.tell() % 4) % 4))


def build_initramfs(
    rootfs: Path, kernel_version: str, modules: list[str], init_script: bytes
) -> bytes:
    """A gzip'd newc cpio with ``/init``, ``/bin/busybox`` (from ``rootfs``) and the
    closure of ``modules`` in load order (``/modules.order``)."""
    moddir = rootfs / "lib" / "modules" / kernel_version
    order = closure(moddir, modules)
    out = io.BytesIO()
    ino = 1
    directories = ["bin", "dev", "proc", "sys", "root", "modules"]
    for d in directories:
        _entry(out, ino, d, 0o040755)
        ino += 1
    # The kernel opens /dev/console for init before anything is mounted.
    _entry(out, ino, "dev/console", 0o020600, rdev=(5, 1))
    ino += 1
    _entry(out, ino, "init", 0o100755, init_script)
    ino += 1
    _entry(out, ino, "bin/busybox", 0o100755, (rootfs / "bin" / "busybox").read_bytes())
    ino += 1
    names = []
    for rel in order:
        name = rel.rsplit("/", 1)[-1]
        names.append(name)
        _entry(out, ino, f"modules/{name}", 0o100644, (moddir / rel).read_bytes())
        ino += 1
    _entry(out, ino, "modules.order", 0o100644, ("\n".join(names) + "\n").encode())
    _entry(out, 0, "TRAILER!!!", 0)
    return gzip.compress(out.getvalue(), compresslevel=9, mtime=0)
