"""``docker push`` to a real registry: round trips, existing layers, cross-repository
mounts, chunked uploads of big layers and docker-py's push stream."""

from __future__ import annotations

from typing import Any

import httpx
from support.debian_image import debian_archive
from support.docker_inspect import inspect
from support.registry import store_state


def _inspect(engine: Any, ref: str) -> dict[str, Any]:
    return inspect(engine, ref, "image")


def test_tag_push_rmi_pull_back_same_image(engine_with_busybox, registry):
    e = engine_with_busybox
    original = _inspect(e, "busybox:latest")
    ref = f"{registry.host}/mine/bb:v1"
    e.docker("tag", "busybox:latest", ref)
    out = e.docker("push", ref).stdout
    lines = out.splitlines()
    assert lines[0] == f"The push refers to repository [{registry.host}/mine/bb]"
    layer = original["RootFS"]["Layers"][0][7:19]
    assert f"{layer}: Preparing" in lines
    assert f"{layer}: Pushed" in lines
    final = lines[-1]
    assert final.startswith("v1: digest: sha256:") and " size: " in final
    digest = final.split()[2]
    # The registry holds exactly what was announced.
    r = httpx.get(
        f"{registry.url}/v2/mine/bb/manifests/v1",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert r.headers["docker-content-digest"] == digest
    manifest = r.json()
    assert manifest["config"]["digest"] == original["Id"]
    assert manifest["layers"][0]["mediaType"].endswith("tar.gzip")
    assert f"{registry.host}/mine/bb@{digest}" in _inspect(e, ref)["RepoDigests"]
    # Remove every local trace, pull it back: the very same image.
    e.docker("rmi", ref, "busybox:latest")
    assert store_state(e.data_root).layers == set()
    pulled = e.docker("pull", ref).stdout
    assert f"Digest: {digest}" in pulled
    assert _inspect(e, ref)["Id"] == original["Id"]
    # Pushing again finds the layer in place.
    again = e.docker("push", ref).stdout
    assert "Layer already exists" in again
    assert again.splitlines()[-1] == final


def test_cross_repository_mount(engine_with_busybox, registry):
    e = engine_with_busybox
    layer = _inspect(e, "busybox:latest")["RootFS"]["Layers"][0][7:19]
    e.docker("tag", "busybox:latest", f"{registry.host}/one/bb:1")
    e.docker("push", f"{registry.host}/one/bb:1")
    e.docker("tag", "busybox:latest", f"{registry.host}/two/bb:1")
    out = e.docker("push", f"{registry.host}/two/bb:1").stdout
    assert f"{layer}: Mounted from one/bb" in out.splitlines()


def test_big_layer_goes_up_in_chunks_and_comes_back(engine, registry):
    engine.docker("load", "-i", str(debian_archive()), timeout=300)
    src = _inspect(engine, "debian:bookworm-slim")
    ref = f"{registry.host}/deb:push"
    engine.docker("tag", "debian:bookworm-slim", ref)
    engine.docker("push", ref, timeout=300)
    manifest = httpx.get(
        f"{registry.url}/v2/deb/manifests/push",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    ).json()
    assert manifest["layers"][0]["size"] > 16 << 20  # bigger than one PATCH chunk
    engine.docker("rmi", ref, "debian:bookworm-slim")
    engine.docker("pull", ref, timeout=300)
    assert _inspect(engine, ref)["Id"] == src["Id"]


def test_docker_py_push_stream(engine_with_busybox, registry):
    e = engine_with_busybox
    client = e.client()
    image = client.images.get("busybox:latest")
    repo = f"{registry.host}/py/bb"
    assert image.tag(repo, tag="t1")
    events = list(client.images.push(repo, tag="t1", stream=True, decode=True))
    assert events[0] == {"status": f"The push refers to repository [{repo}]"}
    aux = [ev["aux"] for ev in events if "aux" in ev]
    assert aux and aux[0]["Tag"] == "t1" and aux[0]["Digest"].startswith("sha256:")
    assert not [ev for ev in events if "error" in ev]
    pushing = [ev for ev in events if ev.get("status") == "Pushing"]
    assert pushing and all("current" in ev["progressDetail"] for ev in pushing)
    client.close()


def test_push_unknown_image_and_unreachable_registry(engine):
    res = engine.docker("push", "127.0.0.1:1/nothing:here", check=False)
    assert res.returncode != 0
    assert "An image does not exist locally with the tag: 127.0.0.1:1/nothing" in res.stderr


def test_pulled_oci_zstd_image_pushes_as_oci_elsewhere(engine):
    from support.images import busybox_rootfs_tar
    from support.registry import Registry, file_layer

    src, dst = Registry().start(), Registry().start()
    try:
        p = src.pusher()
        img = p.push_image(
            "oci/z", "1", [busybox_rootfs_tar(), file_layer({"z": b"z" * 4096})],
            oci=True, compression="zstd",
        )  # fmt: skip
        p.close()
        engine.docker("pull", f"{src.host}/oci/z:1")
        ref = f"{dst.host}/copy/z:1"
        engine.docker("tag", f"{src.host}/oci/z:1", ref)
        out = engine.docker("push", ref).stdout
        assert out.count(": Pushed") == 2
        manifest = httpx.get(
            f"{dst.url}/v2/copy/z/manifests/1",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        ).json()
        # The very blobs that were pulled (zstd needs OCI media types).
        assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        assert [x["digest"] for x in manifest["layers"]] == img.layer_digests
        assert {x["mediaType"] for x in manifest["layers"]} == {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        }
        engine.docker("rmi", ref, f"{src.host}/oci/z:1")
        engine.docker("pull", ref)
        assert _inspect(engine, ref)["Id"] == img.image_id
    finally:
        src.stop()
        dst.stop()
