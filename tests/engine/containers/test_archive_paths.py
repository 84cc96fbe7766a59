"""Chroot-like path resolution over a rootfs with mounts, the stat helpers, and the
fd-based tar writer — on hand-made trees full of hostile symlinks."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from portside.engine.containers.files.archive import go_base, go_file_mode, normalize
from portside.engine.errors import InvalidParameter, NotFound
from portside.engine.fs.pathresolve import MountSource, RootView
from portside.engine.fs.tarwrite import TreeTar


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """rootfs with escape links, a volume source and an outside sentinel."""
    root = tmp_path / "rootfs"
    vol = tmp_path / "vol"
    outside = tmp_path / "outside"
    for d in (root / "etc", root / "data", root / "a/b", vol / "sub", outside):
        d.mkdir(parents=True)
    (root / "etc/passwd").write_text("container\n")
    (outside / "passwd").write_text("host\n")
    (vol / "sub/v").write_text("volume\n")
    os.symlink("/", root / "escape")
    os.symlink("../../../../..", root / "a/b/up")
    os.symlink(str(outside), root / "abs-out")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    os.symlink("/etc/passwd", vol / "sub/link-to-etc")  # a link inside a volume
    os.symlink("/data/sub", root / "to-vol")
    return root, vol, outside


def _read(view: RootView, path: str) -> str:
    r = view.resolve(path)
    try:
        fd = os.open(r.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=r.parent_fd)
        with os.fdopen(fd) as f:
            return f.read()
    finally:
        r.close()


def test_symlinks_resolve_inside_the_root(tree):
    root, _, outside = tree
    view = RootView(root)
    assert _read(view, "/escape/etc/passwd") == "container\n"
    assert _read(view, "/a/b/up/etc/passwd") == "container\n"
    assert _read(view, "/a/b/../../../../etc/passwd") == "container\n"
    # an absolute link to a host path names that path *inside* the container...
    with pytest.raises(NotFound):
        view.resolve("/abs-out/passwd")  # ...where it does not exist
    inside = root / str(outside).lstrip("/")
    inside.mkdir(parents=True)
    (inside / "passwd").write_text("inside\n")
    assert _read(view, "/abs-out/passwd") == "inside\n"
    assert (outside / "passwd").read_text() == "host\n"
    with pytest.raises(InvalidParameter, match="too many levels"):
        view.resolve("/loop1/x")
    with pytest.raises(NotFound):
        view.resolve("/etc/passwd/x")
    with pytest.raises(NotFound):
        view.resolve("/missing/x")


def test_an_overlong_name_is_invalid_not_a_crash(tree):
    root, _, _ = tree
    view = RootView(root)
    for path in ("/" + "x" * 256, "/etc/" + "x" * 256 + "/passwd"):
        with pytest.raises(InvalidParameter, match="file name too long"):
            view.resolve(path)


def test_final_symlink_kept_or_followed(tree):
    root, _, _ = tree
    view = RootView(root)
    r = view.resolve("/escape", follow_last=False)
    assert r.name == "escape" and stat.S_ISLNK(r.lstat().st_mode)
    r.close()
    r = view.resolve("/escape", follow_last=True)
    assert r.name == "" and r.path == "/"
    r.close()


def test_mounts_are_part_of_the_view(tree, tmp_path):
    root, vol, _ = tree
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    view = RootView(
        root,
        [
            MountSource(("data",), vol, rw=False),
            MountSource(("etc", "hosts"), hosts),
        ],
    )
    assert _read(view, "/data/sub/v") == "volume\n"
    assert _read(view, "/to-vol/v") == "volume\n"  # a link into the volume
    # a link inside the volume resolves in the container's root, not the host's
    assert _read(view, "/data/sub/link-to-etc") == "container\n"
    assert _read(view, "/etc/hosts") == "127.0.0.1 localhost\n"
    r = view.resolve("/data/sub/v")
    assert r.mount is not None and r.mount.rw is False and r.path == "/data/sub/v"
    r.close()
    r = view.resolve("/data")
    assert r.mount is not None and stat.S_ISDIR(r.lstat().st_mode)
    r.close()
    r = view.resolve("/data/sub/..")
    assert r.path == "/data" and r.mount is not None
    r.close()
    r = view.resolve("/etc/passwd")
    assert r.mount is None
    r.close()


def test_path_helpers():
    assert normalize("/etc/") == "/etc/"
    assert normalize("/etc/.") == "/etc/."
    assert normalize("etc") == "/etc"
    assert normalize("/../../etc//x/..") == "/etc"
    assert normalize("/") == "/"
    with pytest.raises(InvalidParameter):
        normalize("")
    assert go_base("/etc/") == "etc" and go_base("/etc/.") == "." and go_base("/") == "/"
    assert go_file_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert go_file_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert go_file_mode(stat.S_IFREG | stat.S_ISUID | 0o755) == (1 << 23) | 0o755
    assert go_file_mode(stat.S_IFDIR | stat.S_ISVTX | 0o777) == (1 << 31) | (1 << 20) | 0o777
    assert go_file_mode(stat.S_IFCHR | 0o600) == (1 << 26) | (1 << 21) | 0o600
    assert go_file_mode(stat.S_IFIFO | 0o600) == (1 << 25) | 0o600


def test_tree_tar_keeps_links_and_special_files(tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d/f").write_bytes(b"x" * 3000)
    os.link(src / "d/f", src / "d/hard")
    os.symlink("/etc/shadow", src / "d/sym")  # archived as a link, never read
    os.mkfifo(src / "d/fifo")
    (src / "d/cap").write_bytes(b"#!")
    os.setxattr(
        src / "d/cap", "security.capability", b"\x01\x00\x00\x02\x00\x20\x00\x00" * 2 + b"\x00" * 4
    )
    os.setxattr(src / "d/cap", "user.other", b"dropped")
    chunks: list[bytes] = []
    tar = TreeTar(chunks.append)
    fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    try:
        tar.add_tree(fd, "d", "d")
    finally:
        os.close(fd)
    tar.close()
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as t:
        members = {m.name: m for m in t.getmembers()}
        assert list(members) == ["d", "d/cap", "d/f", "d/fifo", "d/hard", "d/sym"]
        assert members["d/f"].size == 3000
        assert members["d/hard"].islnk() and members["d/hard"].linkname == "d/f"
        assert members["d/sym"].issym() and members["d/sym"].linkname == "/etc/shadow"
        assert members["d/fifo"].isfifo()
        caps = members["d/cap"].pax_headers
        assert "SCHILY.xattr.security.capability" in caps
        assert "SCHILY.xattr.user.other" not in caps
        assert t.extractfile("d/f").read() == b"x" * 3000  # type: ignore[union-attr]
