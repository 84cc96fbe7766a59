"""Hostile layer tars: nothing may land outside the layer, failures leave nothing behind."""

from __future__ import annotations

import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from portside.engine.errors import InvalidParameter, SystemError_
from portside.engine.fs.stream import BytesReader
from portside.engine.images.layers import PendingLayer, extract_sync
from portside.engine.images.tarsplit import SplitReader
from tarkit import d, dev, f, fifo, hard, snapshot, sym, tar, xattrs
from tarkit import digest as sha


@pytest.fixture
def env(tmp_path: Path):
    """A layers tmp dir and a host sentinel directory with a file in it."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_text("host data")
    tmp = tmp_path / "layers-tmp"
    tmp.mkdir()
    return tmp, host


def extract(tmp: Path, data: bytes) -> PendingLayer:
    return extract_sync(BytesReader(data), tmp)


def refused(env, data: bytes, words: str) -> InvalidParameter:
    """Extraction fails with ``words`` in the message, leaving nothing anywhere."""
    tmp, host = env
    before = snapshot(host)
    passwd = os.stat("/etc/passwd")
    with pytest.raises(InvalidParameter) as exc:
        extract(tmp, data)
    assert words in exc.value.message
    assert list(tmp.iterdir()) == [], "a failed extraction left files in layers/tmp"
    assert snapshot(host) == before, "the host sentinel dir changed"
    after = os.stat("/etc/passwd")
    assert (after.st_nlink, after.st_mtime_ns) == (passwd.st_nlink, passwd.st_mtime_ns)
    return exc.value


def test_dotdot_is_refused(env):
    refused(env, tar(f("ok"), f("../evil")), "path escapes the layer")
    refused(env, tar(d("a"), f("a/../../evil")), "path escapes the layer")


def test_absolute_names_stay_inside(env):
    tmp, host = env
    before = snapshot(host)
    p = extract(tmp, tar(f(f"{host}/evil", b"boom"), f("/abs/evil")))
    assert (p.path / "diff" / str(host).lstrip("/") / "evil").read_bytes() == b"boom"
    assert (p.path / "diff/abs/evil").is_file()
    assert snapshot(host) == before
    assert not Path("/abs").exists()


def test_file_through_symlink_to_host_dir_is_refused(env):
    _, host = env
    refused(env, tar(sym("link", str(host)), f("link/evil")), "through symlink")


def test_symlink_chain_is_refused(env):
    _, host = env
    refused(env, tar(sym("a", "b"), sym("b", str(host)), f("a/evil")), "through symlink")
    refused(env, tar(d("x"), sym("x/up", "../../../../../.."), f("x/up/evil")), "through symlink")


def test_directory_entry_through_symlink_is_refused(env):
    _, host = env
    refused(env, tar(sym("link", str(host)), d("link/sub")), "through symlink")


def test_hard_link_to_host_file_is_refused(env):
    refused(env, tar(hard("pw", "/etc/passwd")), "is not in the layer")
    refused(env, tar(hard("pw", "../../../../etc/passwd")), "path escapes the layer")


def test_hard_link_through_symlink_is_refused(env):
    refused(env, tar(sym("etc", "/etc"), hard("pw", "etc/passwd")), "through symlink")


def test_hard_link_to_symlink_links_the_symlink_itself(env):
    tmp, _ = env
    nlink = os.stat("/etc/passwd").st_nlink
    p = extract(tmp, tar(sym("s", "/etc/passwd"), hard("h", "s")))
    h = p.path / "diff/h"
    assert stat.S_ISLNK(os.lstat(h).st_mode) and os.readlink(h) == "/etc/passwd"
    assert os.lstat(h).st_nlink == 2
    assert os.stat("/etc/passwd").st_nlink == nlink


def test_hard_link_inside_layer_works(env):
    tmp, _ = env
    p = extract(tmp, tar(d("bin"), f("bin/a", b"data", mode=0o755), hard("bin/b", "bin/a")))
    a, b = os.stat(p.path / "diff/bin/a"), os.stat(p.path / "diff/bin/b")
    assert (a.st_ino, a.st_nlink) == (b.st_ino, 2)


def test_hard_link_to_directory_is_refused(env):
    refused(env, tar(d("dir"), hard("h", "dir")), "target is a directory")


def test_symlinks_are_stored_verbatim_and_never_followed(env):
    tmp, host = env
    before = snapshot(host)
    p = extract(
        tmp,
        tar(sym("abs", str(host / "secret")), sym("rel", "../../x"), f("abs", b"replaced")),
    )
    assert os.readlink(p.path / "diff/rel") == "../../x"
    # The second "abs" replaced the symlink; it did not write through it.
    assert (p.path / "diff/abs").read_bytes() == b"replaced"
    assert not (p.path / "diff/abs").is_symlink()
    assert snapshot(host) == before
    assert (host / "secret").read_text() == "host data"


def test_device_nodes_are_skipped_but_whiteout_devices_kept(env):
    tmp, _ = env
    p = extract(
        tmp,
        tar(
            d("dev"),
            dev("dev/null", tarfile.CHRTYPE, 1, 3),
            dev("dev/sda", tarfile.BLKTYPE, 8, 0),
            dev("gone", tarfile.CHRTYPE, 0, 0),
            fifo("pipe"),
        ),
    )
    diff = p.path / "diff"
    assert not (diff / "dev/null").exists() and not (diff / "dev/sda").exists()
    assert any("dev/null" in w for w in p.warnings) and any("dev/sda" in w for w in p.warnings)
    st = os.lstat(diff / "gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert stat.S_ISFIFO(os.lstat(diff / "pipe").st_mode)


def test_truncated_tar_is_refused(env):
    data = tar(f("big", b"y" * 5000))
    refused(env, data[: 512 + 1000], "truncated")


def test_tar_lying_about_sizes_is_refused(env):
    # The header says 600 bytes; the data is 10 and the next header follows at once, so
    # the reader lands in the middle of garbage: a checksum error, never a write.
    good = tar(f("a", b"0123456789"), f("b", b"second"))
    header = bytearray(good[:512])
    header[124:136] = b"%011o\0" % 600
    header[148:156] = b"        "
    header[148:156] = b"%06o\0 " % sum(header)
    refused(env, bytes(header) + good[512:], "checksum mismatch")


def test_garbage_is_not_a_tar(env):
    refused(env, b"this is not a tar archive at all" * 40, "checksum")


def test_huge_names_are_refused(env):
    refused(env, tar(f("a/" * 2100 + "x")), "longer than 4096")
    refused(env, tar(f("n" * 300)), "longer than 255")


def test_huge_pax_header_is_refused(env):
    info, data = f("x")
    info.pax_headers["comment"] = "c" * (2 << 20)
    refused(env, tar((info, data)), "exceeds the limit")


def test_gnu_long_names_work(env):
    tmp, _ = env
    name = "deep/" * 30 + "file"
    p = extract(tmp, tar(f(name, b"long"), fmt=tarfile.GNU_FORMAT))
    assert (p.path / "diff" / name).read_bytes() == b"long"


def test_whiteouts_become_overlay_whiteouts(env):
    tmp, _ = env
    p = extract(tmp, tar(d("etc"), f("etc/.wh.motd", b""), d("var"), f("var/.wh..wh..opq", b"")))
    wh = os.lstat(p.path / "diff/etc/motd")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == os.makedev(0, 0)
    assert not (p.path / "diff/etc/.wh.motd").exists()
    assert os.getxattr(p.path / "diff/var", "trusted.overlay.opaque") == b"y"
    assert not (p.path / "diff/var/.wh..wh..opq").exists()


def test_metadata_is_preserved(env):
    tmp, _ = env
    cap = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_raw
    p = extract(
        tmp,
        tar(
            d("bin", mode=0o755, uid=0, gid=0, mtime=1_500_000_000),
            xattrs(f("bin/ping", b"elf", mode=0o4755, uid=0, gid=0), security__capability=cap),
            f("bin/owned", b"o", mode=0o640, uid=1234, gid=5678, mtime=1_234_567_890),
            xattrs(f("bin/ovl", b"o"), trusted__overlay__redirect=b"/etc"),
            sym("bin/sh", "/bin/busybox", uid=42, gid=43),
        ),
    )
    diff = p.path / "diff"
    ping = os.lstat(diff / "bin/ping")
    assert stat.S_IMODE(ping.st_mode) == 0o4755
    assert os.getxattr(diff / "bin/ping", "security.capability") == cap
    owned = os.lstat(diff / "bin/owned")
    assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == (1234, 5678, 0o640)
    assert owned.st_mtime == 1_234_567_890
    assert os.lstat(diff / "bin").st_mtime == 1_500_000_000  # set after its children
    assert "trusted.overlay.redirect" not in os.listxattr(diff / "bin/ovl")
    assert any("trusted.overlay.redirect" in w for w in p.warnings)
    sh = os.lstat(diff / "bin/sh")
    assert (sh.st_uid, sh.st_gid) == (42, 43)


def test_duplicate_entries_keep_the_last_and_rebuild_exactly(env):
    tmp, _ = env
    data = tar(
        d("d"),
        f("d/a", b"first version"),
        f("d/a", b"second, longer version"),
        f("d/b", b"in a dir that is replaced"),
        f("d", b"now a file"),
        f("d", b"and again"),
    )
    p = extract(tmp, data)
    assert (p.path / "diff/d").read_bytes() == b"and again"
    assert p.diff_id == sha(data)
    assert rebuild(p.path) == data


def test_rebuild_is_byte_exact_with_trailing_padding(env):
    tmp, _ = env
    data = tar(d("x"), f("x/y", os.urandom(3000)), sym("x/z", "y")) + bytes(10240)
    p = extract(tmp, data)
    assert p.diff_id == sha(data) and p.tar_size == len(data)
    assert rebuild(p.path) == data


def rebuild(layer_dir: Path) -> bytes:
    r = SplitReader(layer_dir)
    try:
        out = b""
        while chunk := r.read(4096):
            out += chunk
        return out
    finally:
        r.close()


def test_bad_whiteout_names_are_refused(env):
    refused(env, tar(f(".wh.", b"")), "invalid whiteout")
    refused(env, tar(d("a"), f("a/.wh..", b"")), "invalid whiteout")


def test_disk_full_while_unpacking_is_a_clear_error(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=True)
    try:
        with pytest.raises(SystemError_, match="no space left on device"):
            extract_sync(BytesReader(tar(f("big", os.urandom(1 << 20)))), mnt)
        assert list(mnt.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
