"""Archives cross real tools: dockerd's ``save`` loads here with the same id, our
``save`` loads into dockerd, and skopeo's OCI archives load here."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


class Dockerd:
    """Debian's dockerd on a private socket and data-root (no bridge, no iptables)."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pst-dockerd-"))
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
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                pytest.skip("dockerd did not start here")
            time.sleep(0.2)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = f"unix://{self.sock}"
        env["DOCKER_CONFIG"] = str(self.base / "cfg")
        return env

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            ["docker", *args], env=self.env(), capture_output=True, text=True, timeout=120
        )
        if check and res.returncode:
            raise AssertionError(f"dockerd: docker {' '.join(args)}: {res.stderr}")
        return res

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        mounts = [
            line.split()[1]
            for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(self.base))
        ]
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    if os.geteuid() != 0 or not shutil.which("dockerd"):
        pytest.skip("dockerd is not installed")
    d = Dockerd()
    try:
        yield d
    finally:
        d.stop()


def image_id(run, name: str) -> str:
    return json.loads(run("image", "inspect", name).stdout)[0]["Id"]


def test_dockerd_save_loads_here_and_ours_loads_there(dockerd, engine, busybox_tar, tmp_path):
    dockerd.docker("load", "-i", str(busybox_tar))
    expected = image_id(dockerd.docker, "busybox")
    theirs = tmp_path / "dockerd.tar"
    dockerd.docker("save", "-o", str(theirs), "busybox:latest")
    out = engine.docker("load", "-i", str(theirs)).stdout.strip()
    assert out == "Loaded image: busybox:latest"
    assert image_id(engine.docker, "busybox") == expected
    ours = tmp_path / "portside.tar"
    engine.docker("tag", "busybox", "fromportside:1")
    engine.docker("save", "-o", str(ours), "fromportside:1")
    # dockerd no longer has the layer, so it must unpack our rebuilt tar and verify it
    # against the diff-id.
    dockerd.docker("rmi", "busybox")
    assert dockerd.docker("images", "-q").stdout.strip() == ""
    assert "Loaded image: fromportside:1" in dockerd.docker("load", "-i", str(ours)).stdout
    assert image_id(dockerd.docker, "fromportside:1") == expected


def test_skopeo_oci_archive_loads(engine_with_busybox, tmp_path):
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    saved = tmp_path / "saved.tar"
    engine_with_busybox.docker("save", "-o", str(saved), "busybox")
    oci = tmp_path / "oci.tar"
    res = subprocess.run(
        ["skopeo", "copy", f"docker-archive:{saved}", f"oci-archive:{oci}:skopeo/box:oci"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = engine_with_busybox.docker("load", "-i", str(oci)).stdout.strip()
    assert out == "Loaded image: skopeo/box:oci"
    info = json.loads(engine_with_busybox.docker("image", "inspect", "skopeo/box:oci").stdout)[0]
    assert info["Config"]["Cmd"] == ["sh"]
    # Back out through skopeo: our docker-archive is readable by another implementation.
    res = subprocess.run(
        ["skopeo", "inspect", "--raw", f"docker-archive:{saved}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["layers"]
