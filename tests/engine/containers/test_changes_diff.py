"""``docker diff`` and ``docker export`` with the real CLI, plus the upper-dir walk
on hand-made overlay layouts (whiteouts, opaque dirs, symlinked lower layers)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

from iohelp import uniq
from portside.engine.containers.files.upperdiff import ADDED, DELETED, MODIFIED, compute_changes


def test_docker_diff(shared_engine):
    e = shared_engine
    name = uniq("diff")
    e.docker(
        "run", "--name", name, "busybox", "sh", "-c",
        "echo x > /new; echo y >> /etc/passwd; rm /bin/vi; mkdir -p /tmp/d; "
        "rm -rf /home; mkdir /home; touch /home/h",
    )  # fmt: skip
    try:
        lines = e.docker("diff", name).stdout.splitlines()
        assert lines == [
            "C /bin",
            "D /bin/vi",
            "C /etc",
            "C /etc/passwd",
            "D /home",
            "A /home/h",
            "A /new",
            "C /tmp",
            "A /tmp/d",
        ]
        # the runtime's placeholders (/etc/hosts...) are not changes, as with Docker
        assert not [x for x in lines if "hosts" in x or "resolv" in x or "hostname" in x]
        r = e.api("GET", f"/containers/{name}/changes")
        assert {"Path": "/new", "Kind": 1} in r.json()
        assert e.api("GET", "/containers/nope/changes").status_code == 404
    finally:
        e.docker("rm", "-f", name, check=False)


def test_docker_diff_of_a_fresh_container_is_empty(shared_engine):
    name = uniq("fresh")
    shared_engine.docker("run", "--name", name, "busybox", "true")
    try:
        assert shared_engine.docker("diff", name).stdout == ""
    finally:
        shared_engine.docker("rm", "-f", name, check=False)


def test_docker_export_running_and_stopped(shared_engine, tmp_path):
    e = shared_engine
    name = uniq("exp")
    vol = uniq("vol")
    e.docker(
        "run", "-d", "--name", name, "-v", f"{vol}:/data", "busybox", "sh", "-c",
        "echo exported > /made; echo in-volume > /data/v; exec sleep 300",
    )  # fmt: skip
    try:
        _wait_file(e, name, "/data/v")
        out = tmp_path / "rootfs.tar"
        e.docker("export", "-o", str(out), name)
        with tarfile.open(out) as t:
            names = t.getnames()
            assert t.extractfile("made").read() == b"exported\n"  # type: ignore[union-attr]
            assert t.getmember("bin/busybox").isfile()
        assert "bin/sh" in names and "etc/passwd" in names
        assert not any(n.startswith("/") or n.startswith("./") for n in names)
        assert "data/v" not in names  # volumes are not part of the rootfs
        assert not any(n.startswith("proc/") for n in names)
        e.docker("stop", "-t", "0", name)
        data = subprocess.run(
            ["docker", "export", name], env=e.env(), capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            assert t.extractfile("made").read() == b"exported\n"  # type: ignore[union-attr]
        assert e.api("GET", "/containers/nope/export").status_code == 404
    finally:
        e.docker("rm", "-f", "-v", name, check=False)
        e.docker("volume", "rm", vol, check=False)


def _wait_file(e, name: str, path: str) -> None:  # type: ignore[no-untyped-def]
    import time

    for _ in range(100):
        if e.docker("exec", name, "test", "-e", path, check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


def _whiteout(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def test_upper_walk_whiteouts_opaque_and_symlinked_lower(tmp_path):
    lower1 = tmp_path / "l1"  # bottom layer
    lower2 = tmp_path / "l2"  # top layer
    upper = tmp_path / "upper"
    for d in (lower1, lower2, upper):
        d.mkdir()
    (lower1 / "etc").mkdir()
    (lower1 / "etc/conf").write_text("a")
    (lower1 / "old").write_text("o")
    (lower1 / "dir/sub").mkdir(parents=True)
    (lower1 / "dir/sub/f").write_text("f")
    # the top layer deleted /old and links /lnk to a host path
    _whiteout(lower2 / "old")
    os.symlink("/etc", lower2 / "lnk")
    # the container: new /old (was deleted below: an add), modified /etc/conf, a file
    # under /lnk (a symlink in the image: never followed onto the host's /etc),
    # deleted /dir/sub/f, replaced /dir (opaque)
    (upper / "old").write_text("new")
    (upper / "etc").mkdir()
    (upper / "etc/conf").write_text("b")
    (upper / "lnk").mkdir()
    (upper / "lnk/passwd").write_text("p")
    (upper / "dir").mkdir()
    os.setxattr(upper / "dir", "trusted.overlay.opaque", b"y")
    (upper / "dir/x").write_text("x")
    got = [(c["Path"], c["Kind"]) for c in compute_changes(upper, [lower2, lower1])]
    assert got == [
        ("/dir", DELETED),
        ("/dir/x", ADDED),
        ("/etc", MODIFIED),
        ("/etc/conf", MODIFIED),
        ("/lnk", MODIFIED),
        ("/lnk/passwd", ADDED),  # not "modified": the host's /etc/passwd is not looked at
        ("/old", ADDED),
    ]
