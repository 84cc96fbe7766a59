"""The bounds on remote contexts, in process with small limits (the engine's are GiBs
and minutes): the uncompressed size of a fetched tarball, the size of a git checkout,
and the time a fetch may take. Served from loopback."""

from __future__ import annotations

import gzip
import http.server
import io
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portside.engine.build import remote
from portside.engine.errors import EngineError, InvalidParameter


def _zeros_tar(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        ti = tarfile.TarInfo("zeros")
        ti.size = size
        tar.addfile(ti, io.BytesIO(bytes(size)))
    return gzip.compress(buf.getvalue())


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("www")
    (root / "big.tar.gz").write_bytes(_zeros_tar(4 << 20))  # a few KiB on the wire
    work = tmp_path_factory.mktemp("work")
    env = {"HOME": str(work), "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}

    def git(cwd: Path, *args: str) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git(work, "init", "-q", "-b", "master")
    (work / "Dockerfile").write_text("FROM busybox\n")
    (work / "blob").write_bytes(bytes(range(256)) * 1024)
    git(work, "add", ".")
    git(work, "-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "x")
    git(root, "clone", "-q", "--bare", str(work), "repo.git")
    git(root / "repo.git", "update-server-info")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, directory=str(root), **k)

        def do_GET(self) -> None:
            if self.path == "/slow.tar":
                time.sleep(3)
            super().do_GET()

        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


async def test_tarball_over_the_limit(
    www: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "REMOTE_LIMIT", 1 << 20)
    with pytest.raises(InvalidParameter, match="larger than the limit of 1 MiB"):
        await remote.fetch(f"{www}/big.tar.gz", tmp_path)
    monkeypatch.setattr(remote, "REMOTE_LIMIT", 8 << 20)
    (tmp_path / "again").mkdir()
    fetched = await remote.fetch(f"{www}/big.tar.gz", tmp_path / "again")
    assert fetched.context.info("zeros") is not None


async def test_git_checkout_over_the_limit(
    www: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "REMOTE_LIMIT", 64 << 10)
    with pytest.raises(InvalidParameter, match="larger than the limit"):
        await remote.fetch(f"{www}/repo.git", tmp_path)


async def test_fetch_times_out(www: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "REMOTE_TIMEOUT", 0.5)
    with pytest.raises(EngineError, match="timed out"):
        await remote.fetch(f"{www}/slow.tar", tmp_path)


def test_git_url_forms() -> None:
    assert remote.is_git_url("https://example.invalid/r.git#main:sub")
    assert remote.is_git_url("git@example.invalid:o/r")
    assert remote.is_git_url("github.com/o/r")
    assert not remote.is_git_url("https://example.invalid/ctx.tar.gz")
    assert not remote.is_git_url("file:///srv/r.git")
    g = remote.parse_git_url("github.com/o/r#v1:docker")
    assert (g.url, g.ref, g.subdir) == ("https://github.com/o/r", "v1", "docker")
    g = remote.parse_git_url("git@example.invalid:o/r.git#:sub")
    assert (g.url, g.ref, g.subdir) == ("git@example.invalid:o/r.git", "", "sub")
    with pytest.raises(EngineError, match="invalid refspec"):
        remote.parse_git_url("https://example.invalid/r.git#--upload-pack=x")
