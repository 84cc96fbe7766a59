"""Pure pieces of the registry client: platforms, auth headers, progress text,
decompression, manifest and error parsing."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
import zstandard
from portside.engine.distribution import auth, decompress, manifests, platforms, progress
from portside.engine.distribution.errors import from_response, pull_error
from portside.engine.errors import InvalidParameter, NotFound


# -- platforms -------------------------------------------------------------------------
def test_parse_platform_normalises_like_containerd():
    assert str(platforms.parse_platform("linux/x86_64")) == "linux/amd64"
    assert str(platforms.parse_platform("linux/aarch64")) == "linux/arm64"
    assert str(platforms.parse_platform("linux/arm64/v8")) == "linux/arm64"
    assert str(platforms.parse_platform("linux/arm/v7")) == "linux/arm/v7"
    assert str(platforms.parse_platform("arm64")) == "linux/arm64"
    for bad in ("", "linux/", "/amd64", "plan9/amd64", "a/b/c/d"):
        with pytest.raises(InvalidParameter):
            platforms.parse_platform(bad)


def test_select_prefers_exact_variant_and_skips_attestations():
    entries = [
        {"digest": "a", "platform": {"os": "unknown", "architecture": "unknown"}},
        {"digest": "b", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
        {"digest": "c", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": "d", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "e"},
    ]
    assert platforms.select(entries, platforms.parse_platform("linux/arm/v7"))["digest"] == "c"
    assert platforms.select(entries, platforms.parse_platform("linux/amd64"))["digest"] == "d"
    assert platforms.select(entries, platforms.parse_platform("linux/arm64")) is None
    want_any_arm = platforms.Platform("linux", "arm", "")
    assert platforms.select(entries, want_any_arm)["digest"] == "b"


# -- credentials and challenges --------------------------------------------------------
def test_registry_auth_header_variants():
    doc = {"username": "alice", "password": "pw", "serveraddress": "127.0.0.1:5000"}
    raw = json.dumps(doc).encode()
    for enc in (
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b64encode(raw).decode(),
    ):
        a = auth.decode_registry_auth(enc)
        assert (a.username, a.password, a.serveraddress) == ("alice", "pw", "127.0.0.1:5000")
    assert auth.decode_registry_auth(None).empty
    assert auth.decode_registry_auth("e30=").empty  # {} as the CLI sends it anonymously
    legacy = base64.b64encode(json.dumps({"auth": "Ym9iOnNlY3JldA=="}).encode()).decode()
    assert auth.decode_registry_auth(legacy).username == "bob"
    with pytest.raises(InvalidParameter):
        auth.decode_registry_auth("!!!not base64!!!")
    with pytest.raises(InvalidParameter):
        auth.decode_registry_auth(base64.b64encode(b"[1,2]").decode())


def test_parse_challenges():
    chs = auth.parse_challenges(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push", Basic realm="x \\"quoted\\""'
    )
    assert [c.scheme for c in chs] == ["bearer", "basic"]
    assert chs[0].params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull,push",
    }
    assert chs[1].params["realm"] == 'x "quoted"'
    assert auth.parse_challenges("") == []


# -- progress text ---------------------------------------------------------------------
def test_human_size_matches_go_units():
    assert progress.human_size(527) == "527B"
    assert progress.human_size(539654) == "539.7kB"
    assert progress.human_size(2811478) == "2.811MB"
    assert progress.human_size(1000) == "1kB"
    assert progress.human_size(32_505_856) == "32.51MB"


def test_progress_lines_have_dockers_shape():
    line = progress.update("c9b1b535fdd9", "Downloading", 539654, 2811478)
    assert list(line) == ["status", "progressDetail", "progress", "id"]
    assert line["progressDetail"] == {"current": 539654, "total": 2811478}
    assert line["progress"] == "[=========>" + " " * 41 + "]  539.7kB/2.811MB"
    assert progress.update("x", "Pulling fs layer") == {
        "status": "Pulling fs layer",
        "progressDetail": {},
        "id": "x",
    }
    assert progress.status("Pulling from library/busybox", "latest") == {
        "status": "Pulling from library/busybox",
        "id": "latest",
    }
    assert progress.error("boom") == {"errorDetail": {"message": "boom"}, "error": "boom"}
    full = progress.progress_bar(10, 10)
    assert full.startswith("[" + "=" * 50 + ">]")


# -- decompression ---------------------------------------------------------------------
def _feed_all(data: bytes, step: int = 7) -> bytes:
    d = decompress.Decompressor()
    out = b"".join(d.feed(data[i : i + step]) for i in range(0, len(data), step))
    return out + d.finish()


def test_decompressor_sniffs_and_handles_multi_member_streams():
    payload = bytes(range(256)) * 500
    assert _feed_all(payload) == payload
    assert _feed_all(gzip.compress(payload)) == payload
    two = gzip.compress(payload[:1000]) + gzip.compress(payload[1000:])
    assert _feed_all(two) == payload
    cz = zstandard.ZstdCompressor()
    assert _feed_all(cz.compress(payload[:5000]) + cz.compress(payload[5000:])) == payload
    assert _feed_all(b"ab") == b"ab"  # shorter than any magic


def test_truncated_gzip_is_an_error():
    data = gzip.compress(bytes(range(256)) * 500)
    with pytest.raises(InvalidParameter, match="gzip"):
        _feed_all(data[: len(data) // 2])
    with pytest.raises(InvalidParameter, match="gzip"):
        _feed_all(data[:20] + b"\xff" * 50)


# -- manifests and errors --------------------------------------------------------------
def test_media_type_detection_and_validation():
    oci = json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode()
    assert manifests.detect_media_type(oci, "application/json") == manifests.OCI_MANIFEST
    assert manifests.detect_media_type(oci, manifests.DOCKER_MANIFEST) == manifests.DOCKER_MANIFEST
    s1 = json.dumps({"schemaVersion": 1, "fsLayers": []}).encode()
    assert manifests.detect_media_type(s1, "") in manifests.SCHEMA1_TYPES
    bad = json.dumps(
        {"mediaType": manifests.DOCKER_MANIFEST, "config": {"digest": "md5:x", "size": 1}}
    ).encode()
    with pytest.raises(InvalidParameter):
        manifests.parse_manifest(bad, manifests.DOCKER_MANIFEST, "sha256:" + "0" * 64)
    assert "schema 1 support has been removed" in manifests.schema1_message("x")


def test_registry_errors_are_worded_like_docker():
    body = json.dumps(
        {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
    ).encode()
    e = from_response(404, body)
    assert e.message == "manifest unknown: manifest unknown"
    nf = pull_error(e, "127.0.0.1:5000/x", "127.0.0.1:5000/x:latest")
    assert isinstance(nf, NotFound)
    assert nf.message == (
        "manifest for 127.0.0.1:5000/x:latest not found: manifest unknown: manifest unknown"
    )
    denied = from_response(
        401, b"", 'Bearer realm="r",service="s",scope="x",error="insufficient_scope"'
    )
    assert denied.message == "denied: requested access to the resource is denied"
    msg = pull_error(denied, "x", "x:latest").message
    assert msg.startswith("pull access denied for x, repository does not exist or may require")
    assert from_response(401, b"").message == "unauthorized: authentication required"
    assert "503 Service Unavailable" in from_response(503, b"oops").message


# -- registry configuration ------------------------------------------------------------
async def test_insecure_registries_mirrors_and_endpoints():
    from portside.engine.config import DaemonConfig
    from portside.engine.distribution.registries import RegistryConfig

    cfg = DaemonConfig(
        insecure_registries=["myreg.example:5000", "10.1.0.0/16"],
        registry_mirrors=["https://mirror.example/prefix/"],
    )
    rc = RegistryConfig(cfg)
    # Only literal addresses and listed names here: no test may ask a DNS server.
    assert await rc.is_insecure("127.0.0.1:5000")
    assert await rc.is_insecure("127.8.9.10")
    assert await rc.is_insecure("localhost:5000")
    assert await rc.is_insecure("myreg.example:5000")
    assert await rc.is_insecure("10.1.200.3:443")
    assert not await rc.is_insecure("10.2.0.1:5000")
    hub = await rc.endpoints("docker.io")
    assert [e.base for e in hub] == [
        "https://mirror.example/prefix",
        "https://registry-1.docker.io",
    ]
    assert hub[0].mirror and not hub[1].mirror
    assert [e.base for e in await rc.endpoints("docker.io", push=True)] == [
        "https://registry-1.docker.io"
    ]
    insecure = await rc.endpoints("10.1.2.3:5000")
    assert [(e.scheme, e.verify_tls) for e in insecure] == [("https", False), ("http", False)]
    secure = await rc.endpoints("10.2.0.1:5000")
    assert [(e.scheme, e.verify_tls) for e in secure] == [("https", True)]
    with pytest.raises(InvalidParameter, match="should not contain"):
        RegistryConfig(DaemonConfig(insecure_registries=["http://x:5000"]))
    with pytest.raises(InvalidParameter, match="mirror"):
        RegistryConfig(DaemonConfig(registry_mirrors=["mirror.example"]))
