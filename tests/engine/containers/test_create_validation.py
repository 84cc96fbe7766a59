"""Hostile and out-of-range values get a 400 at the door, as dockerd answers them, and
leave nothing behind — never a stored container that breaks every later inspect, nor a
500 from deep inside."""

from __future__ import annotations

import json

import pytest
from support.engine import PortsideEngine


def _create(engine: PortsideEngine, body: dict[str, object] | bytes):  # type: ignore[no-untyped-def]
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return engine.api(
        "POST",
        "/containers/create",
        content=content,
        headers={"Content-Type": "application/json"},
    )


def _count(engine: PortsideEngine) -> int:
    return len(engine.api("GET", "/containers/json?all=1").json())


@pytest.mark.parametrize(
    ("host_config", "message"),
    [
        (
            {"Memory": 2**70},
            "json: cannot unmarshal number 1180591620717411303424 into Go struct field "
            "HostConfig.HostConfig.Memory of type int64",
        ),
        (
            {"CpusetCpus": 1},
            "json: cannot unmarshal number into Go struct field "
            "HostConfig.HostConfig.CpusetCpus of type string",
        ),
        (
            {"BlkioWeight": 70000},
            "json: cannot unmarshal number 70000 into Go struct field "
            "HostConfig.HostConfig.BlkioWeight of type uint16",
        ),
        (
            {"Binds": "/tmp:/tmp"},
            "json: cannot unmarshal string into Go struct field "
            "HostConfig.HostConfig.Binds of type []string",
        ),
        ({"CpuShares": 300000}, "invalid CPU shares 300000: the maximum allowed is 262144"),
        (
            {"Memory": 64 << 20, "MemorySwap": 32 << 20},
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            {"OomScoreAdj": 5000},
            "Invalid value 5000, range for oom score adj is [-1000, 1000]",
        ),
    ],
)
def test_bad_resources_are_400_and_nothing_is_created(
    shared_engine: PortsideEngine, host_config: dict[str, object], message: str
) -> None:
    before = _count(shared_engine)
    r = _create(shared_engine, {"Image": "busybox", "Cmd": ["true"], "HostConfig": host_config})
    assert r.status_code == 400, r.text
    assert r.json() == {"message": message}
    assert _count(shared_engine) == before


def test_wrongly_typed_config_fields_are_400(shared_engine: PortsideEngine) -> None:
    r = _create(shared_engine, {"Image": "busybox", "Cmd": ["true"], "Tty": "yes"})
    assert r.status_code == 400
    assert r.json()["message"] == (
        "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Tty of type bool"
    )
    # Docker's StrSlice: a plain string is a one-element command.
    r = _create(shared_engine, {"Image": "busybox", "Cmd": "true"})
    assert r.status_code == 201, r.text
    shared_engine.api("DELETE", f"/containers/{r.json()['Id']}")


def test_the_docker_cli_shows_dockers_swap_message(shared_engine: PortsideEngine) -> None:
    out = shared_engine.docker(
        "create", "--memory", "64m", "--memory-swap", "32m", "busybox", check=False
    )
    assert out.returncode == 1
    assert "Minimum memoryswap limit should be larger than memory limit" in out.stderr


def test_json_nested_beyond_any_use_is_400(shared_engine: PortsideEngine) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    r = _create(shared_engine, deep)
    assert r.status_code == 400
    assert r.json() == {"message": "invalid JSON in request body: exceeded max depth"}


def test_a_lone_surrogate_becomes_the_replacement_character(shared_engine: PortsideEngine) -> None:
    raw = b'{"Name": "vol\\udc80x"}'
    r = shared_engine.api(
        "POST", "/volumes/create", content=raw, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert "invalid characters for a local volume name" in r.json()["message"]
    r = _create(shared_engine, b'{"Image": "busybox", "Cmd": ["true"], "Hostname": "h\\udc80"}')
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    assert shared_engine.api("GET", f"/containers/{cid}/json").json()["Config"]["Hostname"] == (
        "h\ufffd"
    )
    shared_engine.api("DELETE", f"/containers/{cid}")


def test_a_non_ascii_digit_is_not_a_signal(shared_engine: PortsideEngine) -> None:
    cid = _create(shared_engine, {"Image": "busybox", "Cmd": ["sleep", "30"]}).json()["Id"]
    try:
        r = shared_engine.api("POST", f"/containers/{cid}/kill?signal=%C2%B3")
        assert r.status_code == 400
        assert r.json() == {"message": "Invalid signal: ³"}
    finally:
        shared_engine.api("DELETE", f"/containers/{cid}?force=1")


def test_a_networking_config_that_is_not_an_object_is_400(shared_engine: PortsideEngine) -> None:
    before = _count(shared_engine)
    r = _create(shared_engine, {"Image": "busybox", "Cmd": ["true"], "NetworkingConfig": "x"})
    assert r.status_code == 400
    assert r.json()["message"] == (
        "json: cannot unmarshal string into Go struct field "
        "ContainerConfigWrapper.NetworkingConfig of type network.NetworkingConfig"
    )
    assert _count(shared_engine) == before


def test_a_volume_path_too_long_for_the_filesystem_fails_start_with_400(
    shared_engine: PortsideEngine,
) -> None:
    target = "/" + "v" * 300
    body = {"Image": "busybox", "Cmd": ["true"], "Volumes": {target: {}}}
    cid = _create(shared_engine, body).json()["Id"]
    try:
        r = shared_engine.api("POST", f"/containers/{cid}/start")
        assert r.status_code == 400
        assert r.json() == {"message": f"lstat {target}: file name too long"}
        assert "Traceback" not in shared_engine.log()
    finally:
        shared_engine.api("DELETE", f"/containers/{cid}?force=1&v=1")


@pytest.mark.parametrize("t", ["99999999999999999999999", "%D9%A3", "1_0", "%201"])
def test_a_timeout_go_cannot_parse_is_400_not_a_wait(shared_engine: PortsideEngine, t: str) -> None:
    cid = _create(shared_engine, {"Image": "busybox", "Cmd": ["sleep", "30"]}).json()["Id"]
    try:
        assert shared_engine.api("POST", f"/containers/{cid}/start").status_code == 204
        for action in ("stop", "restart"):
            r = shared_engine.api("POST", f"/containers/{cid}/{action}?t={t}", timeout=10)
            assert r.status_code == 400, r.text
            assert r.json()["message"].startswith("invalid integer value ")
    finally:
        shared_engine.api("DELETE", f"/containers/{cid}?force=1")


def test_a_nul_byte_in_an_archive_path_is_400(shared_engine: PortsideEngine) -> None:
    cid = _create(shared_engine, {"Image": "busybox", "Cmd": ["true"]}).json()["Id"]
    try:
        for method in ("HEAD", "GET", "PUT"):
            r = shared_engine.api(method, f"/containers/{cid}/archive?path=/etc%00x", content=b"")
            assert r.status_code == 400, (method, r.status_code)
    finally:
        shared_engine.api("DELETE", f"/containers/{cid}?force=1")
