"""A clean Debian bookworm root (``debootstrap --variant=minbase``) to install Portside's
.deb into, with the package's dependencies already in it so ``dpkg -i`` needs no network.

Cached like the test images, under ``/var/cache/portside-tests/deb-root-<key>`` (the key
covers the mirror and the package list); built into a temporary directory under a file
lock and renamed into place only when complete. Tests never write into it: they mount
an overlay on top (``deb_flow.sh``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from support.debian_image import SUITE, debian_mirror

# Beyond the package's own dependencies: systemd for `systemd-analyze verify` and
# systemd-sysusers, as on a desktop system.
EXTRA = ["systemd"]


def packages_for(depends: str) -> list[str]:
    """Package names from a Depends field: the first of each alternative, no versions."""
    names = []
    for clause in depends.split(","):
        first = clause.split("|")[0]
        name = re.sub(r"\(.*?\)|:any", "", first).strip()
        if name and name not in names:
            names.append(name)
    return names


def deb_root(depends: str) -> Path:
    """The cached root holding ``depends`` (a Depends field) and :data:`EXTRA`."""
    pkgs = sorted(set(packages_for(depends)) | set(EXTRA))
    base = Path(os.environ.get("PORTSIDE_TEST_CACHE", "/var/cache/portside-tests"))
    mirror = debian_mirror()
    key = hashlib.sha256(f"{mirror}|{SUITE}|{' '.join(pkgs)}|v1".encode()).hexdigest()[:12]
    root = base / f"deb-root-{key}"
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f"deb-root-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if root.is_dir():
            return root
        tmp = Path(tempfile.mkdtemp(prefix=f"deb-root-{key}.", dir=base))
        try:
            done = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(pkgs)}",
                    SUITE,
                    str(tmp / "root"),
                    mirror,
                ],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"debootstrap failed ({done.returncode}):\n{done.stdout[-3000:]}"
                )
            shutil.rmtree(tmp / "root" / "var" / "cache" / "apt" / "archives", ignore_errors=True)
            os.rename(tmp / "root", root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root
