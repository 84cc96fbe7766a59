"""Archives cross real tools: dockerd's ``save`` loads here with the same id, our
``save`` loads into dockerd, and skopeo's OCI archives load here."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from support.dockerd import Dockerd, running_dockerd


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    yield from running_dockerd()


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
