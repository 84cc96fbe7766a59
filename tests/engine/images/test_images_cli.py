"""The real docker CLI against a real engine: load, list, inspect, history, tag, rmi,
save/load round trips, import and prune."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
import time
from pathlib import Path

from support.docker_inspect import inspect as support_inspect
from support.images import busybox_rootfs_tar
from tarkit import archive, d, f, tar


def ids(engine, *args: str) -> list[str]:
    out = engine.docker("images", "--no-trunc", "--format", "{{.ID}}", *args).stdout
    return out.split()


def refs(engine, *args: str) -> list[str]:
    out = engine.docker("images", "--format", "{{.Repository}}:{{.Tag}}", *args).stdout
    return sorted(out.split())


def layer_dirs(engine) -> list[str]:
    root = engine.data_root / "layers"
    return sorted(p.name for p in root.iterdir() if p.name != "tmp")


def inspect(engine, name: str) -> dict:  # type: ignore[no-untyped-def]
    return support_inspect(engine, name, "image")


def test_load_list_inspect_history(engine, busybox_tar):
    out = engine.docker("load", "-i", str(busybox_tar)).stdout
    assert out.strip() == "Loaded image: busybox:latest"
    assert refs(engine) == ["busybox:latest"]
    info = inspect(engine, "busybox")
    assert info["Id"].startswith("sha256:") and info["RepoTags"] == ["busybox:latest"]
    assert info["Os"] == "linux" and info["Config"]["Cmd"] == ["sh"]
    assert info["GraphDriver"]["Name"] == "overlay2"
    upper = Path(info["GraphDriver"]["Data"]["UpperDir"])
    assert (upper / "bin/busybox").is_file() and (upper / "bin/sh").is_symlink()
    assert info["RootFS"]["Layers"] == ["sha256:" + upper.parent.name]
    assert info["Size"] > 1_000_000
    assert info["Metadata"]["LastTagTime"] == "0001-01-01T00:00:00Z"  # loaded, not tagged
    hist = engine.docker("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "busybox")
    assert hist.stdout.splitlines() == [f"{info['Id']}|portside tests"]
    api = engine.api("GET", "/images/json").json()
    assert api[0]["Containers"] == -1 and api[0]["SharedSize"] == -1
    assert api[0]["RepoTags"] == ["busybox:latest"] and api[0]["Size"] == info["Size"]
    # The short id and the digest-free long forms resolve too.
    assert inspect(engine, info["Id"][7:19])["Id"] == info["Id"]
    assert inspect(engine, "docker.io/library/busybox:latest")["Id"] == info["Id"]
    r = engine.docker("image", "inspect", "nothere", check=False)
    assert r.returncode == 1 and "No such image: nothere" in r.stderr


def test_tag_names_with_slashes_and_rmi(engine_with_busybox):
    e = engine_with_busybox
    image_id = inspect(e, "busybox")["Id"]
    e.docker("tag", "busybox", "127.0.0.1:5000/foo/bar:v1")
    e.docker("tag", "busybox", "me/json:2")  # a name ending like a route suffix
    assert inspect(e, "busybox")["Metadata"]["LastTagTime"].startswith("20")
    assert refs(e) == ["127.0.0.1:5000/foo/bar:v1", "busybox:latest", "me/json:2"]
    assert inspect(e, "127.0.0.1:5000/foo/bar:v1")["Id"] == image_id
    assert inspect(e, "me/json:2")["Id"] == image_id
    hist = e.docker("history", "-q", "127.0.0.1:5000/foo/bar:v1").stdout.split()
    assert hist[0] == image_id[7:19]
    assert e.api("POST", "/images/busybox/tag?repo=Bad&tag=x").status_code == 400
    assert e.docker("rmi", "127.0.0.1:5000/foo/bar:v1").stdout.strip() == (
        "Untagged: 127.0.0.1:5000/foo/bar:v1"
    )
    e.docker("rmi", "me/json:2")
    out = e.docker("rmi", "busybox").stdout.splitlines()
    assert out[0] == "Untagged: busybox:latest" and f"Deleted: {image_id}" in out
    assert ids(e) == [] and layer_dirs(e) == []
    r = e.docker("rmi", "busybox", check=False)
    assert r.returncode == 1 and "No such image: busybox:latest" in r.stderr


def test_save_load_roundtrip_keeps_the_id(engine_with_busybox, tmp_path):
    e = engine_with_busybox
    image_id = inspect(e, "busybox")["Id"]
    e.docker("tag", "busybox", "busybox:second")
    out = tmp_path / "saved.tar"
    e.docker("save", "-o", str(out), "busybox:latest")
    with tarfile.open(out) as t:
        names = t.getnames()
        manifest = json.load(t.extractfile("manifest.json"))
        index = json.load(t.extractfile("index.json"))
    assert {"manifest.json", "index.json", "oci-layout"} <= set(names)
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    assert manifest[0]["Config"] == f"blobs/sha256/{image_id[7:]}"
    layer = manifest[0]["Layers"][0]
    assert layer in names
    ann = index["manifests"][0]["annotations"]
    assert ann["io.containerd.image.name"] == "docker.io/library/busybox:latest"
    e.docker("rmi", "busybox:latest", "busybox:second")
    assert ids(e) == []
    assert e.docker("load", "-i", str(out)).stdout.strip() == "Loaded image: busybox:latest"
    assert inspect(e, "busybox")["Id"] == image_id
    # Through a real pipe, with the image still present: same id, nothing duplicated.
    res = subprocess.run(
        "docker save busybox | docker load",
        shell=True,
        env=e.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "Loaded image: busybox:latest"
    assert ids(e) == [image_id] and len(layer_dirs(e)) == 1


def test_save_several_names_and_by_id(engine_with_busybox, tmp_path):
    e = engine_with_busybox
    other = archive([tar(d("srv"), f("srv/x", b"x"))], tags=["other:1"])
    e.docker("load", "-i", str(_write(tmp_path / "o.tar", other)))
    image_id = inspect(e, "busybox")["Id"]
    r = e.api("GET", "/images/get", params=[("names", "busybox"), ("names", "other:1")])
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-tar"
    both = _write(tmp_path / "both.tar", r.content)
    e.docker("rmi", "busybox", "other:1")
    out = e.docker("load", "-i", str(both)).stdout.splitlines()
    assert sorted(out) == ["Loaded image: busybox:latest", "Loaded image: other:1"]
    by_id = _write(tmp_path / "id.tar", e.api("GET", f"/images/{image_id[7:19]}/get").content)
    e.docker("rmi", "busybox")
    assert e.docker("load", "-i", str(by_id)).stdout.strip() == f"Loaded image ID: {image_id}"
    assert e.docker("save", "nothere", check=False).returncode == 1


def test_oci_only_and_gzip_layers(engine_with_busybox, tmp_path):
    """An OCI layout without manifest.json (skopeo/buildx style), with a gzip layer."""
    e = engine_with_busybox
    saved = e.api("GET", "/images/busybox/get").content
    e.docker("rmi", "busybox")
    src = tarfile.open(fileobj=io.BytesIO(saved))
    manifest = json.load(src.extractfile("manifest.json"))[0]
    layer = src.extractfile(manifest["Layers"][0]).read()
    config_bytes = src.extractfile(manifest["Config"]).read()
    gz = gzip.compress(layer)
    gz_digest = "sha256:" + hashlib.sha256(gz).hexdigest()
    oci_manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + manifest["Config"].rsplit("/", 1)[1],
                "size": len(config_bytes),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": gz_digest,
                    "size": len(gz),
                }
            ],
        }
    ).encode()
    m_digest = "sha256:" + hashlib.sha256(oci_manifest).hexdigest()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": m_digest,
                "size": len(oci_manifest),
                "annotations": {"io.containerd.image.name": "docker.io/library/ocibox:gz"},
            }
        ],
    }
    data = tar(
        f("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
        f("blobs/sha256/" + gz_digest[7:], gz),
        f("blobs/sha256/" + m_digest[7:], oci_manifest),
        f(manifest["Config"], config_bytes),
        f("index.json", json.dumps(index).encode()),
    )
    out = e.docker("load", "-i", str(_write(tmp_path / "oci.tar", data))).stdout
    assert out.strip() == "Loaded image: ocibox:gz"
    assert inspect(e, "ocibox:gz")["Config"]["Cmd"] == ["sh"]


def test_import_with_changes(engine, tmp_path):
    rootfs = _write(tmp_path / "rootfs.tar", busybox_rootfs_tar())
    out = engine.docker(
        "import",
        "--change",
        'CMD ["/bin/sh", "-c", "echo hi"]',
        "--change",
        "ENV APP=1",
        "--change",
        "WORKDIR /srv",
        "--change",
        "EXPOSE 8080",
        "--change",
        "LABEL team=images",
        "-m",
        "from a tarball",
        str(rootfs),
        "myimport:1",
    ).stdout.strip()
    assert out.startswith("sha256:")
    info = inspect(engine, "myimport:1")
    assert info["Id"] == out and info["Comment"] == "from a tarball"
    cfg = info["Config"]
    assert cfg["Cmd"] == ["/bin/sh", "-c", "echo hi"] and cfg["Env"] == ["APP=1"]
    assert cfg["WorkingDir"] == "/srv" and cfg["ExposedPorts"] == {"8080/tcp": {}}
    assert cfg["Labels"] == {"team": "images"}
    hist = engine.docker("history", "--format", "{{.Comment}}", "myimport:1").stdout.strip()
    assert hist == "from a tarball"
    # From stdin, gzip-compressed, no name: an untagged image with Docker's comment.
    gz = gzip.compress(busybox_rootfs_tar())
    r = subprocess.run(
        ["docker", "import", "-"], input=gz, env=engine.env(), capture_output=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    new_id = r.stdout.decode().strip()
    assert inspect(engine, new_id)["Comment"] == "Imported from -"
    bad = engine.docker("import", "--change", "RUN rm -rf /", str(rootfs), check=False)
    assert bad.returncode == 1 and "RUN is not a valid change command" in bad.stderr
    r = engine.api("POST", "/images/create?fromSrc=http://example.com/x.tar")
    assert r.status_code == 400 and "URL" in r.json()["message"]


def test_image_prune(engine_with_busybox, tmp_path):
    e = engine_with_busybox
    untagged = archive([tar(f("only", b"dangling"))], tags=[])
    out = e.docker("load", "-i", str(_write(tmp_path / "u.tar", untagged))).stdout.strip()
    assert out.startswith("Loaded image ID: sha256:")
    dangling_id = out.rsplit(" ", 1)[1]
    assert ids(e, "--filter", "dangling=true") == [dangling_id]
    assert refs(e, "--filter", "reference=busy*") == ["busybox:latest"]
    out = e.docker("image", "prune", "-f").stdout
    assert f"deleted: {dangling_id}" in out and "Total reclaimed space" in out
    assert refs(e) == ["busybox:latest"]
    out = e.docker("image", "prune", "-a", "-f").stdout
    assert "untagged: busybox:latest" in out
    assert ids(e) == [] and layer_dirs(e) == []


def test_image_events(engine_with_busybox):
    e = engine_with_busybox
    since = time.time() - 60
    e.docker("tag", "busybox", "evt:1")
    e.docker("rmi", "evt:1")
    r = e.api(
        "GET",
        f"/events?since={since}&until={time.time()}&filters=" + json.dumps({"type": ["image"]}),
    )
    actions = [json.loads(line)["Action"] for line in r.text.splitlines()]
    assert actions == ["load", "tag", "untag"]


def test_docker_py(engine_with_busybox):
    client = engine_with_busybox.client()
    img = client.images.get("busybox")
    assert img.tags == ["busybox:latest"]
    img.tag("pyclient", "x")
    assert sorted(client.images.get("pyclient:x").tags) == ["busybox:latest", "pyclient:x"]
    data = b"".join(img.save())
    client.images.remove("pyclient:x")
    client.images.remove("busybox")
    loaded = client.images.load(data)
    assert loaded[0].id == img.id


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_legacy_archive_with_symlinked_shared_layer(engine, tmp_path):
    """Docker < 25 wrote ``<v1id>/layer.tar`` and symlinked repeated layers."""
    base = tar(d("bin"), f("bin/tool", b"tool", mode=0o755))
    top = tar(f("app", b"app"))
    cfgs = []
    for i, layers in enumerate(([base], [base, top])):
        cfg = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "created": f"2024-01-0{i + 1}T00:00:00Z",
                "config": {"Cmd": ["tool"]},
                "rootfs": {"type": "layers", "diff_ids": [_sha(x) for x in layers]},
            }
        ).encode()
        cfgs.append(cfg)
    link = tarfile.TarInfo("v1b/layer.tar")
    link.type, link.linkname = tarfile.SYMTYPE, "../v1a/layer.tar"
    manifest = [
        {
            "Config": f"{_sha(cfgs[0])[7:]}.json",
            "RepoTags": ["legacy:a"],
            "Layers": ["v1a/layer.tar"],
        },
        {
            "Config": f"{_sha(cfgs[1])[7:]}.json",
            "RepoTags": ["legacy:b"],
            "Layers": ["v1b/layer.tar", "v1c/layer.tar"],
        },
    ]
    data = tar(
        d("v1a"),
        f("v1a/VERSION", b"1.0"),
        f("v1a/json", b"{}"),
        f("v1a/layer.tar", base),
        d("v1b"),
        f("v1b/VERSION", b"1.0"),
        (link, b""),
        d("v1c"),
        f("v1c/layer.tar", top),
        f(f"{_sha(cfgs[0])[7:]}.json", cfgs[0]),
        f(f"{_sha(cfgs[1])[7:]}.json", cfgs[1]),
        f("repositories", b'{"legacy": {"a": "v1a", "b": "v1c"}}'),
        f("manifest.json", json.dumps(manifest).encode()),
        fmt=tarfile.USTAR_FORMAT,
    )
    out = engine.docker("load", "-i", str(_write(tmp_path / "legacy.tar", data))).stdout
    assert out.splitlines() == ["Loaded image: legacy:a", "Loaded image: legacy:b"]
    assert refs(engine) == ["legacy:a", "legacy:b"]
    assert layer_dirs(engine) == sorted([_sha(base)[7:], _sha(top)[7:]])
    listed = {i["RepoTags"][0]: i for i in engine.api("GET", "/images/json?shared-size=1").json()}
    assert listed["legacy:a"]["SharedSize"] == 4  # bin/tool is shared
    df = engine.api("GET", "/system/df").json()
    assert sorted(i["RepoTags"][0] for i in df["Images"]) == ["legacy:a", "legacy:b"]
    assert all(i["Containers"] == 0 for i in df["Images"])
    assert engine.docker("images", "-a", "-q").stdout.split() == [
        listed["legacy:b"]["Id"][7:19],
        listed["legacy:a"]["Id"][7:19],
    ]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_concurrent_loads_of_one_image(engine, busybox_tar):
    procs = [
        subprocess.Popen(
            ["docker", "load", "-i", str(busybox_tar)],
            env=engine.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "Loaded image: busybox:latest"
    assert refs(engine) == ["busybox:latest"] and len(layer_dirs(engine)) == 1
    tmp = engine.data_root / "layers" / "tmp"
    for _ in range(50):
        if not any(tmp.iterdir()):
            break
        time.sleep(0.05)
    assert list(tmp.iterdir()) == []


def test_force_rmi_keeps_layers_until_the_container_is_gone(engine_with_busybox):
    e = engine_with_busybox
    image_id = inspect(e, "busybox")["Id"]
    e.docker("create", "--name", "keeper", "busybox", "echo", "still works")
    out = e.docker("rmi", "-f", "busybox").stdout.splitlines()
    assert out == ["Untagged: busybox:latest", f"Deleted: {image_id}"]
    assert ids(e) == [] and len(layer_dirs(e)) == 1
    assert e.docker("start", "-a", "keeper").stdout.strip() == "still works"
    e.docker("rm", "keeper")
    for _ in range(50):  # freed when the container's destroy event arrives
        if not layer_dirs(e):
            break
        time.sleep(0.05)
    assert layer_dirs(e) == []
