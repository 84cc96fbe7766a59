"""User resolution against a rootfs's /etc/passwd and /etc/group (runc's rules)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from portside.engine.containers.oci.usermap import resolve_user, secure_join
from portside.engine.errors import InvalidParameter

pytestmark = pytest.mark.runtime_matrix

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """\
root:x:0:
daemon:x:1:
wheel:x:10:app,root
audio:x:29:app
app:x:1000:
nogroup:x:65534:
"""


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(PASSWD)
    (tmp_path / "etc/group").write_text(GROUP)
    return tmp_path


def test_default_user_is_root_with_its_groups(rootfs: Path) -> None:
    u = resolve_user(rootfs, "")
    assert (u.uid, u.gid, u.home, u.name) == (0, 0, "/root", "root")
    # moby: primary gid first, then the supplementary groups root is listed in.
    assert u.additional_gids == [0, 10]


def test_name_resolves_uid_gid_home_and_memberships(rootfs: Path) -> None:
    u = resolve_user(rootfs, "app")
    assert (u.uid, u.gid, u.home) == (1000, 1000, "/home/app")
    assert u.additional_gids == [1000, 10, 29]


def test_numeric_uid_matches_passwd_entry(rootfs: Path) -> None:
    u = resolve_user(rootfs, "65534")
    assert (u.uid, u.gid, u.name) == (65534, 65534, "nobody")


def test_explicit_group_replaces_primary_and_drops_supplementary(rootfs: Path) -> None:
    u = resolve_user(rootfs, "app:audio")
    assert (u.uid, u.gid) == (1000, 29)
    assert u.additional_gids == [29]
    assert resolve_user(rootfs, "app:4242").gid == 4242


def test_numeric_ids_work_without_any_files(tmp_path: Path) -> None:
    u = resolve_user(tmp_path, "1234:5678")
    assert (u.uid, u.gid, u.additional_gids, u.home) == (1234, 5678, [5678], "/")
    u = resolve_user(tmp_path, "42")
    assert (u.uid, u.gid) == (42, 0)
    assert resolve_user(tmp_path, "").uid == 0


def test_unknown_user_has_dockers_message(rootfs: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter) as e:
        resolve_user(rootfs, "xyz")
    assert e.value.message == "unable to find user xyz: no matching entries in passwd file"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidParameter, match="unable to find user nobody"):
        resolve_user(empty, "nobody")


def test_unknown_group_and_out_of_range_ids(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter) as e:
        resolve_user(rootfs, "app:nosuch")
    assert e.value.message == "unable to find group nosuch: no matching entries in group file"
    with pytest.raises(InvalidParameter, match="range"):
        resolve_user(rootfs, "4294967296")
    with pytest.raises(InvalidParameter, match="range"):
        resolve_user(rootfs, "-1")


def test_group_add_by_name_or_number_without_duplicates(rootfs: Path) -> None:
    u = resolve_user(rootfs, "nobody", ["audio", "29", "777"])
    assert u.additional_gids == [65534, 29, 777]
    with pytest.raises(InvalidParameter, match="Unable to find group nosuch"):
        resolve_user(rootfs, "nobody", ["nosuch"])


def test_passwd_symlink_cannot_escape_the_rootfs(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("evil:x:0:0::/:/bin/sh\n")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    # Absolute and ../ targets are resolved inside the rootfs, as the container sees them.
    os.symlink("/../../outside/passwd", root / "etc/passwd")
    with pytest.raises(InvalidParameter, match="unable to find user evil"):
        resolve_user(root, "evil")
    assert secure_join(root, "/etc/passwd") == root / "outside/passwd"
    (root / "outside").mkdir()
    (root / "outside/passwd").write_text("good:x:7:7::/g:/bin/sh\n")
    assert resolve_user(root, "good").uid == 7


def test_secure_join_follows_relative_links_and_stops_loops(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink("real", tmp_path / "link")
    assert secure_join(tmp_path, "/link/x") == tmp_path / "real/x"
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(InvalidParameter, match="symbolic links"):
        secure_join(tmp_path, "/loop/x")


def test_blank_lines_and_short_entries_are_tolerated(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("\n\nshort:x:5\nroot:x:0:0:root:/root:/bin/sh\n")
    assert resolve_user(tmp_path, "short").uid == 5
