"""Test images built offline: a busybox image from Debian's busybox-static.

The image is written as a docker-archive (``docker save`` format) so tests can feed it
to ``docker load`` exactly as a user would.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

BUSYBOX = Path("/bin/busybox")


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = 0
    tar.addfile(info)


def _add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    info.mtime = 0
    tar.addfile(info)


def busybox_rootfs_tar() -> bytes:
    """A rootfs layer: /bin/busybox, every applet as a symlink, minimal /etc."""
    if not BUSYBOX.exists():
        raise RuntimeError("busybox-static is not installed (apt-get install busybox-static)")
    applets = subprocess.run(
        [str(BUSYBOX), "--list-full"], check=True, capture_output=True, text=True
    ).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = {
            "bin",
            "sbin",
            "usr",
            "usr/bin",
            "usr/sbin",
            "etc",
            "root",
            "home",
            "var",
            "var/www",
            "dev",
            "proc",
            "sys",
        }
        for d in sorted(dirs):
            _add_dir(tar, d)
        _add_dir(tar, "tmp", 0o1777)
        _add_file(tar, "bin/busybox", BUSYBOX.read_bytes(), 0o755)
        for path in sorted(set(applets)):
            if path in ("bin/busybox",) or path.split("/")[0] not in ("bin", "sbin", "usr"):
                continue
            _add_symlink(tar, path, "/bin/busybox")
        _add_file(
            tar,
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        _add_file(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    return buf.getvalue()


def image_config(diff_ids: list[str], cmd: list[str], **extra: object) -> dict:
    """An image config (docker schema2 / OCI) for a linux/amd64-style image."""
    from platform import machine

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine(), machine())
    cfg: dict = {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": cmd,
    }
    cfg.update(extra)
    return {
        "architecture": arch,
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "2026-01-01T00:00:00Z", "created_by": "portside tests"} for _ in diff_ids
        ],
    }


def docker_archive(
    layers: list[bytes],
    config_extra: dict | None = None,
    repo_tags: list[str] | None = None,
    cmd: list[str] | None = None,
) -> bytes:
    """A ``docker save`` style archive holding one image built from raw layer tars."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = image_config(diff_ids, cmd or ["sh"], **(config_extra or {}))
    config_bytes = json.dumps(config).encode()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        layer_paths = []
        for layer, diff_id in zip(layers, diff_ids, strict=True):
            path = f"{diff_id[7:]}/layer.tar"
            _add_dir(tar, diff_id[7:])
            _add_file(tar, path, layer)
            layer_paths.append(path)
        _add_file(tar, f"{config_hex}.json", config_bytes)
        manifest = [
            {"Config": f"{config_hex}.json", "RepoTags": repo_tags or [], "Layers": layer_paths}
        ]
        _add_file(tar, "manifest.json", json.dumps(manifest).encode())
    return buf.getvalue()


def build_busybox_archive(dest: Path, tag: str = "busybox:latest") -> Path:
    """Write the busybox image archive to ``dest`` (cached by busybox's own digest)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        return dest
    data = docker_archive([busybox_rootfs_tar()], repo_tags=[tag])
    tmp = dest.with_suffix(f".tmp{os.getpid()}.{time.monotonic_ns()}")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return dest


def cache_dir() -> Path:
    """Where built test images are kept between runs (outside the checkout)."""
    base = Path(os.environ.get("PORTSIDE_TEST_CACHE", "/var/cache/portside-tests"))
    key = hashlib.sha256(BUSYBOX.read_bytes()).hexdigest()[:12] if BUSYBOX.exists() else "none"
    d = base / key
    d.mkdir(parents=True, exist_ok=True)
    return d


def busybox_archive() -> Path:
    """The cached busybox image archive."""
    return build_busybox_archive(cache_dir() / "busybox.tar")


def clean_partial(path: Path) -> None:
    """Remove a half-built cache entry."""
    shutil.rmtree(path, ignore_errors=True)
