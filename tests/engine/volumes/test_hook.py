"""The volumes hook and service in-process, on real directories and real mounts.

The container is the plain record the containers service hands to hooks (id, name,
config, host_config, mounts, extra); everything else — SQLite, volume directories,
tmpfs/bind mounts, copy-up — is real.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from portside.engine.config import DaemonConfig
from portside.engine.errors import Conflict, InvalidParameter
from portside.engine.store.db import Database
from portside.engine.system.events import EventBus
from portside.engine.volumes.hook import VolumesHook
from portside.engine.volumes.local import is_mount_point, mounts_under
from portside.engine.volumes.service import VolumeService

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, chown)")


class World:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.config = DaemonConfig(data_root=base / "data", exec_root=base / "exec")
        self.db = Database(self.config.data_root / "portside.db")
        self.events = EventBus()
        self.svc = VolumeService(self.config, self.db, self.events)
        self.hook = VolumesHook(self.svc)
        self.n = 0

    def container(self, config: dict | None = None, host: dict | None = None, **kw: Any):
        self.n += 1
        cid = f"{self.n:02d}" + "c" * 62
        rootfs = self.base / "containers" / cid / "rootfs"
        rootfs.mkdir(parents=True)
        return SimpleNamespace(
            id=cid,
            name=kw.get("name", f"ctr{self.n}"),
            config=config or {},
            host_config=host or {},
            mounts=[],
            extra={},
            rootfs=rootfs,
        )


@pytest.fixture
def unmount_after(tmp_path: Path) -> Iterator[None]:
    """Whatever a test leaves mounted under its directory is unmounted."""
    yield
    for m in sorted(mounts_under(tmp_path), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], check=False)


@pytest.fixture
async def w(tmp_path: Path, unmount_after: None) -> AsyncIterator[World]:
    world = World(tmp_path)
    await world.svc.start()
    try:
        yield world
    finally:
        world.db.close()


def spec(c: Any) -> dict:
    """The part of the OCI spec the hook reads and edits."""
    return {
        "root": {"path": str(c.rootfs)},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/etc/hosts", "type": "bind", "source": "/x/hosts"},
        ],
        "linux": {},
    }


def by_dest(sp: dict) -> dict[str, dict]:
    return {m["destination"]: m for m in sp["mounts"]}


async def test_create_plans_creates_and_references(w, tmp_path):
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    c = w.container(
        {"Volumes": {"/anon": {}}},
        {
            "Binds": [f"{host_dir}:/h:ro", "mydata:/app/data"],
            "Tmpfs": {"/run": "size=1m"},
            "Mounts": [{"Type": "tmpfs", "Target": "/scratch"}],
        },
    )
    await w.hook.on_create(c)
    mounts = {m["Destination"]: m for m in c.mounts}
    assert set(mounts) == {"/anon", "/h", "/app/data", "/scratch"}  # --tmpfs is not listed
    assert mounts["/app/data"] == {
        "Type": "volume",
        "Name": "mydata",
        "Source": str(w.svc.data_path("mydata")),
        "Destination": "/app/data",
        "Driver": "local",
        "Mode": "z",
        "RW": True,
        "Propagation": "",
    }
    assert mounts["/h"]["RW"] is False and mounts["/h"]["Propagation"] == "rprivate"
    anon = mounts["/anon"]["Name"]
    assert len(anon) == 64 and mounts["/anon"]["Mode"] == ""
    assert w.svc.get(anon)["Labels"] == {"com.docker.volume.anonymous": ""}
    assert w.svc.refs("mydata") == [c.id] and w.svc.refs(anon) == [c.id]
    with pytest.raises(Conflict) as e:
        await w.svc.remove("mydata")
    assert e.value.message == f"remove mydata: volume is in use - [{c.id}]"
    assert {v["Name"] for v in w.svc.list_volumes({"dangling": ["false"]})} == {anon, "mydata"}
    # a second engine on the same database still knows who uses what
    svc2 = VolumeService(w.config, w.db, w.events)
    await svc2.start()
    assert svc2.refs("mydata") == [c.id]


async def test_prepare_renders_spec(w, tmp_path):
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    c = w.container(
        {},
        {
            "Binds": [f"{host_dir}:/etc/hosts:ro", "vol1:/data"],
            "Tmpfs": {"/run": "rw,size=64m,exec"},
        },
    )
    await w.hook.on_create(c)
    sp = spec(c)
    await w.hook.prepare(c, sp)
    m = by_dest(sp)
    assert list(m) == ["/proc", "/data", "/run", "/etc/hosts"]
    assert m["/etc/hosts"] == {
        "destination": "/etc/hosts",
        "type": "bind",
        "source": str(host_dir),
        "options": ["rbind", "ro", "rprivate"],
    }
    assert m["/data"]["source"] == str(w.svc.data_path("vol1"))
    assert m["/data"]["options"] == ["rbind", "rprivate"]
    assert m["/run"] == {
        "destination": "/run",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "nodev", "rprivate", "rw", "size=64m", "exec"],
    }
    evs = [(e.type, e.action, e.actor_id) for e in w.events.history(None, None)]
    assert ("volume", "mount", "vol1") in evs
    await w.hook.on_stop(c)
    evs = [(e.type, e.action, e.actor_id) for e in w.events.history(None, None)]
    assert ("volume", "unmount", "vol1") in evs


def _make_image_content(rootfs: Path) -> Path:
    app = rootfs / "opt" / "app"
    (app / "data" / "sub").mkdir(parents=True)
    (app / "data" / "hello.txt").write_text("from the image")
    (app / "data" / "sub" / "deep.bin").write_bytes(os.urandom(100_000))
    os.chmod(app / "data" / "sub", 0o750)
    os.chown(app / "data" / "sub", 1000, 1001)
    (app / "data" / "suid").write_bytes(b"#!/bin/sh\n")
    os.chown(app / "data" / "suid", 0, 0)
    os.chmod(app / "data" / "suid", 0o4755)
    os.symlink("/etc/shadow", app / "data" / "abs-link")
    os.symlink("hello.txt", app / "data" / "rel-link")
    os.link(app / "data" / "hello.txt", app / "data" / "hard")
    os.mkfifo(app / "data" / "fifo")
    os.mknod(app / "data" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.setxattr(app / "data" / "hello.txt", "user.origin", b"image")
    os.chown(app / "data", 33, 33)
    os.chmod(app / "data", 0o711)
    os.utime(app / "data" / "hello.txt", ns=(1_000_000_000, 1_000_000_000))
    # the container path /app/data reaches the content through an absolute symlink
    os.symlink("/opt/app", rootfs / "app")
    return app / "data"


async def test_copy_up_seeds_new_volume_preserving_everything(w):
    c = w.container({}, {"Binds": ["seeded:/app/data"]})
    src = _make_image_content(c.rootfs)
    await w.hook.on_create(c)
    await w.hook.prepare(c, spec(c))
    data = w.svc.data_path("seeded")
    assert (data / "hello.txt").read_text() == "from the image"
    assert (data / "sub" / "deep.bin").read_bytes() == (src / "sub" / "deep.bin").read_bytes()
    st = os.stat(data / "sub")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o750)
    assert stat.S_IMODE(os.stat(data / "suid").st_mode) == 0o4755
    assert os.readlink(data / "abs-link") == "/etc/shadow"  # copied as a link, not followed
    assert os.readlink(data / "rel-link") == "hello.txt"
    assert os.stat(data / "hard").st_ino == os.stat(data / "hello.txt").st_ino
    assert stat.S_ISFIFO(os.lstat(data / "fifo").st_mode)
    assert os.lstat(data / "null").st_rdev == os.makedev(1, 3)
    assert os.getxattr(data / "hello.txt", "user.origin") == b"image"
    assert os.stat(data / "hello.txt").st_mtime_ns == 1_000_000_000
    root = os.stat(data)  # the volume root takes the image directory's owner and mode
    assert (root.st_uid, root.st_gid, stat.S_IMODE(root.st_mode)) == (33, 33, 0o711)


async def test_copy_up_only_first_start_and_only_into_empty_volumes(w):
    c = w.container({}, {"Binds": ["once:/app/data"]})
    _make_image_content(c.rootfs)
    await w.hook.on_create(c)
    await w.hook.prepare(c, spec(c))
    data = w.svc.data_path("once")
    for p in data.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    await w.hook.on_stop(c)
    await w.hook.prepare(c, spec(c))  # second start: the user's emptied volume stays empty
    assert list(data.iterdir()) == []
    # a volume that already has content is never overwritten
    await w.svc.create("full")
    (w.svc.data_path("full") / "mine").write_text("user data")
    c2 = w.container({}, {"Binds": ["full:/app/data"]})
    _make_image_content(c2.rootfs)
    await w.hook.on_create(c2)
    await w.hook.prepare(c2, spec(c2))
    assert [p.name for p in w.svc.data_path("full").iterdir()] == ["mine"]


async def test_copy_up_anonymous_from_image_volume_but_not_nocopy_or_binds(w, tmp_path):
    host_dir = tmp_path / "bindsrc"
    host_dir.mkdir()
    c = w.container(
        {"Volumes": {"/app/data": {}, "/etc": {}}},
        {"Binds": [f"{host_dir}:/opt/app", "nc:/other:nocopy"]},
    )
    _make_image_content(c.rootfs)
    (c.rootfs / "other").mkdir()
    (c.rootfs / "other" / "x").write_text("x")
    await w.hook.on_create(c)
    await w.hook.prepare(c, spec(c))
    anon = next(m for m in c.mounts if m["Destination"] == "/app/data")["Name"]
    assert (w.svc.data_path(anon) / "hello.txt").read_text() == "from the image"
    assert list(host_dir.iterdir()) == []  # binds are never seeded
    assert list(w.svc.data_path("nc").iterdir()) == []  # nocopy
    # /etc does not exist in this rootfs: nothing comes from the host's /etc
    etc = next(m for m in c.mounts if m["Destination"] == "/etc")["Name"]
    assert list(w.svc.data_path(etc).iterdir()) == []


async def test_copy_up_never_escapes_rootfs_through_symlinks(w):
    c = w.container({}, {"Binds": ["esc:/data"]})
    os.symlink("../../../../../../../../etc", c.rootfs / "data")
    await w.hook.on_create(c)
    await w.hook.prepare(c, spec(c))
    assert list(w.svc.data_path("esc").iterdir()) == []


async def test_rm_v_removes_only_anonymous_unused_volumes(w):
    c1 = w.container({"Volumes": {"/anon": {}}}, {"Binds": ["named:/n", "/anon2"]}, name="src")
    await w.hook.on_create(c1)
    anon = {m["Destination"]: m["Name"] for m in c1.mounts}
    c2 = w.container({}, {"VolumesFrom": ["src:ro"]})
    await w.hook.on_create(c2)
    assert {m["Destination"]: m["RW"] for m in c2.mounts} == {
        "/anon": False,
        "/n": False,
        "/anon2": False,
    }
    assert sorted(w.svc.refs(anon["/anon"])) == sorted([c1.id, c2.id])
    c1.extra["remove_volumes"] = True
    await w.hook.on_remove(c1)
    # still used by c2: kept, no error
    assert w.svc.exists(anon["/anon"]) and w.svc.exists(anon["/anon2"])
    c2.extra["remove_volumes"] = True
    await w.hook.on_remove(c2)
    assert not w.svc.exists(anon["/anon"]) and not w.svc.exists(anon["/anon2"])
    assert w.svc.exists("named") and w.svc.refs("named") == []
    assert not w.svc.data_path(anon["/anon"]).exists()
    await w.svc.remove("named")


async def test_rm_without_v_keeps_anonymous_volumes_dangling(w):
    c = w.container({"Volumes": {"/anon": {}}})
    await w.hook.on_create(c)
    name = c.mounts[0]["Name"]
    await w.hook.on_remove(c)
    assert w.svc.exists(name)
    assert [v["Name"] for v in w.svc.list_volumes({"dangling": ["true"]})] == [name]


async def test_failed_create_rolls_back(w):
    c = w.container({}, {"Binds": ["/anon1", "bad$name:/x"]})
    with pytest.raises(InvalidParameter) as e:
        await w.hook.on_create(c)
    assert 'create bad$name: "bad$name" includes invalid characters' in e.value.message
    assert w.svc.list_volumes() == []
    c2 = w.container({}, {"Mounts": [{"Type": "bind", "Source": "/nonexistent-x", "Target": "/x"}]})
    with pytest.raises(InvalidParameter) as e:
        await w.hook.on_create(c2)
    assert e.value.message == (
        'invalid mount config for type "bind": bind source path does not exist: /nonexistent-x'
    )


async def test_volumes_from_unknown_container(w):
    c = w.container({}, {"VolumesFrom": ["ghost"]})
    with pytest.raises(Exception) as e:
        await w.hook.on_create(c)
    assert getattr(e.value, "status", None) == 404
    assert e.value.message == "No such container: ghost"


async def test_legacy_bind_creates_missing_host_dir_mount_bind_does_not(w, tmp_path):
    missing = tmp_path / "made" / "by" / "run"
    c = w.container({}, {"Binds": [f"{missing}:/x"]})
    await w.hook.on_create(c)
    assert not missing.exists()
    await w.hook.prepare(c, spec(c))
    assert missing.is_dir() and stat.S_IMODE(os.stat(missing).st_mode) == 0o755
    src = tmp_path / "vanishing"
    src.mkdir()
    c2 = w.container({}, {"Mounts": [{"Type": "bind", "Source": str(src), "Target": "/y"}]})
    await w.hook.on_create(c2)
    src.rmdir()
    with pytest.raises(InvalidParameter) as e:
        await w.hook.prepare(c2, spec(c2))
    assert "bind source path does not exist" in e.value.message


async def test_tmpfs_volume_is_mounted_while_used(w):
    await w.svc.create("tmpv", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=4m"})
    data = w.svc.data_path("tmpv")
    c1 = w.container({}, {"Binds": ["tmpv:/t"]})
    c2 = w.container({}, {"Binds": ["tmpv:/t"]})
    for c in (c1, c2):
        await w.hook.on_create(c)
        await w.hook.prepare(c, spec(c))
    assert is_mount_point(data)
    (data / "shared").write_text("both see me")
    await w.hook.on_stop(c1)
    assert is_mount_point(data) and (data / "shared").exists()
    await w.hook.on_stop(c2)
    assert not is_mount_point(data)
    assert not (data / "shared").exists()  # tmpfs content went with the mount
    # not counted in df or prune (it has mount options)
    assert "tmpv" not in {v["Name"] for v in await w.svc.df()}


async def test_bind_style_volume_removal_never_touches_device(w, tmp_path):
    device = tmp_path / "precious"
    device.mkdir()
    (device / "keep.txt").write_text("do not delete")
    await w.svc.create("bound", driver_opts={"type": "none", "o": "bind", "device": str(device)})
    c = w.container({}, {"Binds": ["bound:/b"]})
    await w.hook.on_create(c)
    await w.hook.prepare(c, spec(c))
    assert (w.svc.data_path("bound") / "keep.txt").read_text() == "do not delete"
    # even a removal behind the service's back while mounted must not delete the device
    await w.svc.driver.remove("bound")
    assert (device / "keep.txt").read_text() == "do not delete"


async def test_bind_style_volume_missing_device_fails_at_mount(w, tmp_path):
    await w.svc.create(
        "nodev", driver_opts={"type": "none", "o": "bind", "device": str(tmp_path / "nope")}
    )
    c = w.container({}, {"Binds": ["nodev:/b"]})
    await w.hook.on_create(c)
    with pytest.raises(Exception) as e:
        await w.hook.prepare(c, spec(c))
    assert "failed to mount local volume" in e.value.message
    assert w.svc.mounted_by("nodev") == set()


async def test_subpath_is_staged_and_cannot_escape(w):
    await w.svc.create("sp")
    (w.svc.data_path("sp") / "inner" / "deep").mkdir(parents=True)
    (w.svc.data_path("sp") / "inner" / "deep" / "f").write_text("sub")
    os.symlink("/etc", w.svc.data_path("sp") / "escape")
    c = w.container(
        {},
        {
            "Mounts": [
                {
                    "Type": "volume",
                    "Source": "sp",
                    "Target": "/s",
                    "VolumeOptions": {"Subpath": "inner/deep"},
                }
            ]
        },
    )
    await w.hook.on_create(c)
    sp = spec(c)
    await w.hook.prepare(c, sp)
    src = Path(by_dest(sp)["/s"]["source"])
    assert is_mount_point(src) and (src / "f").read_text() == "sub"
    await w.hook.on_stop(c)
    assert c.id not in os.listdir(w.config.exec_root / "volume-subpaths")
    # a symlink inside the volume is resolved inside the volume, never to the host /etc
    c2 = w.container(
        {},
        {
            "Mounts": [
                {
                    "Type": "volume",
                    "Source": "sp",
                    "Target": "/s",
                    "VolumeOptions": {"Subpath": "escape/passwd"},
                }
            ]
        },
    )
    await w.hook.on_create(c2)
    with pytest.raises(InvalidParameter):
        await w.hook.prepare(c2, spec(c2))


async def test_restore_counts_running_containers(w):
    await w.svc.create("rv", driver_opts={"type": "tmpfs", "device": "tmpfs"})
    c = w.container({}, {"Binds": ["rv:/t"]})
    await w.hook.on_create(c)
    await w.hook.prepare(c, spec(c))
    # the engine restarts: a new service/hook on the same store re-adopts the container
    svc2 = VolumeService(w.config, w.db, w.events)
    await svc2.start()
    hook2 = VolumesHook(svc2)
    await hook2.on_restore(c)
    assert svc2.mounted_by("rv") == {c.id}
    await hook2.on_stop(c)
    assert not is_mount_point(svc2.data_path("rv"))


async def test_host_paths_for_archive_work(w, tmp_path):
    host_dir = tmp_path / "h"
    host_dir.mkdir()
    c = w.container(
        {"Volumes": {"/anon": {}}},
        {"Binds": [f"{host_dir}:/a/b:ro", "hp:/a"], "Tmpfs": {"/run": ""}},
    )
    await w.hook.on_create(c)
    paths = w.hook.host_paths(c.id)
    assert [p["Destination"] for p in paths][:1] == ["/a/b"]
    by = {p["Destination"]: p for p in paths}
    assert set(by) == {"/a/b", "/a", "/anon"}
    assert by["/a/b"] == {
        "Destination": "/a/b",
        "Source": str(host_dir),
        "RW": False,
        "Type": "bind",
    }
    assert by["/a"]["Source"] == str(w.svc.data_path("hp"))


async def test_references_of_vanished_containers_are_dropped(w):
    known: set[str] = set()
    w.svc.set_container_checker(lambda cid: cid in known)
    c1, c2 = w.container({}, {"Binds": ["stale:/d"]}), w.container({}, {"Binds": ["stale:/d"]})
    known |= {c1.id, c2.id}
    await w.hook.on_create(c1)
    await w.hook.on_create(c2)
    known.discard(c1.id)  # c1's record vanished without on_remove (a crash)
    with pytest.raises(Conflict) as e:
        await w.svc.remove("stale")
    assert e.value.message == f"remove stale: volume is in use - [{c2.id}]"
    known.discard(c2.id)
    assert [v["Name"] for v in w.svc.list_volumes({"dangling": ["1"]})] == ["stale"]
    await w.svc.remove("stale")
