"""layers/tmp carries ext4's top-directory flag, so unpacks avoid just-freed inodes."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from portside.engine.images.layers import LayerStore, mark_topdir
from portside.engine.store.blobs import ContentStore
from portside.engine.store.db import Database

_FS_TOPDIR_FL = 0x00020000


def _flags(path: Path) -> int:
    buf = bytearray(4)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, 0x80086601, buf, True)  # FS_IOC_GETFLAGS
    finally:
        os.close(fd)
    return int.from_bytes(buf, sys.byteorder)


def _on_ext4(path: Path) -> bool:
    out = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    return out.stdout.strip() == "ext2/ext3"


def test_layer_store_start_marks_tmp_as_topdir(tmp_path: Path) -> None:
    if not _on_ext4(tmp_path):
        pytest.skip("needs ext4 (FS_TOPDIR_FL)")
    content = ContentStore(tmp_path / "blobs")
    content.start()
    store = LayerStore(tmp_path / "layers", Database(tmp_path / "db.sqlite"), content)
    store.start()
    assert _flags(store.tmp) & _FS_TOPDIR_FL
    # A restart recreates tmp; the flag comes back with it.
    store.start()
    assert _flags(store.tmp) & _FS_TOPDIR_FL


def test_mark_topdir_is_best_effort(tmp_path: Path) -> None:
    assert mark_topdir(tmp_path / "missing") is False
    f = tmp_path / "file"
    f.write_bytes(b"x")
    assert mark_topdir(f) is False  # not a directory: refused, no exception
