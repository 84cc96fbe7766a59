"""``docker cp`` sees what the container sees: the bind-mounted /etc files and other
mounts inside an archived tree, uploads that reach into volumes, and uploads through
symlinks that already exist in the container (followed inside its root, never out)."""

from __future__ import annotations

import io
import os
import tarfile
import uuid
from pathlib import Path

import pytest
from iohelp import uniq, wait_for
from portside.engine.fs.pathresolve import MountSource, RootView
from portside.engine.fs.tarwrite import TreeTar
from support.docker_inspect import inspect


def _tar(files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in dirs:
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.mode = 0o644
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _members(engine, name: str, path: str) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    r = engine.api("GET", f"/containers/{name}/archive", params={"path": path})
    assert r.status_code == 200, r.text
    out = {}
    with tarfile.open(fileobj=io.BytesIO(r.content)) as t:
        for m in t.getmembers():
            f = t.extractfile(m) if m.isfile() else None
            out[m.name] = (m, f.read() if f is not None else b"")
    return out


def _put(engine, name: str, path: str, body: bytes):
    return engine.api("PUT", f"/containers/{name}/archive", params={"path": path}, content=body)


def test_tree_walk_shows_mount_sources(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("pw\n")
    (root / "etc/hosts").touch(mode=0o755)  # the runtime's empty mount point
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    os.chmod(hosts, 0o644)
    vol = tmp_path / "vol"
    (vol / "sub").mkdir(parents=True)
    (vol / "sub/v").write_text("volume\n")
    view = RootView(root, [MountSource(("etc", "hosts"), hosts), MountSource(("srv", "data"), vol)])
    (root / "srv").mkdir()  # /srv/data's mount point is missing: still shown
    chunks: list[bytes] = []
    tar = TreeTar(chunks.append)
    r = view.resolve("/")
    try:
        tar.add_tree(r.parent_fd, r.name, "/", overlay=view, parts=r.parts)
    finally:
        r.close()
    tar.close()
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as t:
        names = t.getnames()
        assert t.extractfile("/etc/hosts").read() == b"127.0.0.1 localhost\n"  # type: ignore[union-attr]
        assert t.getmember("/etc/hosts").mode == 0o644
        assert t.extractfile("/srv/data/sub/v").read() == b"volume\n"  # type: ignore[union-attr]
    assert "/etc/passwd" in names and "/srv/data" in names


@pytest.fixture
def ctr(shared_engine, tmp_path):
    """A running container with a volume at /data, a read-only bind at /ro, a bind
    inside /srv, and symlinks: /lnk -> /d, /up -> ../../.., /tovol -> /data."""
    e = shared_engine
    name = uniq("mnt")
    vol = uniq("vol")
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "keep").write_text("ro\n")
    srv = tmp_path / "srv"
    srv.mkdir()
    (srv / "inner").write_text("bound\n")
    e.docker(
        "run", "-d", "--name", name, "-v", f"{vol}:/data", "-v", f"{ro}:/ro:ro",
        "-v", f"{srv}:/srv/b", "busybox", "sh", "-c",
        "mkdir -p /d && ln -s /d /lnk && ln -s ../../.. /up && ln -s /data /tovol && "
        "ln -s /ro /toro && exec sleep 3600",
    )  # fmt: skip
    wait_for(lambda: e.docker("exec", name, "test", "-L", "/toro", check=False).returncode == 0)
    yield name, vol, ro, srv
    e.docker("rm", "-f", "-v", name, check=False)
    e.docker("volume", "rm", vol, check=False)


def test_archive_of_etc_shows_the_mounted_files(shared_engine, ctr, tmp_path):
    e = shared_engine
    name, *_ = ctr
    for running in (True, False):
        if not running:
            e.docker("stop", "-t", "0", name)
            assert inspect(e, name)["State"]["Status"] == "exited"
        seen = {
            f: e.docker("exec", name, "cat", f"/etc/{f}").stdout.encode() if running else None
            for f in ("hosts", "hostname", "resolv.conf")
        }
        got = _members(e, name, "/etc")
        for f, inside in seen.items():
            m, data = got[f"etc/{f}"]
            assert m.mode == 0o644 and data, (f, running)
            if inside is not None:
                assert data == inside, f
        assert b"localhost" in got["etc/hosts"][1]
        assert "etc/passwd" in got
        # a bind inside an archived directory is archived from its source
        srv = _members(e, name, "/srv")
        assert srv["srv/b/inner"][1] == b"bound\n"
        e.docker("cp", f"{name}:/etc", str(tmp_path / f"etc-{running}"))
        assert b"localhost" in (tmp_path / f"etc-{running}/hosts").read_bytes()
    e.docker("start", name)


def test_cp_into_etc_hosts_lands_in_the_mounted_file(shared_engine, ctr, tmp_path):
    e = shared_engine
    name, *_ = ctr
    new = tmp_path / "hosts"
    new.write_text("127.0.0.1 localhost\n10.9.8.7 copied-in\n")
    e.docker("cp", str(new), f"{name}:/etc/hosts")
    assert e.docker("exec", name, "cat", "/etc/hosts").stdout == new.read_text()
    # written into the file the container has mounted (the mount is still there,
    # not detached by replacing the mount point underneath it)
    info = inspect(e, name)
    assert Path(info["HostsPath"]).read_text() == new.read_text()
    mounts = e.docker("exec", name, "cat", "/proc/self/mountinfo").stdout
    assert " /etc/hosts " in mounts
    r = _put(e, name, "/etc", _tar({"hostname": b"renamed\n"}))
    assert r.status_code == 200, r.text
    assert e.docker("exec", name, "cat", "/etc/hostname").stdout == "renamed\n"
    assert Path(info["HostnamePath"]).read_text() == "renamed\n"
    # the mount point itself cannot become a directory
    r = _put(e, name, "/etc", _tar({}, dirs=("hosts",)))
    assert r.status_code == 400


def test_upload_to_root_lands_in_volumes(shared_engine, ctr):
    e = shared_engine
    name, vol, ro, srv = ctr
    mountpoint = Path(inspect(e, vol)["Mountpoint"])
    upper = Path(inspect(e, name)["GraphDriver"]["Data"]["UpperDir"])
    r = _put(e, name, "/", _tar({"data/new.txt": b"in volume\n", "srv/b/n": b"bind\n"}))
    assert r.status_code == 200, r.text
    assert (mountpoint / "new.txt").read_text() == "in volume\n"
    assert (srv / "n").read_text() == "bind\n"
    assert not (upper / "data/new.txt").exists()
    assert e.docker("exec", name, "cat", "/data/new.txt").stdout == "in volume\n"
    # with a directory entry for the mount point too, and on a stopped container
    e.docker("stop", "-t", "0", name)
    r = _put(e, name, "/", _tar({"data/sub/x": b"x\n"}, dirs=("data", "data/sub")))
    assert r.status_code == 200, r.text
    assert (mountpoint / "sub/x").read_text() == "x\n"
    assert not (upper / "data/sub").exists()
    # a read-only bind reached from / refuses the write
    r = _put(e, name, "/", _tar({"ro/evil": b"no\n"}))
    assert r.status_code == 403 and r.json()["message"] == "mounted volume is marked read-only"
    assert sorted(os.listdir(ro)) == ["keep"]


def test_upload_through_container_symlinks_stays_inside(shared_engine, ctr):
    e = shared_engine
    name, vol, ro, _srv = ctr
    mountpoint = Path(inspect(e, vol)["Mountpoint"])
    sentinel = Path(f"/tmp/portside-follow-{uuid.uuid4().hex[:8]}")
    body = _tar(
        {
            "lnk/via-link.txt": b"followed\n",
            "lnk/deeper/made.txt": b"deep\n",
            "tovol/via-vol.txt": b"vol\n",
            f"up{sentinel}/x": b"inside\n",
        }
    )
    r = _put(e, name, "/", body)
    assert r.status_code == 200, r.text
    out = e.docker(
        "exec", name, "cat", "/d/via-link.txt", "/d/deeper/made.txt", f"{sentinel}/x"
    ).stdout
    assert out == "followed\ndeep\ninside\n"
    assert (mountpoint / "via-vol.txt").read_text() == "vol\n"
    assert not sentinel.exists()  # ../../.. stopped at the container's root
    # the links themselves are untouched
    assert e.docker("exec", name, "readlink", "/lnk").stdout == "/d\n"
    # following a link into a read-only bind is refused
    r = _put(e, name, "/", _tar({"toro/evil": b"no\n"}))
    assert r.status_code == 403
    assert sorted(os.listdir(ro)) == ["keep"]
    # a link written by the same tar is still never followed
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo("mine")
        ti.type = tarfile.SYMTYPE
        ti.linkname = "/d"
        t.addfile(ti)
        ti = tarfile.TarInfo("mine/y")
        ti.size = 1
        t.addfile(ti, io.BytesIO(b"y"))
    r = _put(e, name, "/tmp", buf.getvalue())
    assert r.status_code == 400
    res = e.docker("exec", name, "test", "-e", "/d/y", check=False)
    assert res.returncode != 0


def test_replacing_a_directory_that_holds_a_mount_point_is_refused(shared_engine, ctr):
    e = shared_engine
    name, _vol, _ro, srv = ctr
    upper = Path(inspect(e, name)["GraphDriver"]["Data"]["UpperDir"])
    r = _put(e, name, "/", _tar({"srv": b"a file where /srv was\n"}))
    assert r.status_code == 400
    assert r.json()["message"] == (
        'cannot overwrite directory "/srv" with non-directory: "/srv/b" is a mount point '
        "(device or resource busy)"
    )
    assert not (upper / "srv").exists() or (upper / "srv").is_dir()
    assert e.docker("exec", name, "cat", "/srv/b/inner").stdout == "bound\n"
    assert e.docker("exec", name, "test", "-d", "/srv").returncode == 0
    assert (srv / "inner").read_text() == "bound\n"
