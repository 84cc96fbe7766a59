"""``docker cp`` both ways on running and stopped containers, the archive API's stat
header and errors, volumes, docker-py get/put_archive, and hostile input: symlinks
planted in the container and hostile tars must never reach outside the container."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import uuid
from pathlib import Path

import pytest
from iohelp import uniq, wait_for
from support.docker_inspect import inspect


@pytest.fixture
def box(shared_engine):
    """A running container with a few files and planted escape symlinks."""
    name = uniq("box")
    shared_engine.docker(
        "run", "-d", "--name", name, "busybox", "sh", "-c",
        "mkdir -p /d/sub && echo hello > /d/a.txt && echo deep > /d/sub/b && "
        "ln -s /d/a.txt /d/link && ln -s / /escape && ln -s ../../../../../.. /up && "
        "exec sleep 3600",
    )  # fmt: skip
    wait_for(
        lambda: shared_engine.docker("exec", name, "test", "-L", "/up", check=False).returncode == 0
    )
    yield name
    shared_engine.docker("rm", "-f", name, check=False)


def _stat(engine, name: str, path: str) -> dict:
    r = engine.api("HEAD", f"/containers/{name}/archive", params={"path": path})
    assert r.status_code == 200, r
    return json.loads(base64.urlsafe_b64decode(r.headers["X-Docker-Container-Path-Stat"]))


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in entries:
            if data is not None:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    return buf.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.mode = 0o644
    return ti, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = target
    return ti, None


def test_cp_out_file_dir_dot_and_symlinks(shared_engine, box, tmp_path):
    e = shared_engine
    e.docker("cp", f"{box}:/d/a.txt", str(tmp_path / "a.txt"))
    assert (tmp_path / "a.txt").read_text() == "hello\n"
    e.docker("cp", f"{box}:/d", str(tmp_path / "dcopy"))
    assert (tmp_path / "dcopy/sub/b").read_text() == "deep\n"
    assert os.readlink(tmp_path / "dcopy/link") == "/d/a.txt"  # links stay links
    (tmp_path / "dot").mkdir()
    e.docker("cp", f"{box}:/d/.", str(tmp_path / "dot"))
    assert sorted(os.listdir(tmp_path / "dot")) == ["a.txt", "link", "sub"]
    e.docker("cp", "-L", f"{box}:/d/link", str(tmp_path / "followed"))
    assert (tmp_path / "followed").read_text() == "hello\n"
    res = e.docker("cp", f"{box}:/nope", str(tmp_path), check=False)
    assert res.returncode != 0
    assert f"Could not find the file /nope in container {box}" in res.stderr


def test_cp_in_file_and_dir_running(shared_engine, box, tmp_path):
    e = shared_engine
    (tmp_path / "f1").write_text("data1\n")
    (tmp_path / "dd/sub").mkdir(parents=True)
    (tmp_path / "dd/sub/y").write_text("why\n")
    e.docker("cp", str(tmp_path / "f1"), f"{box}:/tmp/")
    e.docker("cp", str(tmp_path / "f1"), f"{box}:/tmp/renamed")
    e.docker("cp", str(tmp_path / "dd"), f"{box}:/tmp/")
    e.docker("cp", str(tmp_path / "dd") + "/.", f"{box}:/tmp/dd2")
    out = e.docker(
        "exec", box, "sh", "-c", "cat /tmp/f1 /tmp/renamed /tmp/dd/sub/y /tmp/dd2/sub/y"
    ).stdout
    assert out == "data1\ndata1\nwhy\nwhy\n"


def test_cp_both_ways_on_a_stopped_container(shared_engine, tmp_path):
    e = shared_engine
    name = uniq("stopped")
    e.docker(
        "run",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "echo made > /made.txt; cat /in.txt 2>/dev/null; true",
    )
    try:
        cid = inspect(e, name)["Id"]
        rootfs = inspect(e, name)["GraphDriver"]["Data"]["MergedDir"]
        (tmp_path / "in.txt").write_text("into stopped\n")
        (tmp_path / "tree/x").mkdir(parents=True)
        (tmp_path / "tree/x/z").write_text("zz\n")
        e.docker("cp", str(tmp_path / "in.txt"), f"{name}:/in.txt")
        e.docker("cp", str(tmp_path / "tree"), f"{name}:/")
        e.docker("cp", f"{name}:/made.txt", str(tmp_path / "made.txt"))
        assert (tmp_path / "made.txt").read_text() == "made\n"
        e.docker("cp", f"{name}:/tree", str(tmp_path / "tree-back"))
        assert (tmp_path / "tree-back/x/z").read_text() == "zz\n"
        # the rootfs is not left mounted
        assert rootfs not in Path("/proc/self/mountinfo").read_text()
        assert inspect(e, name)["State"]["Status"] == "exited"
        # it starts as before and sees the file copied in while it was stopped
        assert e.docker("start", "-a", cid).stdout == "into stopped\n"
        out = e.docker("cp", f"{name}:/in.txt", "-").stdout
        assert "into stopped" in out
    finally:
        e.docker("rm", "-f", name, check=False)


def test_stat_header_and_errors(shared_engine, box):
    e = shared_engine
    st = _stat(e, box, "/d")
    assert st["name"] == "d" and st["mode"] == (1 << 31) | 0o755 and st["linkTarget"] == ""
    st = _stat(e, box, "/d/a.txt")
    assert st["name"] == "a.txt" and st["size"] == 6 and st["mode"] == 0o644
    assert st["mtime"].endswith("Z")
    st = _stat(e, box, "/d/link")
    assert st["mode"] == (1 << 27) | 0o777 and st["linkTarget"] == "/d/a.txt"
    st = _stat(e, box, "/escape")
    assert st["linkTarget"] == "/"
    st = _stat(e, box, "/up")
    assert st["linkTarget"] == "/"  # ../../.. stops at the container's root
    r = e.api("HEAD", f"/containers/{box}/archive", params={"path": "/missing"})
    assert r.status_code == 404
    r = e.api("GET", f"/containers/{box}/archive", params={"path": "/missing"})
    assert r.status_code == 404
    assert r.json()["message"] == f"Could not find the file /missing in container {box}"
    r = e.api("GET", f"/containers/{box}/archive")
    assert r.status_code == 400
    r = e.api("GET", "/containers/nope/archive", params={"path": "/"})
    assert r.status_code == 404 and r.json()["message"] == "No such container: nope"
    r = e.api("PUT", f"/containers/{box}/archive", params={"path": "/d/a.txt"}, content=b"")
    assert r.status_code == 400 and "not a directory" in r.json()["message"]
    r = e.api("PUT", f"/containers/{box}/archive", params={"path": "/nowhere"}, content=b"")
    assert r.status_code == 404


def test_names_longer_than_the_filesystem_allows_are_400(shared_engine, box):
    e = shared_engine
    long = "a" * 300
    for method in ("HEAD", "GET"):
        r = e.api(method, f"/containers/{box}/archive", params={"path": f"/d/{long}/x"})
        assert r.status_code == 400, r.text
    r = e.api("GET", f"/containers/{box}/archive", params={"path": f"/{long}"})
    assert r.status_code == 400
    assert r.json()["message"] == f"lstat /{long}: file name too long"
    r = e.api("PUT", f"/containers/{box}/archive", params={"path": f"/{long}"}, content=b"")
    assert r.status_code == 400 and "file name too long" in r.json()["message"]
    assert "Traceback" not in e.log()


def test_symlink_escapes_stay_inside(shared_engine, box, tmp_path):
    e = shared_engine
    sentinel = Path(f"/tmp/portside-sentinel-{uuid.uuid4().hex[:8]}")
    sentinel.mkdir()
    (sentinel / "keep").write_text("host\n")
    try:
        # Reading through /escape (-> /) and /d/up (-> ../../..) reads the container.
        e.docker("cp", f"{box}:/escape/etc/passwd", str(tmp_path / "pw"))
        host_pw = Path("/etc/passwd").read_text()
        assert (tmp_path / "pw").read_text() != host_pw
        assert (tmp_path / "pw").read_text().startswith("root:x:0:0:root:/root:/bin/sh")
        e.docker("cp", f"{box}:/up/d/a.txt", str(tmp_path / "a2"))
        assert (tmp_path / "a2").read_text() == "hello\n"
        # A link to the host's sentinel path resolves inside the container.
        e.docker("exec", box, "ln", "-s", str(sentinel), "/sent")
        e.docker("exec", box, "ln", "-s", f"../../../../..{sentinel}", "/d/sent2")
        (tmp_path / "evil").write_text("evil\n")
        for target in ("/sent/", "/d/sent2/", "/escape" + str(sentinel) + "/"):
            # the sentinel path does not exist inside the container: nothing to write to
            res = e.docker("cp", str(tmp_path / "evil"), f"{box}:{target}", check=False)
            assert res.returncode != 0, target
            body = _tar([_file("evil", b"evil\n")])
            r = e.api("PUT", f"/containers/{box}/archive", params={"path": target}, content=body)
            assert r.status_code == 404, target
        assert sorted(os.listdir(sentinel)) == ["keep"]
        assert (sentinel / "keep").read_text() == "host\n"
        # Writing through /escape writes into the container's own tree.
        e.docker("cp", str(tmp_path / "evil"), f"{box}:/escape{sentinel.parent}/")
        assert e.docker("exec", box, "cat", f"{sentinel.parent}/evil").stdout == "evil\n"
        assert sorted(os.listdir(sentinel)) == ["keep"]
        # A directory inside the container named like the sentinel got the writes.
        e.docker("exec", box, "mkdir", "-p", str(sentinel))
        e.docker("cp", str(tmp_path / "evil"), f"{box}:/sent/")
        assert e.docker("exec", box, "cat", f"{sentinel}/evil").stdout == "evil\n"
        assert sorted(os.listdir(sentinel)) == ["keep"]
    finally:
        for p in sorted(sentinel.rglob("*"), reverse=True):
            p.unlink()
        sentinel.rmdir()


def test_hostile_tars_are_refused(shared_engine, box):
    e = shared_engine
    sentinel = Path(f"/tmp/portside-hostile-{uuid.uuid4().hex[:8]}")
    cases = [
        [_file("../../../../.." + str(sentinel), b"x")],
        [_link("l", "/"), _file("l" + str(sentinel), b"x")],
        [_link("l2", "../../../../../.."), _file("l2" + str(sentinel), b"x")],
        [_link("h", "/etc/passwd", tarfile.LNKTYPE)],
        [_file(".wh.a.txt", b"")],
    ]
    for entries in cases:
        r = e.api("PUT", f"/containers/{box}/archive", params={"path": "/d"}, content=_tar(entries))
        assert r.status_code == 400, (entries, r.text)
    assert not sentinel.exists()
    assert e.docker("exec", box, "cat", "/d/a.txt").stdout == "hello\n"
    # garbage is a clean 400 too
    r = e.api("PUT", f"/containers/{box}/archive", params={"path": "/d"}, content=b"x" * 700)
    assert r.status_code == 400


def test_put_options_overwrite_and_ownership(shared_engine, tmp_path):
    e = shared_engine
    name = uniq("own")
    e.docker("run", "-d", "--name", name, "-u", "65534:65534", "busybox", "sleep", "300")
    try:
        ti, data = _file("owned.txt", b"mine\n")
        ti.uid, ti.gid = 1234, 4321
        body = _tar([(ti, data)])
        r = e.api("PUT", f"/containers/{name}/archive", params={"path": "/tmp"}, content=body)
        assert r.status_code == 200
        assert e.docker("exec", name, "stat", "-c", "%u:%g", "/tmp/owned.txt").stdout == (
            "1234:4321\n"
        )
        r = e.api(
            "PUT",
            f"/containers/{name}/archive",
            params={"path": "/tmp", "copyUIDGID": "1"},
            content=body,
        )
        assert r.status_code == 200
        assert e.docker("exec", name, "stat", "-c", "%u:%g", "/tmp/owned.txt").stdout == (
            "65534:65534\n"
        )
        # a directory may not be replaced by a file when asked so
        d = tarfile.TarInfo("tmp")
        d.type = tarfile.DIRTYPE
        r = e.api(
            "PUT",
            f"/containers/{name}/archive",
            params={"path": "/", "noOverwriteDirNonDir": "1"},
            content=_tar([_file("tmp", b"oops")]),
        )
        assert r.status_code == 400 and "cannot overwrite directory" in r.json()["message"]
        r = e.api(
            "PUT",
            f"/containers/{name}/archive",
            params={"path": "/tmp", "noOverwriteDirNonDir": "1"},
            content=_tar([(_dir("owned.txt"), None)]),
        )
        assert r.status_code == 400 and "cannot overwrite non-directory" in r.json()["message"]
        # gzip bodies are accepted
        import gzip

        r = e.api(
            "PUT",
            f"/containers/{name}/archive",
            params={"path": "/tmp"},
            content=gzip.compress(_tar([_file("gz.txt", b"gz\n")])),
        )
        assert r.status_code == 200
        assert e.docker("exec", name, "cat", "/tmp/gz.txt").stdout == "gz\n"
    finally:
        e.docker("rm", "-f", name, check=False)


def _dir(name: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = 0o755
    return ti


def test_read_only_rootfs_and_volumes(shared_engine, tmp_path):
    e = shared_engine
    name = uniq("ro")
    vol = uniq("vol")
    bind = tmp_path / "bind"
    bind.mkdir()
    (bind / "from-host").write_text("host side\n")
    e.docker(
        "run", "-d", "--name", name, "--read-only", "-v", f"{vol}:/vol",
        "-v", f"{bind}:/bind:ro", "busybox", "sleep", "300",
    )  # fmt: skip
    try:
        body = _tar([_file("x.txt", b"x\n")])
        r = e.api("PUT", f"/containers/{name}/archive", params={"path": "/tmp"}, content=body)
        assert r.status_code == 403
        assert r.json()["message"] == "container rootfs is marked read-only"
        r = e.api("PUT", f"/containers/{name}/archive", params={"path": "/bind"}, content=body)
        assert r.status_code == 403
        assert r.json()["message"] == "mounted volume is marked read-only"
        r = e.api("PUT", f"/containers/{name}/archive", params={"path": "/vol"}, content=body)
        assert r.status_code == 200
        assert e.docker("exec", name, "cat", "/vol/x.txt").stdout == "x\n"
        e.docker("cp", f"{name}:/bind/from-host", str(tmp_path / "got"))
        assert (tmp_path / "got").read_text() == "host side\n"
        e.docker("stop", "-t", "0", name)
        # stopped: the volume's content is still what docker cp sees
        e.docker("cp", f"{name}:/vol/x.txt", str(tmp_path / "vx"))
        assert (tmp_path / "vx").read_text() == "x\n"
        e.docker("cp", f"{name}:/bind", str(tmp_path / "bind-back"))
        assert (tmp_path / "bind-back/from-host").read_text() == "host side\n"
    finally:
        e.docker("rm", "-f", "-v", name, check=False)
        e.docker("volume", "rm", vol, check=False)


def test_docker_py_get_and_put_archive(shared_engine, box):
    client = shared_engine.client()
    try:
        ctr = client.containers.get(box)
        ok = ctr.put_archive("/tmp", _tar([_file("py.txt", b"from docker-py\n")]))
        assert ok is True
        bits, st = ctr.get_archive("/tmp/py.txt")
        assert st["name"] == "py.txt" and st["size"] == 15
        data = b"".join(bits)
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            assert t.getnames() == ["py.txt"]
            assert t.extractfile("py.txt").read() == b"from docker-py\n"  # type: ignore[union-attr]
        bits, st = ctr.get_archive("/d")
        with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as t:
            names = t.getnames()
        assert names[0] == "d" and "d/sub/b" in names and "d/link" in names
    finally:
        client.close()
