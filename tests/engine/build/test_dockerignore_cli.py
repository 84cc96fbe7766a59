"""``DockerIgnore`` against the real thing: the docker CLI's classic builder applies
``.dockerignore`` with moby's patternmatcher before it sends the context to dockerd, so
the files that reach the image are the reference for ``matches``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from portside.engine.build.dockerignore import DockerIgnore

FILES = [
    "a.txt",
    "b.log",
    "keep.log",
    "dir/x.txt",
    "dir/y.log",
    "dir/sub/z.txt",
    "dir/sub/deep/w.md",
    "docs/readme.md",
    "docs/api/index.md",
    "docs/api/v1/spec.md",
    "docs/api/notes.txt",
    "node_modules/pkg/index.js",
    "src/node_modules/local.js",
    "build/out.o",
    "build/keep/me.txt",
    "src/build/gen.c",
    "tmp/t",
    "src/tmp/t2",
    "src/main.c",
    "src/a1.c",
    "src/ab.c",
    "src/[x].c",
    ".git/config",
    "space name.txt",
    "lib/x.pyc",
    "lib/keep.pyc",
]

IGNORE = """\
# comments and blank lines are skipped

*.log
!keep.log
dir/sub
!dir/sub/deep
docs/**/*.md
!docs/readme.md
node_modules
/build
!build/keep
**/tmp
.git
src/a?.c
src/\\[x].c
 space name.txt
lib/*.pyc
!lib/keep.pyc
./src/build
"""


class Dockerd:
    """Debian's dockerd on a private socket and data-root (no bridge, no iptables)."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pst-ignore-dockerd-"))
        self.sock = self.base / "docker.sock"
        with open(self.base / "log", "wb") as log:
            self.proc = subprocess.Popen(
                ["dockerd", "-H", f"unix://{self.sock}", "--data-root", str(self.base / "data"),
                 "--exec-root", str(self.base / "exec"), "--pidfile", str(self.base / "pid"),
                 "--bridge=none", "--iptables=false", "--ip6tables=false"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while self.docker("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log_text = (self.base / "log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"dockerd did not start:\n{log_text}")
            time.sleep(0.2)

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = f"unix://{self.sock}"
        env["DOCKER_CONFIG"] = str(self.base / "cfg")
        env["DOCKER_BUILDKIT"] = "0"  # the classic builder: the CLI filters the context
        res = subprocess.run(
            ["docker", *args], env=env, capture_output=True, text=True, timeout=180
        )
        if check and res.returncode:
            raise AssertionError(f"docker {' '.join(args)}: {res.stderr}")
        return res

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        mounts = [
            line.split()[1]
            for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(self.base))
        ]
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def dockerd(busybox_tar: Path) -> Iterator[Dockerd]:
    if os.geteuid() != 0:
        pytest.fail("dockerd needs root")
    d = Dockerd()
    try:
        d.docker("load", "-i", str(busybox_tar))
        yield d
    finally:
        d.stop()


def test_the_docker_cli_sends_what_matches_predicts(dockerd: Dockerd, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    for name in FILES:
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (ctx / ".dockerignore").write_text(IGNORE)
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nCOPY . /ctx\n")
    dockerd.docker("build", "-q", "-t", "ignore-check", str(ctx))
    listing = dockerd.docker(
        "run", "--rm", "--network", "none", "ignore-check", "find", "/ctx", "-type", "f"
    ).stdout
    sent = {line.removeprefix("/ctx/") for line in listing.splitlines() if line}

    ignore = DockerIgnore.parse(IGNORE.encode())
    predicted = {
        name for name in [*FILES, ".dockerignore", "Dockerfile"] if not ignore.matches(name)
    }
    assert sent == predicted
    # and the walker shortcut never skips a directory that still holds a sent file
    for name in sent:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            assert ignore.may_match_inside("/".join(parts[:depth])), name
