"""Hand-made (often hostile) tar archives for the image tests."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path


def _info(name: str, type_: bytes, **kw: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = type_
    info.mtime = int(kw.pop("mtime", 1_600_000_000))  # type: ignore[call-overload]
    info.mode = int(kw.pop("mode", 0o644))  # type: ignore[call-overload]
    for k, v in kw.items():
        setattr(info, k, v)
    return info


def f(name: str, data: bytes = b"x", **kw: object) -> tuple[tarfile.TarInfo, bytes]:
    """A regular file."""
    info = _info(name, tarfile.REGTYPE, **kw)
    info.size = len(data)
    return info, data


def d(name: str, **kw: object) -> tuple[tarfile.TarInfo, bytes]:
    """A directory."""
    kw.setdefault("mode", 0o755)
    return _info(name, tarfile.DIRTYPE, **kw), b""


def sym(name: str, target: str, **kw: object) -> tuple[tarfile.TarInfo, bytes]:
    """A symlink."""
    kw.setdefault("mode", 0o777)
    return _info(name, tarfile.SYMTYPE, linkname=target, **kw), b""


def hard(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    """A hard link."""
    return _info(name, tarfile.LNKTYPE, linkname=target), b""


def dev(name: str, kind: bytes, major: int, minor: int) -> tuple[tarfile.TarInfo, bytes]:
    """A char (``tarfile.CHRTYPE``) or block device node."""
    return _info(name, kind, devmajor=major, devminor=minor, mode=0o600), b""


def fifo(name: str) -> tuple[tarfile.TarInfo, bytes]:
    """A named pipe."""
    return _info(name, tarfile.FIFOTYPE), b""


def xattrs(entry: tuple[tarfile.TarInfo, bytes], **attrs: bytes) -> tuple[tarfile.TarInfo, bytes]:
    """Attach SCHILY xattrs (keys use ``__`` for ``.``)."""
    info, data = entry
    for k, v in attrs.items():
        info.pax_headers["SCHILY.xattr." + k.replace("__", ".")] = v.decode(
            "utf-8", "surrogateescape"
        )
    return info, data


def tar(*entries: tuple[tarfile.TarInfo, bytes], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """The archive bytes (PAX unless told)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def digest(data: bytes) -> str:
    """sha256:<hex>."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def snapshot(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """Everything under ``root`` (not following symlinks): mode, size, nlink, mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_size, st.st_nlink, st.st_mtime_ns)
    return out


def archive(
    layers: list[bytes],
    tags: list[str] | None = None,
    config_extra: dict | None = None,
    diff_ids: list[str] | None = None,
    with_manifest: bool = True,
    omit_layers: bool = False,
    extra: list[tuple[tarfile.TarInfo, bytes]] | None = None,
) -> bytes:
    """A docker-archive around raw layer tars (``diff_ids`` may lie on purpose;
    ``omit_layers`` leaves the layer members out; ``extra`` members come first)."""
    diff_ids = diff_ids or [digest(layer) for layer in layers]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2025-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], **(config_extra or {})},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2025-01-01T00:00:00Z", "created_by": "tarkit"}] * len(layers),
    }
    cfg = json.dumps(config).encode()
    entries = list(extra or [])
    paths = []
    for i, layer in enumerate(layers):
        paths.append(f"layer{i}/layer.tar")
        if not omit_layers:
            entries.append(f(paths[-1], layer))
    entries.append(f(f"{digest(cfg)[7:]}.json", cfg))
    if with_manifest:
        manifest = [{"Config": f"{digest(cfg)[7:]}.json", "RepoTags": tags or [], "Layers": paths}]
        entries.append(f("manifest.json", json.dumps(manifest).encode()))
    return tar(*entries, fmt=tarfile.USTAR_FORMAT)
