"""Copy-up helpers: in-rootfs path resolution and copying into empty directories only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from portside.engine.errors import InvalidParameter, SystemError_
from portside.engine.volumes.copyup import copy_into_empty, resolve_in_root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "rootfs"
    (r / "usr" / "share").mkdir(parents=True)
    os.symlink("/usr", r / "abs")
    os.symlink("usr/share", r / "rel")
    os.symlink("../../../../..", r / "up")
    os.symlink("/../../etc", r / "etc-escape")
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    return r


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("/usr/share", "usr/share"),
        ("usr/./share/", "usr/share"),
        ("/abs/share", "usr/share"),
        ("/rel", "usr/share"),
        ("/up/usr", "usr"),
        ("/../../usr", "usr"),
        ("/etc-escape/passwd", "etc/passwd"),
        ("/missing/dir", "missing/dir"),
        ("/", ""),
    ],
)
def test_resolve_in_root_stays_inside(root, path, want):
    assert resolve_in_root(root, path) == Path(os.path.realpath(root), want)


def test_resolve_in_root_symlink_loop(root):
    with pytest.raises(SystemError_):
        resolve_in_root(root, "/loop1/x")


def test_copy_into_empty(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "f").write_text("hi")
    dst.mkdir()
    assert copy_into_empty(src, dst) is True
    assert (dst / "a" / "b" / "f").read_text() == "hi"
    (src / "new").write_text("later")
    assert copy_into_empty(src, dst) is False  # not empty any more
    assert not (dst / "new").exists()


def test_copy_into_empty_source_missing_or_file_or_symlink(tmp_path):
    dst = tmp_path / "dst"
    dst.mkdir()
    assert copy_into_empty(tmp_path / "nope", dst) is False
    (tmp_path / "file").write_text("x")
    assert copy_into_empty(tmp_path / "file", dst) is False
    os.symlink("/etc", tmp_path / "link")
    assert copy_into_empty(tmp_path / "link", dst) is False  # never followed
    assert list(dst.iterdir()) == []


def test_copy_large_and_deep_tree(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    deep = src
    for i in range(300):  # deeper than Python's comfortable recursion, no recursion used
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    (deep / "leaf").write_bytes(os.urandom(3 << 20))
    dst.mkdir()
    assert copy_into_empty(src, dst)
    rel = deep.relative_to(src)
    assert (dst / rel / "leaf").read_bytes() == (deep / "leaf").read_bytes()


def test_resolve_in_root_refuses_a_name_the_filesystem_cannot_hold(root):
    with pytest.raises(InvalidParameter, match="file name too long"):
        resolve_in_root(root, "/" + "v" * 300 + "/x")
