"""``docker pull`` from a real registry: Debian, digests, multi-platform indexes, OCI,
zstd, corrupted blobs, error messages and docker-py's progress stream."""

from __future__ import annotations

import json
import os
import platform as host
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.debian_image import debian_archive
from support.docker_inspect import inspect
from support.images import busybox_rootfs_tar, image_config
from support.registry import (
    Registry,
    api_pull,
    file_layer,
    settled_store_state,
    sha256,
)

HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(host.machine(), host.machine())
OTHER_ARCH = "arm64" if HOST_ARCH != "arm64" else "amd64"


@pytest.fixture(scope="module")
def images(shared_registry: Registry) -> Iterator[dict[str, Any]]:
    """Images written into the module's registry once."""
    reg = shared_registry
    reg.skopeo_copy(f"docker-archive:{debian_archive()}", "debian:bookworm-slim")
    p = reg.pusher()
    bb = p.push_image("test/bb", "latest", [busybox_rootfs_tar()])
    two = p.push_image(
        "test/two", "1", [busybox_rootfs_tar(), file_layer({"etc/two.txt": b"second\n"})]
    )
    # A multi-platform image: the host's build and another architecture's (different
    # config and layer), under a Docker manifest list and an OCI index.
    native = p.push_image("test/multi", None, [busybox_rootfs_tar()], cmd=["echo", "native"])
    foreign_layer = file_layer({"arch.txt": OTHER_ARCH.encode()})
    foreign = p.push_image(
        "test/multi", None, [foreign_layer], architecture=OTHER_ARCH, cmd=["echo", "other"]
    )
    plats = [
        (foreign, {"os": "linux", "architecture": OTHER_ARCH}),
        (native, {"os": "linux", "architecture": HOST_ARCH}),
    ]
    list_digest = p.push_index("test/multi", "list", plats, oci=False)
    native_oci = p.push_image("test/multi-oci", None, [busybox_rootfs_tar()], oci=True)
    foreign_oci = p.push_image(
        "test/multi-oci", None, [foreign_layer], oci=True, architecture=OTHER_ARCH
    )
    index_digest = p.push_index(
        "test/multi-oci",
        "index",
        [
            (foreign_oci, {"os": "linux", "architecture": OTHER_ARCH}),
            (native_oci, {"os": "linux", "architecture": HOST_ARCH}),
        ],
        oci=True,
    )
    zstd = p.push_image(
        "test/zstd",
        "1",
        [busybox_rootfs_tar(), file_layer({"z.txt": b"zstd layer\n" * 1000})],
        oci=True,
        compression="zstd",
    )
    p.close()
    yield {
        "bb": bb,
        "two": two,
        "native": native,
        "foreign": foreign,
        "list": list_digest,
        "native_oci": native_oci,
        "index": index_digest,
        "zstd": zstd,
    }


def _inspect(engine: Any, ref: str) -> dict[str, Any]:
    return inspect(engine, ref, "image")


def test_pull_debian_then_up_to_date(engine, shared_registry, images):
    ref = f"{shared_registry.host}/debian:bookworm-slim"
    out = engine.docker("pull", ref, timeout=300).stdout
    assert "bookworm-slim: Pulling from debian" in out
    assert "Pull complete" in out
    assert "Digest: sha256:" in out
    assert f"Status: Downloaded newer image for {ref}" in out
    info = _inspect(engine, ref)
    assert info["RepoTags"] == [ref]
    manifest = httpx.get(
        f"{shared_registry.url}/v2/debian/manifests/bookworm-slim",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    ).json()
    assert info["Id"] == manifest["config"]["digest"]
    assert info["Os"] == "linux"
    again = engine.docker("pull", ref).stdout
    assert f"Status: Image is up to date for {ref}" in again
    assert "Already exists" in again
    st = settled_store_state(engine.data_root)
    assert st.temp_files == []


def test_pull_by_digest_and_images_digests(engine, shared_registry, images):
    bb = images["bb"]
    ref = f"{shared_registry.host}/test/bb@{bb.manifest_digest}"
    out = engine.docker("pull", ref).stdout
    assert f"{bb.manifest_digest}: Pulling from test/bb" in out
    assert f"Status: Downloaded newer image for {ref}" in out
    info = _inspect(engine, ref)
    assert info["Id"] == bb.image_id
    assert info["RepoDigests"] == [ref]
    assert info["RepoTags"] == []
    engine.docker("pull", f"{shared_registry.host}/test/bb:latest")
    listing = engine.docker(
        "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"
    )
    assert f"{shared_registry.host}/test/bb latest {bb.manifest_digest}" in listing.stdout


def test_manifest_list_picks_the_host_platform(engine, shared_registry, images):
    ref = f"{shared_registry.host}/test/multi:list"
    out = engine.docker("pull", ref).stdout
    assert f"Digest: {images['list']}" in out  # the list's digest, as dockerd prints
    info = _inspect(engine, ref)
    assert info["Id"] == images["native"].image_id
    assert info["Architecture"] == HOST_ARCH
    assert f"{shared_registry.host}/test/multi@{images['list']}" in info["RepoDigests"]
    # An explicit platform picks the other entry.
    engine.docker("pull", "--platform", f"linux/{OTHER_ARCH}", ref)
    other = _inspect(engine, ref)
    assert other["Id"] == images["foreign"].image_id
    assert other["Architecture"] == OTHER_ARCH


def test_oci_index_and_platform_errors(engine, shared_registry, images):
    ref = f"{shared_registry.host}/test/multi-oci:index"
    engine.docker("pull", ref)
    assert _inspect(engine, ref)["Id"] == images["native_oci"].image_id
    bad = engine.docker("pull", "--platform", "linux/s390x", ref, check=False)
    assert bad.returncode != 0
    assert "no matching manifest for linux/s390x in the manifest list entries" in bad.stderr
    single = f"{shared_registry.host}/test/bb:latest"
    res = engine.docker("pull", "--platform", f"linux/{OTHER_ARCH}", single, check=False)
    assert res.returncode != 0
    assert "was found but does not match the specified platform" in res.stderr
    assert f"wanted linux/{OTHER_ARCH}, actual: linux/{HOST_ARCH}" in res.stderr


def test_oci_zstd_layers(engine, shared_registry, images):
    ref = f"{shared_registry.host}/test/zstd:1"
    lines = api_pull(engine, f"{shared_registry.host}/test/zstd", "1")
    assert lines[-1] == {"status": f"Status: Downloaded newer image for {ref}"}
    assert _inspect(engine, ref)["Id"] == images["zstd"].image_id
    assert len(_inspect(engine, ref)["RootFS"]["Layers"]) == 2


def test_unknown_tag_and_unknown_registry_messages(engine, shared_registry, images):
    res = engine.docker("pull", f"{shared_registry.host}/test/bb:nope", check=False)
    assert res.returncode != 0
    assert res.stderr.strip().endswith(
        f"manifest for {shared_registry.host}/test/bb:nope not found: "
        "manifest unknown: manifest unknown"
    )
    r = engine.api(
        "POST", "/images/create", params={"fromImage": f"{shared_registry.host}/test/bb:nope"}
    )
    assert r.status_code == 404
    assert r.json()["message"].startswith("manifest for")
    res = engine.docker("pull", "127.0.0.1:1/nothing:here", check=False)
    assert res.returncode != 0
    assert 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused' in (
        res.stderr
    )
    bad = engine.docker("pull", "Upper/Case", check=False)
    assert "invalid reference format" in bad.stderr


def test_corrupted_blob_fails_cleanly_and_the_next_pull_works(engine, registry):
    p = registry.pusher()
    second = file_layer({"data.bin": os.urandom(300_000)})
    img = p.push_image("test/corrupt", "1", [busybox_rootfs_tar(), second])
    p.close()
    bad_blob = img.layer_digests[1]
    path = registry.blob_path(bad_blob)
    original = path.read_bytes()
    registry.corrupt_blob(bad_blob)
    ref = f"{registry.host}/test/corrupt:1"
    res = engine.docker("pull", ref, check=False)
    assert res.returncode != 0
    assert f"filesystem layer verification failed for digest {bad_blob}" in res.stderr
    st = settled_store_state(engine.data_root)
    assert st.blobs == set() and st.layers == set() and st.temp_files == []
    assert engine.docker("images", "-q").stdout.strip() == ""
    path.write_bytes(original)
    engine.docker("pull", ref)
    assert _inspect(engine, ref)["Id"] == img.image_id
    st = settled_store_state(engine.data_root)
    assert set(img.layer_digests) | {img.config_digest} <= st.blobs
    assert st.layers == set(img.diff_ids)


def test_diff_id_mismatch_is_refused(engine, registry):
    p = registry.pusher()
    layer = file_layer({"a.txt": b"a"})
    cfg = image_config([sha256(file_layer({"b.txt": b"b"}))], ["sh"])
    img = p.push_image("test/liar", "1", [layer], config=cfg)
    p.close()
    res = engine.docker("pull", f"{registry.host}/test/liar:1", check=False)
    assert res.returncode != 0
    assert "does not match the diff_id" in res.stderr
    st = settled_store_state(engine.data_root)
    assert st.layers == set() and st.temp_files == []
    assert img.layer_digests[0] not in st.blobs


def test_docker_py_stream_has_dockers_progress_shape(engine, shared_registry, images):
    client = engine.client()
    repo = f"{shared_registry.host}/test/two"
    events = list(client.api.pull(repo, tag="1", stream=True, decode=True))
    statuses = [e.get("status", "") for e in events]
    assert statuses[0] == "Pulling from test/two"
    assert events[0]["id"] == "1"
    layer_ids = {d[7:19] for d in images["two"].layer_digests}
    for lid in layer_ids:
        mine = [e["status"] for e in events if e.get("id") == lid]
        assert mine[0] == "Pulling fs layer"
        assert "Downloading" in mine and "Download complete" in mine
        assert mine[-1] == "Pull complete"
    downloading = [e for e in events if e.get("status") == "Downloading"]
    assert downloading
    for e in downloading:
        assert set(e["progressDetail"]) == {"current", "total"}
        assert e["progress"].startswith("[")
    assert statuses[-2] == f"Digest: {images['two'].manifest_digest}"
    assert statuses[-1] == f"Status: Downloaded newer image for {repo}:1"
    img = client.images.pull(repo, tag="1")
    assert img.id == images["two"].image_id
    client.close()


def test_pull_emits_docker_event(engine, shared_registry, images):
    import time

    since = time.time() - 1
    engine.docker("pull", f"{shared_registry.host}/test/bb:latest")
    r = engine.api("GET", "/events", params={"since": str(since), "until": str(time.time() + 1)})
    evs = [json.loads(x) for x in r.text.splitlines()]
    pulls = [e for e in evs if e["Type"] == "image" and e["Action"] == "pull"]
    assert pulls and pulls[-1]["Actor"]["ID"] == f"{shared_registry.host}/test/bb:latest"
    assert pulls[-1]["Actor"]["Attributes"]["name"] == f"{shared_registry.host}/test/bb"
