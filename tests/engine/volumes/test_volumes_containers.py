"""Volumes, binds and tmpfs used by real containers through the docker CLI."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from portside.engine.volumes.local import is_mount_point
from support.engine import PortsideEngine
from support.images import busybox_rootfs_tar, docker_archive

pytestmark = pytest.mark.runtime_matrix


def uniq(prefix: str = "v") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def hostdir() -> Iterator[Path]:
    """A host directory for bind mounts, removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="psvol-bind-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run(e: PortsideEngine, *args: str, check: bool = True):
    return e.docker("run", "--rm", *args, check=check)


def mounts_of(e: PortsideEngine, ctr: str) -> dict[str, dict]:
    data = json.loads(e.docker("inspect", ctr).stdout)[0]
    return {m["Destination"]: m for m in data["Mounts"]}


def _layer(files: dict[str, tuple[bytes | None, int, int, int]]) -> bytes:
    """A layer tar: path -> (content or None for a directory, mode, uid, gid)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, (data, mode, uid, gid) in files.items():
            info = tarfile.TarInfo(path)
            info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, 0
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def seeded_image(shared_engine: PortsideEngine) -> str:
    """An image with content at /app/data (declared a VOLUME) and at /srv/site."""
    extra = _layer(
        {
            "app": (None, 0o755, 0, 0),
            "app/data": (None, 0o750, 1000, 1000),
            "app/data/seed.txt": (b"seeded by the image\n", 0o640, 1000, 1000),
            "app/data/conf": (None, 0o755, 0, 0),
            "app/data/conf/a.ini": (b"[a]\n", 0o600, 0, 0),
            "srv": (None, 0o755, 0, 0),
            "srv/site": (None, 0o755, 0, 0),
            "srv/site/index.html": (b"<h1>hi</h1>\n", 0o644, 0, 0),
        }
    )
    tag = "seeded:latest"
    archive = docker_archive(
        [busybox_rootfs_tar(), extra],
        config_extra={"Volumes": {"/app/data": {}}},
        repo_tags=[tag],
    )
    path = shared_engine.base / "seeded.tar"
    path.write_bytes(archive)
    shared_engine.docker("load", "-i", str(path))
    return tag


def test_named_volume_shared_between_containers(shared_engine):
    e = shared_engine
    vol = uniq("mydata")
    e.docker("volume", "create", vol)
    run(e, "-v", f"{vol}:/app/data", "busybox", "sh", "-c", "echo hello > /app/data/x")
    out = run(e, "-v", f"{vol}:/app/data", "busybox", "cat", "/app/data/x").stdout
    assert out == "hello\n"
    data = json.loads(e.docker("volume", "inspect", vol).stdout)[0]["Mountpoint"]
    assert Path(data, "x").read_text() == "hello\n"
    e.docker("volume", "rm", vol)


def test_volume_created_on_first_use_and_inspect_mounts(shared_engine):
    e = shared_engine
    vol, name = uniq("auto"), uniq("c")
    e.docker("create", "--name", name, "-v", f"{vol}:/data:ro", "busybox", "true")
    assert json.loads(e.docker("volume", "inspect", vol).stdout)[0]["Labels"] == {}
    m = mounts_of(e, name)["/data"]
    assert m == {
        "Type": "volume",
        "Name": vol,
        "Source": str(e.data_root / "volumes" / vol / "_data"),
        "Destination": "/data",
        "Driver": "local",
        "Mode": "ro",
        "RW": False,
        "Propagation": "",
    }
    e.docker("rm", name)
    e.docker("volume", "rm", vol)


def test_volume_in_use_cannot_be_removed(shared_engine):
    e = shared_engine
    vol, name = uniq("busy"), uniq("c")
    e.docker("volume", "create", vol)
    cid = e.docker("create", "--name", name, "-v", f"{vol}:/d", "busybox", "true").stdout.strip()
    r = e.api("DELETE", f"/volumes/{vol}")
    assert r.status_code == 409
    assert r.json()["message"] == f"remove {vol}: volume is in use - [{cid}]"
    res = e.docker("volume", "rm", vol, check=False)
    assert res.returncode != 0 and "volume is in use" in res.stderr
    assert e.api("DELETE", f"/volumes/{vol}?force=1").status_code == 409
    assert vol not in e.docker("volume", "ls", "-q", "-f", "dangling=true").stdout.split()
    assert vol in e.docker("volume", "ls", "-q", "-f", "dangling=false").stdout.split()
    e.docker("rm", name)
    e.docker("volume", "rm", vol)


def test_rm_v_removes_anonymous_volumes_only(shared_engine):
    e = shared_engine
    vol, name = uniq("keep"), uniq("c")
    e.docker("create", "--name", name, "-v", "/anon", "-v", f"{vol}:/named", "busybox", "true")
    mounts = mounts_of(e, name)
    anon = mounts["/anon"]["Name"]
    assert len(anon) == 64 and mounts["/anon"]["Mode"] == ""
    labels = json.loads(e.docker("volume", "inspect", anon).stdout)[0]["Labels"]
    assert labels == {"com.docker.volume.anonymous": ""}
    e.docker("rm", "-v", name)
    assert e.api("GET", f"/volumes/{anon}").status_code == 404
    assert not (e.data_root / "volumes" / anon).exists()
    assert e.api("GET", f"/volumes/{vol}").status_code == 200
    e.docker("volume", "rm", vol)


def test_rm_without_v_leaves_anonymous_volume_for_prune(shared_engine):
    e = shared_engine
    name = uniq("c")
    e.docker("create", "--name", name, "-v", "/anon", "busybox", "true")
    anon = mounts_of(e, name)["/anon"]["Name"]
    e.docker("rm", name)
    assert anon in e.docker("volume", "ls", "-q", "-f", "dangling=true").stdout.split()
    e.docker("volume", "rm", anon)


def test_copy_up_of_image_content(shared_engine, seeded_image):
    e = shared_engine
    # anonymous volume from the image's VOLUME
    out = run(e, seeded_image, "sh", "-c", "cat /app/data/seed.txt; stat -c '%u:%g %a' /app/data")
    assert out.stdout == "seeded by the image\n1000:1000 750\n"
    # a new named volume is seeded too, with owners and modes
    vol = uniq("seed")
    out = run(
        e,
        "-v",
        f"{vol}:/app/data",
        seeded_image,
        "stat",
        "-c",
        "%n %u:%g %a",
        "/app/data/seed.txt",
        "/app/data/conf/a.ini",
    ).stdout
    assert out.splitlines() == ["/app/data/seed.txt 1000:1000 640", "/app/data/conf/a.ini 0:0 600"]
    data = Path(json.loads(e.docker("volume", "inspect", vol).stdout)[0]["Mountpoint"])
    assert (data / "seed.txt").read_text() == "seeded by the image\n"
    # a path without a VOLUME declaration is seeded as well when a volume lands there
    site = uniq("site")
    out = run(e, "-v", f"{site}:/srv/site", seeded_image, "cat", "/srv/site/index.html")
    assert out.stdout == "<h1>hi</h1>\n"
    # what a container changed stays: the volume is not re-seeded on the next use
    run(e, "-v", f"{vol}:/app/data", seeded_image, "rm", "/app/data/seed.txt")
    out = run(e, "-v", f"{vol}:/app/data", seeded_image, "ls", "/app/data").stdout
    assert out.split() == ["conf"]
    for v in (vol, site):
        e.docker("volume", "rm", v)


def test_no_copy_up_for_nocopy_binds_and_used_volumes(shared_engine, seeded_image, hostdir):
    e = shared_engine
    vol = uniq("nocopy")
    out = run(e, "-v", f"{vol}:/app/data:nocopy", seeded_image, "ls", "-A", "/app/data")
    assert out.stdout == ""
    out = run(e, "-v", f"{hostdir}:/app/data", seeded_image, "ls", "-A", "/app/data")
    assert out.stdout == "" and list(hostdir.iterdir()) == []
    full = uniq("full")
    run(e, "-v", f"{full}:/app/data", "busybox", "sh", "-c", "echo mine > /app/data/own")
    out = run(e, "-v", f"{full}:/app/data", seeded_image, "ls", "-A", "/app/data")
    assert out.stdout.split() == ["own"]
    for v in (vol, full):
        e.docker("volume", "rm", v)


def test_bind_mounts_rw_and_ro(shared_engine, hostdir):
    e = shared_engine
    (hostdir / "in.txt").write_text("from host")
    out = run(
        e, "-v", f"{hostdir}:/ctr", "busybox", "sh", "-c", "cat /ctr/in.txt; echo back > /ctr/out"
    )
    assert out.stdout == "from host"
    assert (hostdir / "out").read_text() == "back\n"
    res = run(
        e, "-v", f"{hostdir}:/ctr:ro", "busybox", "sh", "-c", "echo x > /ctr/nope", check=False
    )
    assert res.returncode != 0
    assert "Read-only file system" in res.stderr
    assert not (hostdir / "nope").exists()
    out = run(e, "-v", f"{hostdir}:/ctr:ro", "busybox", "cat", "/ctr/in.txt").stdout
    assert out == "from host"
    out = run(
        e,
        "--mount",
        f"type=bind,source={hostdir},target=/m,readonly",
        "busybox",
        "sh",
        "-c",
        "touch /m/x 2>&1 || echo denied",
    ).stdout
    assert "denied" in out and not (hostdir / "x").exists()


def test_mount_bind_missing_source_is_an_error(shared_engine, hostdir):
    e = shared_engine
    missing = hostdir / "does-not-exist"
    res = e.docker(
        "run", "--rm", "--mount", f"type=bind,source={missing},target=/x", "busybox", "true",
        check=False,
    )  # fmt: skip
    assert res.returncode != 0
    assert (
        f'invalid mount config for type "bind": bind source path does not exist: {missing}'
        in res.stderr
    )
    assert not missing.exists()


def test_legacy_bind_creates_missing_source(shared_engine, hostdir):
    e = shared_engine
    missing = hostdir / "made" / "here"
    run(e, "-v", f"{missing}:/x", "busybox", "sh", "-c", "echo hi > /x/f")
    assert (missing / "f").read_text() == "hi\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-v", "/tmp:/"], "invalid specification: destination can't be '/'"),
        (["-v", "/tmp:/a:bogus"], "invalid mode: bogus"),
        (["-v", "bad$name:/a"], '"bad$name" includes invalid characters for a local volume name'),
        (["-v", "/tmp:/a", "-v", "/var:/a"], "Duplicate mount point: /a"),
        (["--mount", "type=volume,target=/a,readonly"], "must not set ReadOnly mode"),
    ],
)
def test_invalid_mounts_are_rejected_at_create(shared_engine, args, message):
    e = shared_engine
    before = set(e.docker("ps", "-aq").stdout.split())
    res = e.docker("create", *args, "busybox", "true", check=False)
    assert res.returncode != 0, res.stdout
    assert message in res.stderr
    assert set(e.docker("ps", "-aq").stdout.split()) == before


def test_tmpfs(shared_engine):
    e = shared_engine
    out = run(
        e, "--tmpfs", "/run:rw,size=64k,exec", "busybox", "sh", "-c",
        "grep ' /run ' /proc/mounts; echo data > /run/f && cat /run/f",
    ).stdout  # fmt: skip
    line, data = out.splitlines()
    fields = line.split()
    assert fields[0] == "tmpfs" and fields[2] == "tmpfs"
    opts = fields[3].split(",")
    assert "size=64k" in opts and "nosuid" in opts and "nodev" in opts and "noexec" not in opts
    assert data == "data"
    out = run(e, "--mount", "type=tmpfs,target=/t,tmpfs-size=1m", "busybox", "grep", " /t ",
              "/proc/mounts").stdout  # fmt: skip
    assert "size=1024k" in out and "noexec" in out


def test_read_only_rootfs_with_writable_volume(shared_engine):
    e = shared_engine
    vol = uniq("rw")
    out = run(
        e, "--read-only", "-v", f"{vol}:/data", "--tmpfs", "/tmp", "busybox", "sh", "-c",
        "echo ok > /data/f && cat /data/f; echo t > /tmp/t && echo tmp-ok;"
        " touch /rootfile 2>/dev/null || echo root-ro",
    ).stdout  # fmt: skip
    assert out.split() == ["ok", "tmp-ok", "root-ro"]
    e.docker("volume", "rm", vol)


def test_volumes_from(shared_engine):
    e = shared_engine
    src, vol = uniq("src"), uniq("shared")
    e.docker("create", "--name", src, "-v", f"{vol}:/shared", "-v", "/anon", "busybox", "true")
    run(e, "--volumes-from", src, "busybox", "sh", "-c", "echo via-from > /shared/f")
    res = run(
        e, "--volumes-from", f"{src}:ro", "busybox", "sh", "-c", "cat /shared/f; touch /shared/g",
        check=False,
    )  # fmt: skip
    assert res.stdout == "via-from\n" and res.returncode != 0
    e.docker("rm", "-v", src)
    e.docker("volume", "rm", vol)


def test_tmpfs_volume_shared_while_running(shared_engine):
    e = shared_engine
    vol, a = uniq("tv"), uniq("a")
    e.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m", vol)
    e.docker("run", "-d", "--name", a, "-v", f"{vol}:/t", "busybox", "sh", "-c",
             "echo shared > /t/f; sleep 60")  # fmt: skip
    out = ""
    for _ in range(50):
        out = run(e, "-v", f"{vol}:/t", "busybox", "cat", "/t/f", check=False).stdout
        if out:
            break
    assert out == "shared\n"
    e.docker("rm", "-f", a)
    e.docker("volume", "rm", vol)


def test_system_df_counts_links(shared_engine):
    e = shared_engine
    vol, name = uniq("df"), uniq("c")
    e.docker("create", "--name", name, "-v", f"{vol}:/d", "busybox", "true")
    df = {v["Name"]: v for v in e.api("GET", "/system/df").json()["Volumes"]}
    assert df[vol]["UsageData"]["RefCount"] == 1
    e.docker("rm", name)
    e.docker("volume", "rm", vol)


def test_in_use_survives_engine_restart(engine_with_busybox):
    e = engine_with_busybox
    cid = e.docker("create", "-v", "keep:/d", "busybox", "true").stdout.strip()
    e.restart()
    r = e.api("DELETE", "/volumes/keep")
    assert r.status_code == 409 and cid in r.json()["message"]
    e.docker("rm", cid)
    e.docker("volume", "rm", "keep")


def test_mount_and_unmount_events(shared_engine):
    e = shared_engine
    vol = uniq("ev")
    since = time.time() - 1
    cid = e.docker("run", "-d", "-v", f"{vol}:/d", "busybox", "true").stdout.strip()
    e.docker("wait", cid)
    e.docker("rm", cid)
    out = e.docker(
        "events", "--since", str(since), "--until", str(time.time() + 1),
        "--filter", "type=volume", "--filter", f"volume={vol}", "--format", "{{json .}}",
    ).stdout  # fmt: skip
    evs = [json.loads(x) for x in out.splitlines()]
    actions = [ev["Action"] for ev in evs]
    assert actions[:2] == ["create", "mount"] and "unmount" in actions
    mount = evs[1]["Actor"]["Attributes"]
    assert mount == {
        "container": cid,
        "destination": "/d",
        "driver": "local",
        "propagation": "",
        "read/write": "true",
    }
    e.docker("volume", "rm", vol)


def test_live_restore_keeps_tmpfs_volume_mounted(engine_with_busybox):
    e = engine_with_busybox
    e.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "lr")
    data = e.data_root / "volumes" / "lr" / "_data"
    cid = e.docker("run", "-d", "-v", "lr:/t", "busybox", "sh", "-c",
                   "echo alive > /t/f; sleep 120").stdout.strip()  # fmt: skip
    assert is_mount_point(data)
    e.restart()
    assert json.loads(e.docker("inspect", cid).stdout)[0]["State"]["Running"]
    assert is_mount_point(data) and (data / "f").read_text() == "alive\n"
    assert e.api("DELETE", "/volumes/lr").status_code == 409
    e.docker("stop", "-t", "0", cid)
    assert not is_mount_point(data)
    e.docker("rm", cid)
    e.docker("volume", "rm", "lr")
