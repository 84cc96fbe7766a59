"""``squash=1``: the layers a build added on top of its final stage's base become one.

The new layers are applied in order onto an overlay of the base (whiteouts delete,
opaque directories start empty), so the overlay's upper directory ends up holding the
merged difference; that is written as a layer the way ``docker commit`` writes a
container's changes. The history keeps every step (their layers marked empty) plus
dockerd's ``merge <image> to <base>`` entry that carries the merged layer.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..containers.files import rootfs
from ..containers.files.upperdiff import write_layer
from ..conventions import format_rfc3339
from ..fs.tarwrite import TreeTar, stream_from_thread

if TYPE_CHECKING:
    from .executor import BuildRun

_OPAQUE = "trusted.overlay.opaque"


def _remove(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _is_opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, _OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _meta(dst: Path, st: os.stat_result) -> None:
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def apply_layer(layer: Path, root: Path) -> None:
    """Apply one layer directory (overlay format) onto the mounted ``root`` (blocking).
    Parents are handled before children and every existing non-directory in a
    directory's place is replaced first, so no write goes through a symlink. Files
    hard-linked inside the layer stay linked (a tar's hard links never leave their layer)."""
    dirs_meta: list[tuple[Path, os.stat_result]] = []
    linked: dict[tuple[int, int], Path] = {}
    for top, dirs, files in os.walk(layer):
        rel = os.path.relpath(top, layer)
        for name in [*dirs, *files]:
            src = Path(top, name)
            dst = root / (name if rel == "." else os.path.join(rel, name))
            st = os.lstat(src)
            mode = st.st_mode
            if stat.S_ISCHR(mode) and st.st_rdev == 0:
                _remove(dst)
            elif stat.S_ISDIR(mode):
                try:
                    dst_st = os.lstat(dst)
                    is_dir = stat.S_ISDIR(dst_st.st_mode)
                except FileNotFoundError:
                    is_dir = None
                if is_dir is False or (is_dir and _is_opaque(src)):
                    _remove(dst)
                    is_dir = None
                if is_dir is None:
                    os.mkdir(dst, 0o700)
                dirs_meta.append((dst, st))
            elif stat.S_ISLNK(mode):
                _remove(dst)
                os.symlink(os.readlink(src), dst)
                _meta(dst, st)
            elif stat.S_ISREG(mode):
                _remove(dst)
                first = linked.get((st.st_dev, st.st_ino)) if st.st_nlink > 1 else None
                if first is not None:
                    os.link(first, dst)
                    continue
                shutil.copyfile(src, dst, follow_symlinks=False)
                _meta(dst, st)
                if st.st_nlink > 1:
                    linked[(st.st_dev, st.st_ino)] = dst
            elif stat.S_ISFIFO(mode):
                _remove(dst)
                os.mkfifo(dst)
                _meta(dst, st)
    for dst, st in reversed(dirs_meta):
        _meta(dst, st)


async def squash(build: BuildRun, image_id: str) -> str:
    """The squashed image's id (the image itself when the build added no layer)."""
    images = build.images
    final = images.image(image_id)
    base_id = build.final_base
    base = images.image(base_id) if base_id else None
    base_diffs = base.diff_ids if base else []
    added = final.diff_ids[len(base_diffs) :]
    if not added:
        return image_id
    base_dirs = images.layer_dirs(base) if base else []
    where = build.workdir / "squash"
    upper, root = where / "upper", where / "root"
    loop = asyncio.get_running_loop()
    layer_dirs = [images.layers.dir(d) for d in added]
    await rootfs.mount_overlay(base_dirs, upper, where / "work", root)
    try:
        for layer in layer_dirs:
            await loop.run_in_executor(None, apply_layer, layer, root)
    finally:
        rootfs.unmount(root)

    def work(emit: Any) -> None:
        tar = TreeTar(emit)
        write_layer(tar, upper, base_dirs)
        tar.close()

    pending = await images.layers.extract(stream_from_thread(work), compression="none")
    cfg = json.loads(json.dumps(final.config))
    history = list(cfg.get("history") or [])
    kept = len((base.config.get("history") if base else None) or [])
    for entry in history[kept:]:
        entry["empty_layer"] = True
    created = format_rfc3339()
    history.append({"created": created, "comment": f"merge {image_id} to {base_id or 'scratch'}"})
    cfg["history"] = history
    cfg["created"] = created
    cfg["rootfs"] = {"type": "layers", "diff_ids": [*base_diffs, pending.diff_id]}
    config_bytes = json.dumps(cfg, separators=(",", ":")).encode()
    try:
        with images.hold_layers(cfg["rootfs"]["diff_ids"]):
            images.layers.commit(pending)
            image, _ = await images.register(config_bytes, [])
    except BaseException:
        shutil.rmtree(pending.path, ignore_errors=True)
        raise
    if base_id:
        build.cache.set_parent(image.id, base_id)
    return image.id
