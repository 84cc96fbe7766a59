"""A Debian bookworm image built offline with ``debootstrap --variant=minbase``.

The root filesystem comes from the Debian mirror this machine's apt already uses (read
from ``/etc/apt/sources.list*``), so no registry is ever contacted. The result is a
one-layer docker-archive (``docker save`` format) tagged ``debian:bookworm-slim``,
cached outside the checkout under ``/var/cache/portside-tests`` because debootstrap
takes about a minute. A file lock serialises concurrent builders (pytest-xdist, two
helpers) and a half-built cache entry is never used: the archive is renamed into place
only once complete.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from support.images import image_config

SUITE = "bookworm"
TAG = "debian:bookworm-slim"

# Trimmed like Debian's own -slim images: documentation and caches are dead weight.
_TRIM = [
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/log",
]


def debian_mirror() -> str:
    """The Debian archive URI apt on this machine uses for bookworm."""
    candidates: list[str] = []
    apt = Path("/etc/apt")
    files = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for f in files:
        if not f.is_file() or "disabled" in f.name:
            continue
        text = f.read_text(errors="replace")
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (ln.partition(":") for ln in stanza.splitlines())
                    if not k.startswith("#") and v
                )
                suites = fields.get("suites", "").split()
                if "deb" in fields.get("types", "").split() and SUITE in suites:
                    candidates += fields.get("uris", "").split()
        else:
            for line in text.splitlines():
                parts = line.split("#")[0].split()
                if len(parts) >= 3 and parts[0] == "deb":
                    uri_idx = 1
                    while parts[uri_idx].startswith("["):
                        uri_idx += 1
                    if parts[uri_idx + 1] == SUITE:
                        candidates.append(parts[uri_idx])
    for uri in candidates:
        if "security" not in uri:
            return uri.rstrip("/")
    raise RuntimeError("no Debian bookworm mirror found in /etc/apt/sources.list*")


def cache_root() -> Path:
    """Cache directory shared by test runs (outside the checkout)."""
    base = Path(os.environ.get("PORTSIDE_TEST_CACHE", "/var/cache/portside-tests"))
    key = hashlib.sha256(f"{debian_mirror()}|{SUITE}|minbase|v1".encode()).hexdigest()[:12]
    d = base / f"debian-{SUITE}-{key}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _debootstrap(target: Path) -> None:
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is not installed (apt-get install -y debootstrap)")
    res = subprocess.run(
        ["debootstrap", "--variant=minbase", SUITE, str(target), debian_mirror()],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if res.returncode != 0:
        raise RuntimeError(f"debootstrap failed ({res.returncode}):\n{res.stdout[-3000:]}")
    for rel in _TRIM:
        p = target / rel
        if p.is_dir():
            for child in p.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    # Device nodes belong to the runtime's /dev, never to an image layer.
    dev = target / "dev"
    for child in dev.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _rootfs_tar(root: Path, out: Path) -> None:
    entries = sorted(os.listdir(root))
    subprocess.run(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(out), *entries],
        check=True,
        capture_output=True,
    )


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _write_archive(layer: Path, out: Path) -> None:
    """A ``docker save`` archive of one image whose single layer is ``layer``."""
    diff_id = _sha256_file(layer)
    config = image_config([diff_id], ["bash"])
    config_bytes = json.dumps(config).encode()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    layer_path = f"{diff_id[7:]}/layer.tar"
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": [TAG], "Layers": [layer_path]}]
    with tarfile.open(out, "w") as tar:
        tar.add(layer, arcname=layer_path)
        for name, data in (
            (f"{config_hex}.json", config_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


def debian_archive() -> Path:
    """Path of the cached ``debian:bookworm-slim`` docker-archive (built when missing)."""
    d = cache_root()
    dest = d / "debian-bookworm-slim.tar"
    if dest.exists():
        return dest
    with open(d / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if dest.exists():
            return dest
        work = Path(tempfile.mkdtemp(prefix="build-", dir=d))
        try:
            rootfs = work / "rootfs"
            rootfs.mkdir()
            _debootstrap(rootfs)
            layer = work / "layer.tar"
            _rootfs_tar(rootfs, layer)
            tmp = work / "archive.tar"
            _write_archive(layer, tmp)
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return dest


if __name__ == "__main__":
    print(debian_archive())
