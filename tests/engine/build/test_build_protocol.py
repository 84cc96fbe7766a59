"""``POST /build`` on the wire: query forms old and new clients send, compressed
contexts, errors before and after the stream starts, BuildKit refused, ping header,
system df / build prune, disconnects and concurrent builds."""

from __future__ import annotations

import base64
import bz2
import gzip
import json
import lzma
import socket
import threading
import time
from pathlib import Path

import pytest
import zstandard
from buildctx import build_api, stream_text, tar_of
from support.engine import PortsideEngine

SIMPLE = {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN cat /f\n", "f": "from-context\n"}


def test_empty_forms_of_the_20_10_cli(shared_engine: PortsideEngine) -> None:
    query = (
        "buildargs=%7B%7D&cachefrom=%5B%5D&cgroupparent=&cpuperiod=0&cpuquota=0&cpusetcpus="
        "&cpusetmems=&cpushares=0&dockerfile=Dockerfile&labels=%7B%7D&memory=0&memswap=0"
        "&networkmode=default&rm=1&shmsize=0&target=&ulimits=null&version=1&t=proto%3Aempty"
        "&session=abc&buildid=xyz&isolation=&securityopt=null"
    )
    status, lines = build_api(shared_engine, tar_of(SIMPLE), query)
    assert status == 200, lines
    text = stream_text(lines)
    assert "from-context" in text
    assert text.endswith("Successfully tagged proto:empty\n")
    aux = [m for m in lines if "aux" in m]
    assert aux and aux[0]["aux"]["ID"].startswith("sha256:")


def test_null_build_arg_and_docker_bools(shared_engine: PortsideEngine) -> None:
    files = {"Dockerfile": "FROM busybox\nARG N=dflt\nRUN echo N=$N\n"}
    args = json.dumps({"N": None})
    status, lines = build_api(shared_engine, tar_of(files), f"buildargs={args}&nocache=True&q=no")
    assert status == 200
    assert "N=dflt" in stream_text(lines)
    status, lines = build_api(shared_engine, tar_of(files), "q=yes")
    assert status == 200
    assert [m["stream"].strip()[:7] for m in lines if "stream" in m] == ["sha256:"]


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lzma.compress, zstandard.ZstdCompressor().compress],
    ids=["gzip", "bzip2", "xz", "zstd"],
)
def test_compressed_contexts(shared_engine: PortsideEngine, compress: object) -> None:
    body = compress(tar_of(SIMPLE))  # type: ignore[operator]
    status, lines = build_api(shared_engine, body, "nocache=1")
    assert status == 200, lines
    assert "from-context" in stream_text(lines)


def test_content_encoding_gzip(shared_engine: PortsideEngine) -> None:
    body = gzip.compress(tar_of(SIMPLE))
    status, lines = build_api(
        shared_engine, body, "nocache=1", headers={"Content-Encoding": "gzip"}
    )
    assert status == 200, lines
    assert "from-context" in stream_text(lines)


def test_errors_before_the_stream_are_http_errors(shared_engine: PortsideEngine) -> None:
    e = shared_engine
    status, doc = build_api(e, tar_of(SIMPLE), "t=Bad:Name:x")
    assert status == 400 and "invalid reference format" in doc[0]["message"]
    status, doc = build_api(e, tar_of({"other": "x"}))
    assert status == 400 and doc[0]["message"] == "Cannot locate specified Dockerfile: Dockerfile"
    status, doc = build_api(e, tar_of(SIMPLE), "platform=linux/x/y/z")
    assert status == 400 and "unknown operating system or architecture" in doc[0]["message"]
    status, doc = build_api(e, tar_of(SIMPLE), "target=nowhere")
    assert status == 400
    assert doc[0]["message"] == "failed to reach build target nowhere in Dockerfile"
    status, doc = build_api(e, tar_of({"Dockerfile": "RUN true\n"}))
    assert status == 400 and "message" in doc[0]


def test_error_after_output_is_error_detail(shared_engine: PortsideEngine) -> None:
    status, lines = build_api(shared_engine, tar_of({"Dockerfile": "FROM busybox\nRUN exit 3\n"}))
    assert status == 200
    last = lines[-1]
    msg = "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    assert last == {"errorDetail": {"code": 3, "message": msg}, "error": msg}


def test_buildkit_is_refused(shared_engine: PortsideEngine) -> None:
    e = shared_engine
    r = e.api("POST", "/v1.47/build?version=2", content=tar_of(SIMPLE))
    assert r.status_code == 400
    assert "DOCKER_BUILDKIT=0" in r.json()["message"]
    for path in ("/session", "/grpc"):
        r = e.api("POST", path, headers={"Upgrade": "h2c", "Connection": "Upgrade"})
        assert r.status_code == 400, path
        assert "DOCKER_BUILDKIT=0" in r.json()["message"]


def test_ping_announces_the_classic_builder(shared_engine: PortsideEngine) -> None:
    assert shared_engine.api("GET", "/_ping").headers["Builder-Version"] == "1"
    assert shared_engine.api("HEAD", "/_ping").headers["Builder-Version"] == "1"


def test_registry_config_header_url_alphabet(shared_engine: PortsideEngine) -> None:
    cfg = {"127.0.0.1:1": {"username": "u>>>?", "password": "p???>>"}}
    raw = base64.urlsafe_b64encode(json.dumps(cfg).encode()).decode().rstrip("=")
    assert "-" in raw or "_" in raw
    status, _ = build_api(shared_engine, tar_of(SIMPLE), headers={"X-Registry-Config": raw})
    assert status == 200


def test_df_and_prune(engine_with_busybox: PortsideEngine) -> None:
    e = engine_with_busybox
    files = {"Dockerfile": "FROM busybox\nRUN echo x > /x\nENV A=1\n"}
    assert build_api(e, tar_of(files), "t=keep:1")[0] == 200
    assert build_api(e, tar_of({"Dockerfile": "FROM busybox\nRUN echo y > /y\n"}))[0] == 200
    df = e.api("GET", "/system/df").json()["BuildCache"]
    assert len(df) == 3
    assert {"ID", "Type", "Size", "InUse", "Shared", "CreatedAt", "UsageCount"} <= set(df[0])
    before = e.docker("images", "-a", "-q").stdout.split()
    pruned = e.api("POST", "/build/prune").json()
    assert pruned["SpaceReclaimed"] > 0
    assert e.api("GET", "/system/df").json()["BuildCache"] == []
    after = e.docker("images", "-a", "-q").stdout.split()
    # the dangling result of the untagged build went; keep:1 and its steps stay
    assert len(after) == len(before) - 1
    assert e.docker("run", "--rm", "keep:1", "cat", "/x").stdout == "x\n"
    out = e.docker("builder", "prune", "-f", check=False)
    assert out.returncode == 0, out.stderr


def test_disconnect_cancels_the_build(engine_with_busybox: PortsideEngine) -> None:
    e = engine_with_busybox
    body = tar_of({"Dockerfile": "FROM busybox\nRUN echo started && sleep 60\n"})
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(e.socket))
    s.sendall(
        b"POST /v1.47/build HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    seen = b""
    deadline = time.monotonic() + 60
    while b"started" not in seen and time.monotonic() < deadline:
        seen += s.recv(4096)
    assert b"started" in seen
    s.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not e.api("GET", "/containers/json?all=1").json():
            break
        time.sleep(0.2)
    assert e.api("GET", "/containers/json?all=1").json() == []
    tmp = e.data_root / "build" / "tmp"
    deadline = time.monotonic() + 10
    while list(tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(tmp.iterdir()) == []


def test_concurrent_builds_are_isolated(shared_engine: PortsideEngine) -> None:
    results: dict[int, tuple[int, list[dict[str, object]]]] = {}

    def one(i: int) -> None:
        files = {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN sleep 1; cat /f\n", "f": f"n{i}\n"}
        results[i] = build_api(shared_engine, tar_of(files), f"t=conc:{i}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for i in range(3):
        status, lines = results[i]
        assert status == 200
        assert f"n{i}\n" in stream_text(lines)
        out = shared_engine.docker("run", "--rm", f"conc:{i}", "cat", "/f").stdout
        assert out == f"n{i}\n"


def test_dockerfile_from_other_helpers_path(tmp_path: Path) -> None:
    """The stand-in parser's names are the contract the full parser keeps."""
    from portside.engine.build import dockerfile as df

    parsed = df.parse(b"FROM busybox AS a\nRUN true\n")
    assert parsed.stage_index("a") == 0
    with pytest.raises(df.DockerfileParseError):
        parsed.stage_index("b")
