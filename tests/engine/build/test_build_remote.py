"""Remote build contexts (``remote=`` on ``POST /build``, what docker-py and compose v1
send for a URL or git context): a tarball in any compression, a plain Dockerfile (a
text answer), and git repositories over http(s) with dockerd's ``#ref:subdir``. Served
from loopback only: a local http.server, and a bare repository on it through git's
"dumb" http protocol. Every case runs against dockerd too and the answers must match.

The docker CLI itself downloads URL contexts and clones git ones (``remote=`` is never
sent by it); that path is a plain upload and is checked once as well."""

from __future__ import annotations

import http.server
import io
import lzma
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from buildctx import docker_build
from support.dockerd import Dockerd
from support.engine import PortsideEngine

TAR_FILES = {"Dockerfile": "FROM busybox\nCOPY data.txt /data.txt\n", "data.txt": "from tar\n"}


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _git(cwd: Path, *args: str) -> None:
    env = {"HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def _repository(www: Path, work: Path) -> None:
    """``www/repo.git``: master (a Dockerfile at the top) and branch v1 (one in sub/)."""
    work.mkdir()
    _git(work, "init", "-q", "-b", "master")
    _git(work, "config", "user.email", "t@example.invalid")
    _git(work, "config", "user.name", "t")
    (work / "Dockerfile").write_text("FROM busybox\nCOPY top.txt /top.txt\n")
    (work / "top.txt").write_text("from master\n")
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "top")
    _git(work, "checkout", "-q", "-b", "v1")
    (work / "sub").mkdir()
    (work / "sub" / "Dockerfile").write_text("FROM busybox\nCOPY inner.txt /inner.txt\n")
    (work / "sub" / "inner.txt").write_text("from v1 sub\n")
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "sub")
    _git(www, "clone", "-q", "--bare", str(work), "repo.git")
    _git(www / "repo.git", "update-server-info")  # what git's dumb http needs


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a loopback http server with the contexts."""
    root = tmp_path_factory.mktemp("www")
    plain = _tar(TAR_FILES)
    (root / "ctx.tar").write_bytes(plain)
    with tarfile.open(root / "ctx.tar.gz", "w:gz") as tar, tarfile.open(root / "ctx.tar") as src:
        for m in src:
            tar.addfile(m, src.extractfile(m))
    (root / "ctx.tar.xz").write_bytes(lzma.compress(plain))
    (root / "Dockerfile").write_text("FROM busybox\nLABEL from=octet-stream\n")  # no extension
    (root / "Dockerfile.txt").write_text("FROM busybox\nLABEL from=text\n")
    (root / "page.html").write_text("<html><body>not a context</body></html>\n")
    _repository(root, tmp_path_factory.mktemp("gitwork") / "w")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _build(client: docker.DockerClient, remote: str, tag: str) -> str:
    """Build from ``remote`` with docker-py; "ok" or the error, as the client shows it."""
    try:
        client.images.build(path=remote, tag=tag, rm=True)
    except docker.errors.BuildError as e:
        return f"stream: {e.msg}"
    except docker.errors.APIError as e:
        return f"{e.status_code}: {e.explanation}"
    return "ok"


CASES = {
    "gzip": "/ctx.tar.gz",
    "xz": "/ctx.tar.xz",
    "tar": "/ctx.tar",
    "text": "/Dockerfile.txt",
    "octet": "/Dockerfile",
    "git": "/repo.git",
    "git-ref-subdir": "/repo.git#v1:sub",
    "html": "/page.html",
    "missing": "/nothing.tar.gz",
    "git-bad-ref": "/repo.git#no-such-ref",
    "git-bad-subdir": "/repo.git#v1:nowhere",
}


def _answers(client: docker.DockerClient, www: str, prefix: str) -> dict[str, str]:
    out = {name: _build(client, www + path, f"{prefix}-{name}:1") for name, path in CASES.items()}
    # dockerd takes only http(s), git://, git@ and github.com/ remotes; a file:// or a
    # host path is never read from the engine's file system.
    # docker-py refuses those itself: the request is sent raw.
    api = client.api
    resp = api._post(api._url("/build"), params={"remote": "file:///etc/repo.git"})
    out["file"] = f"{resp.status_code}: {resp.json()['message']}"
    return {k: v.replace(www, "<www>") for k, v in out.items()}


def test_remote_contexts_as_dockerd(
    shared_engine: PortsideEngine, dockerd: Dockerd, www: str
) -> None:
    e = shared_engine
    ours_client = docker.DockerClient(base_url=e.host, version="1.47", timeout=120)
    theirs_client = docker.DockerClient(base_url=f"unix://{dockerd.socket}", timeout=120)
    try:
        ours = _answers(ours_client, www, "ours")
        theirs = _answers(theirs_client, www, "theirs")
    finally:
        ours_client.close()
        theirs_client.close()
    for ok in ("gzip", "xz", "tar", "text", "octet", "git", "git-ref-subdir"):
        assert ours[ok] == "ok", (ok, ours[ok])
    assert ours["html"].startswith(
        "500: error detecting content type for remote <www>/page.html: "
        'unsupported Content-Type "text/html'
    )
    assert ours["missing"].startswith(
        "404: error downloading remote context <www>/nothing.tar.gz: failed to GET "
        "<www>/nothing.tar.gz with status 404 File not found: <!DOCTYPE HTML>"
    )
    assert ours["file"] == "500: remoteURL (file:///etc/repo.git) could not be recognized as URL"
    assert ours["git-bad-ref"].startswith("500: error fetching: fatal: couldn't find remote ref")
    # dockerd names its own temporary directory here; the engine names no host path.
    assert ours.pop("git-bad-subdir") == "500: stat nowhere: no such file or directory"
    assert theirs.pop("git-bad-subdir").endswith("/nowhere: no such file or directory")
    assert ours == theirs

    def cat(tag: str, path: str) -> str:
        return e.docker("run", "--rm", tag, "cat", path).stdout

    assert cat("ours-gzip:1", "/data.txt") == "from tar\n"
    assert cat("ours-xz:1", "/data.txt") == "from tar\n"
    assert cat("ours-git:1", "/top.txt") == "from master\n"
    assert cat("ours-git-ref-subdir:1", "/inner.txt") == "from v1 sub\n"
    labels = e.docker("image", "inspect", "-f", "{{json .Config.Labels}}", "ours-text:1").stdout
    assert labels.strip() == '{"from":"text"}'


def test_cli_downloads_url_contexts_itself(shared_engine: PortsideEngine, www: str) -> None:
    res = docker_build(shared_engine, "-t", "cli-remote:1", f"{www}/ctx.tar.gz")
    assert res.returncode == 0, res.stderr + res.stdout
    assert "Downloading build context from remote url" in res.stdout + res.stderr
    out = shared_engine.docker("run", "--rm", "cli-remote:1", "cat", "/data.txt").stdout
    assert out == "from tar\n"
