"""Registry configuration and the smaller endpoints: mirrors, TLS with certs.d CAs,
schema1 refusal, ``GET /distribution/{name}/json`` and ``docker search``."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from portside.engine.config import DaemonConfig
from portside.engine.distribution.auth import AuthConfig
from portside.engine.distribution.client import Repository, Transport
from portside.engine.distribution.errors import RegistryError
from portside.engine.distribution.registries import Endpoint, RegistryConfig
from support.engine import PortsideEngine
from support.images import busybox_rootfs_tar
from support.registry import Registry, api_pull, file_layer


@pytest.fixture
def engine_with(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``engine_with(config)`` starts an engine with extra daemon.json keys."""
    made: list[PortsideEngine] = []

    def make(extra: dict[str, Any]) -> PortsideEngine:
        e = PortsideEngine(extra_config=extra)
        made.append(e)
        e.start()
        return e

    yield make
    for e in made:
        e.cleanup()


class _Server:
    """A loopback HTTP server answering with a handler function (test stand-ins for
    what cannot run here: Docker Hub's search index, a schema1-only registry)."""

    def __init__(self, handle: Any) -> None:
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, ctype, body = handle(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- mirrors -----------------------------------------------------------------------------
def test_registry_mirror_serves_docker_io_names(engine_with, registry):
    p = registry.pusher()
    img = p.push_image("library/mirrored", "1", [busybox_rootfs_tar()])
    p.close()
    e = engine_with({"registry-mirrors": [registry.url]})
    out = e.docker("pull", "mirrored:1").stdout
    assert "1: Pulling from library/mirrored" in out
    assert "Status: Downloaded newer image for mirrored:1" in out
    info = json.loads(e.docker("image", "inspect", "mirrored:1").stdout)[0]
    assert info["Id"] == img.image_id
    assert info["RepoTags"] == ["mirrored:1"]
    assert info["RepoDigests"] == [f"mirrored@{img.manifest_digest}"]


# -- TLS ---------------------------------------------------------------------------------
def _tls_material(d: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portside test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = d / "ca.pem", d / "server.pem", d / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


async def test_certs_d_ca_is_trusted(tmp_path: Path):
    ca, cert, key = _tls_material(tmp_path)
    reg = Registry(tls=(cert, key)).start()
    try:
        data = b"hello over tls"
        digest = reg.pusher().upload_blob("tls/blob", data)
        ep = Endpoint(reg.host, "https", verify_tls=True)
        # Without the CA, the registry's certificate is refused...
        t = Transport(RegistryConfig(DaemonConfig(config_file=tmp_path / "bare" / "d.json")))
        with pytest.raises(RegistryError, match="certificate"):
            await Repository(t, ep, "tls/blob", AuthConfig()).get_blob(digest, len(data), 1024)
        await t.aclose()
        # ...and with certs.d/<host:port>/ca.crt beside the config file it is trusted.
        conf_dir = tmp_path / "etc"
        (conf_dir / "certs.d" / reg.host).mkdir(parents=True)
        (conf_dir / "certs.d" / reg.host / "ca.crt").write_bytes(ca.read_bytes())
        t = Transport(RegistryConfig(DaemonConfig(config_file=conf_dir / "daemon.json")))
        repo = Repository(t, ep, "tls/blob", AuthConfig())
        assert await repo.get_blob(digest, len(data), 1024) == data
        await t.aclose()
    finally:
        reg.stop()


def test_pull_over_https_from_a_loopback_registry(engine, tmp_path):
    _, cert, key = _tls_material(tmp_path)
    reg = Registry(tls=(cert, key)).start()
    try:
        p = reg.pusher()
        img = p.push_image("tls/img", "1", [busybox_rootfs_tar()])
        p.close()
        # Loopback is insecure by default: HTTPS without verification, like dockerd.
        engine.docker("pull", f"{reg.host}/tls/img:1")
        info = json.loads(engine.docker("image", "inspect", f"{reg.host}/tls/img:1").stdout)
        assert info[0]["Id"] == img.image_id
    finally:
        reg.stop()


# -- schema1 -----------------------------------------------------------------------------
def test_schema1_is_refused_with_dockers_message(engine):
    s1 = json.dumps({"schemaVersion": 1, "name": "old/img", "tag": "1", "fsLayers": []}).encode()

    def handle(path: str) -> tuple[int, str, bytes]:
        if path == "/v2/":
            return 200, "application/json", b"{}"
        if path.startswith("/v2/old/img/manifests/"):
            return 200, "application/vnd.docker.distribution.manifest.v1+prettyjws", s1
        return 404, "application/json", b'{"errors":[{"code":"NOT_FOUND","message":"x"}]}'

    srv = _Server(handle)
    try:
        res = engine.docker("pull", f"127.0.0.1:{srv.port}/old/img:1", check=False)
    finally:
        srv.close()
    assert res.returncode != 0
    assert (
        "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been "
        f"removed. Suggest the author of 127.0.0.1:{srv.port}/old/img:1 to upgrade the image"
    ) in res.stderr


# -- distribution inspect ----------------------------------------------------------------
def test_distribution_inspect_image_and_index(engine, registry):
    p = registry.pusher()
    a = p.push_image("dist/img", "1", [busybox_rootfs_tar()])
    b = p.push_image("dist/img", None, [busybox_rootfs_tar()], architecture="arm64")
    idx = p.push_index(
        "dist/img",
        "multi",
        [
            (a, {"os": "linux", "architecture": "amd64"}),
            (b, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        ],
        oci=True,
    )
    p.close()
    r = engine.api("GET", f"/distribution/{registry.host}/dist/img:1/json")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["Descriptor"]["digest"] == a.manifest_digest
    assert doc["Descriptor"]["size"] == len(a.manifest)
    assert doc["Platforms"] == [{"architecture": a.config["architecture"], "os": "linux"}]
    client = engine.client()
    data = client.images.get_registry_data(f"{registry.host}/dist/img:multi")
    assert data.id == idx
    assert data.attrs["Descriptor"]["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert data.attrs["Platforms"] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    assert data.has_platform("linux/amd64")
    client.close()
    r = engine.api("GET", f"/distribution/{registry.host}/dist/img:nope/json")
    assert r.status_code == 404


# -- search ------------------------------------------------------------------------------
_RESULTS = [
    {"name": "busybox", "description": "Busybox base image.", "star_count": 3000,
     "is_official": True, "is_automated": False},
    {"name": "someone/busybox", "description": "a fork", "star_count": 2,
     "is_official": False, "is_automated": True},
    {"name": "other/busybox-tools", "description": "", "star_count": 40,
     "is_official": False, "is_automated": False},
]  # fmt: skip


def _search_handler(seen: list[dict[str, list[str]]]):  # type: ignore[no-untyped-def]
    def handle(path: str) -> tuple[int, str, bytes]:
        url = urllib.parse.urlparse(path)
        if url.path != "/v1/search":
            return 404, "text/plain", b"not found"
        q = urllib.parse.parse_qs(url.query)
        seen.append(q)
        term = q["q"][0]
        hits = [r for r in _RESULTS if term in r["name"]]
        body = {"num_results": len(hits), "query": term, "results": hits}
        return 200, "application/json", json.dumps(body).encode()

    return handle


def test_search_against_a_configured_index(engine_with):
    seen: list[dict[str, list[str]]] = []
    srv = _Server(_search_handler(seen))
    try:
        e = engine_with({"index-server": f"http://127.0.0.1:{srv.port}"})
        fmt = "{{.Name}}|{{.StarCount}}|{{.IsOfficial}}|{{.Description}}"
        out = e.docker("search", "--format", fmt, "busybox").stdout.splitlines()
        assert out == [
            "busybox|3000|[OK]|Busybox base image.",
            "someone/busybox|2||a fork",
            "other/busybox-tools|40||",
        ]
        assert seen[-1] == {"q": ["busybox"], "n": ["25"]}
        out = e.docker("search", "--format", "{{.Name}}", "--filter", "stars=10", "busybox")
        assert out.stdout.split() == ["busybox", "other/busybox-tools"]
        out = e.docker("search", "--format", "{{.Name}}", "--filter", "is-official=true", "busybox")
        assert out.stdout.split() == ["busybox"]
        out = e.docker("search", "--format", "{{.Name}}", "--limit", "1", "busybox")
        assert out.stdout.split() == ["busybox"]
        assert seen[-1]["n"] == ["1"]
        bad = e.docker("search", "--filter", "color=blue", "busybox", check=False)
        assert "invalid filter 'color'" in bad.stderr
        r = e.api("GET", "/images/search", params={"term": "busybox", "limit": "101"})
        assert r.status_code == 400
        assert r.json()["message"] == "limit 101 is outside the range of [1, 100]"
        # A term naming a registry asks that registry's own index.
        hosted = e.docker("search", "--format", "{{.Name}}", f"127.0.0.1:{srv.port}/tools")
        assert hosted.stdout.split() == ["other/busybox-tools"]
    finally:
        srv.close()


# -- transfer limits ---------------------------------------------------------------------
def test_max_concurrent_downloads_queues_layers(engine_with, registry):
    p = registry.pusher()
    layers = [file_layer({f"f{i}.txt": f"layer {i}\n".encode() * 1000}) for i in range(4)]
    img = p.push_image("many/layers", "1", layers)
    p.close()
    e = engine_with({"max-concurrent-downloads": 1})
    lines = api_pull(e, f"{registry.host}/many/layers", "1")
    waiting = {ln["id"] for ln in lines if ln.get("status") == "Waiting"}
    assert len(waiting) >= 2  # one downloads, the others wait their turn
    # One at a time: no layer downloads while another is between its first
    # "Downloading" and its "Pull complete".
    active = None
    for ln in lines:
        if ln.get("status") == "Downloading":
            assert active in (None, ln["id"]), f"{ln['id']} started while {active} ran"
            active = ln["id"]
        elif ln.get("status") == "Pull complete":
            assert active == ln["id"]
            active = None
    complete = [ln["id"] for ln in lines if ln.get("status") == "Pull complete"]
    assert sorted(complete) == sorted(d[7:19] for d in img.layer_digests)


def test_bare_name_pulls_every_tag(engine, registry):
    p = registry.pusher()
    a = p.push_image("all/tags", "a", [file_layer({"a": b"a"})])
    b = p.push_image("all/tags", "b", [file_layer({"b": b"b"})])
    p.close()
    lines = api_pull(engine, f"{registry.host}/all/tags")
    statuses = [ln.get("status") for ln in lines]
    assert f"Status: Downloaded newer image for {registry.host}/all/tags:a" in statuses
    assert f"Status: Downloaded newer image for {registry.host}/all/tags:b" in statuses
    for tag, img in (("a", a), ("b", b)):
        info = json.loads(
            engine.docker("image", "inspect", f"{registry.host}/all/tags:{tag}").stdout
        )
        assert info[0]["Id"] == img.image_id
