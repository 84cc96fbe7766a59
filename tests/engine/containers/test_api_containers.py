"""The containers API through raw HTTP and docker-py: Docker's shapes, status codes and
messages for bad input."""

from __future__ import annotations

import json
import socket
import time

import pytest

pytestmark = pytest.mark.runtime_matrix


def _create(engine, body: dict, name: str | None = None):  # type: ignore[no-untyped-def]
    params = {"name": name} if name else None
    return engine.api("POST", "/containers/create", json=body, params=params)


def test_malformed_json_is_400(shared_engine):
    r = shared_engine.api(
        "POST",
        "/containers/create",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert "invalid JSON" in r.json()["message"]


def test_unknown_container_is_404(shared_engine):
    for method, path in [
        ("GET", "/containers/nope/json"),
        ("POST", "/containers/nope/start"),
        ("POST", "/containers/nope/stop"),
        ("DELETE", "/containers/nope"),
        ("GET", "/containers/nope/logs?stdout=1"),
        ("POST", "/containers/nope/wait"),
    ]:
        r = shared_engine.api(method, path)
        assert r.status_code == 404, (method, path)
        assert r.json() == {"message": "No such container: nope"}
    res = shared_engine.docker("inspect", "nope", check=False)
    assert res.returncode != 0 and "No such" in res.stderr


def test_name_conflict_is_409(shared_engine):
    r = _create(shared_engine, {"Image": "busybox", "Cmd": ["true"]}, "dup")
    assert r.status_code == 201
    cid = r.json()["Id"]
    try:
        r2 = _create(shared_engine, {"Image": "busybox", "Cmd": ["true"]}, "dup")
        assert r2.status_code == 409
        assert r2.json()["message"] == (
            f'Conflict. The container name "/dup" is already in use by container "{cid}". '
            "You have to remove (or rename) that container to be able to reuse that name."
        )
        other = _create(shared_engine, {"Image": "busybox", "Cmd": ["true"]}, "other").json()
        r3 = shared_engine.api("POST", f"/containers/{other['Id']}/rename?name=dup")
        assert r3.status_code == 409
        shared_engine.api("DELETE", f"/containers/{other['Id']}")
    finally:
        shared_engine.api("DELETE", f"/containers/{cid}?force=1")


@pytest.mark.parametrize(
    "body,status,fragment",
    [
        ({"Image": "UPPER:case", "Cmd": ["true"]}, 400, "invalid reference format"),
        ({"Image": "nosuchimage", "Cmd": ["true"]}, 404, "No such image: nosuchimage"),
        (
            {"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}},
            400,
            "invalid restart policy",
        ),
        (
            {
                "Image": "busybox",
                "HostConfig": {"AutoRemove": True, "RestartPolicy": {"Name": "always"}},
            },
            400,
            "can't create 'AutoRemove' container with restart policy",
        ),
        (
            {
                "Image": "busybox",
                "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}},
            },
            400,
            "maximum retry count can only be used with 'on-failure'",
        ),
        ({"Image": "busybox", "HostConfig": {"Memory": 1024}}, 400, "Minimum memory limit"),
        ({"Image": "busybox", "HostConfig": {"NanoCpus": 10**15}}, 400, "Range of CPUs"),
        ({"Image": "busybox", "Cmd": "true", "Entrypoint": 5}, 400, "Entrypoint"),
    ],
)
def test_create_validation(shared_engine, body, status, fragment):
    r = _create(shared_engine, body)
    assert r.status_code == status, r.text
    assert fragment in r.json()["message"]


def test_bad_name_is_400(shared_engine):
    r = _create(shared_engine, {"Image": "busybox"}, "bad name!")
    assert r.status_code == 400 and "Invalid container name" in r.json()["message"]


def test_remove_running_without_force_is_409(shared_engine):
    cid = _create(shared_engine, {"Image": "busybox", "Cmd": ["sleep", "100"]}, "busy").json()["Id"]
    try:
        assert shared_engine.api("POST", f"/containers/{cid}/start").status_code == 204
        r = shared_engine.api("DELETE", "/containers/busy")
        assert r.status_code == 409
        assert r.json()["message"] == (
            'cannot remove container "/busy": container is running: stop the container '
            "before removing or force remove"
        )
    finally:
        assert shared_engine.api("DELETE", f"/containers/{cid}?force=1").status_code == 204
    assert shared_engine.api("GET", f"/containers/{cid}/json").status_code == 404


def test_inspect_and_list_shapes(shared_engine):
    e = shared_engine
    body = {
        "Image": "busybox",
        "Cmd": ["sleep", "100"],
        "Labels": {"app": "x"},
        "Env": ["A=1"],
        "HostConfig": {"NetworkMode": "none", "RestartPolicy": {"Name": "unless-stopped"}},
    }
    cid = _create(e, body, "shape").json()["Id"]
    try:
        assert len(cid) == 64
        e.api("POST", f"/containers/{cid[:12]}/start")
        d = e.api("GET", "/containers/shap/json")  # prefix of a name is not a match
        assert d.status_code == 404
        d = e.api("GET", f"/containers/{cid[:5]}/json").json()
        assert d["Id"] == cid and d["Name"] == "/shape" and d["Platform"] == "linux"
        assert d["Path"] == "sleep" and d["Args"] == ["100"]
        assert d["State"]["Running"] and d["State"]["Pid"] > 0
        assert d["State"]["StartedAt"].endswith("Z")
        assert d["Config"]["Labels"]["app"] == "x" and "A=1" in d["Config"]["Env"]
        assert d["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert d["HostConfig"]["NetworkMode"] == "none"
        assert d["Image"].startswith("sha256:")
        assert d["GraphDriver"]["Name"] == "overlay2" and d["GraphDriver"]["Data"]["LowerDir"]
        for key in ("ResolvConfPath", "HostnamePath", "HostsPath", "LogPath"):
            assert d[key]
        lst = e.api(
            "GET", "/containers/json", params={"filters": json.dumps({"label": ["app=x"]})}
        ).json()
        assert len(lst) == 1
        s = lst[0]
        assert s["Names"] == ["/shape"] and s["Image"] == "busybox"
        assert s["Command"] == "sleep 100" and s["State"] == "running"
        assert s["Status"].startswith("Up")
        assert s["HostConfig"]["NetworkMode"] == "none"
        assert "none" in s["NetworkSettings"]["Networks"]
        for flt, n in [
            ({"status": ["running"]}, 1),
            ({"status": ["exited"]}, 0),
            ({"name": ["shape"]}, 1),
            ({"name": ["^/shape$"]}, 1),
            ({"name": ["^/sha$"]}, 0),
            ({"name": ["hap"]}, 1),
            ({"id": [cid[:10]]}, 1),
            ({"ancestor": ["busybox"]}, 1),
            ({"label": ["app=y"]}, 0),
        ]:
            got = e.api(
                "GET",
                "/containers/json",
                params={
                    "all": "1",
                    "filters": json.dumps({**flt, "label": flt.get("label", ["app"])}),
                },
            ).json()
            assert len(got) == n, flt
        r = e.api("GET", "/containers/json", params={"filters": json.dumps({"bogus": ["1"]})})
        assert r.status_code == 400
        r = e.api("GET", "/containers/json", params={"filters": json.dumps({"status": ["sleepy"]})})
        assert r.status_code == 400
    finally:
        e.api("DELETE", f"/containers/{cid}?force=1")


def test_wait_conditions(shared_engine):
    e = shared_engine
    cid = _create(e, {"Image": "busybox", "Cmd": ["sh", "-c", "exit 4"]}).json()["Id"]
    try:
        # not-running on a created container answers at once with its (zero) status
        assert e.api("POST", f"/containers/{cid}/wait").json() == {"StatusCode": 0, "Error": None}
        e.api("POST", f"/containers/{cid}/start")
        r = e.api("POST", f"/containers/{cid}/wait?condition=not-running")
        assert r.json()["StatusCode"] == 4
        r = e.api("POST", f"/containers/{cid}/wait?condition=bogus")
        assert r.status_code == 400
    finally:
        e.api("DELETE", f"/containers/{cid}?force=1")


def test_attach_without_upgrade_is_raw_200(shared_engine):
    e = shared_engine
    cid = _create(e, {"Image": "busybox", "Cmd": ["sh", "-c", "echo a; echo b >&2"]}).json()["Id"]
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(e.socket))
        s.sendall(
            f"POST /v1.47/containers/{cid}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\n"
            "Host: x\r\nContent-Length: 0\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        assert head.startswith(b"HTTP/1.1 200")
        # Docker calls the non-upgraded stream "raw" even though it is framed
        assert b"vnd.docker.raw-stream" in head
        assert b"chunked" not in head.lower()
        e.api("POST", f"/containers/{cid}/start")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        s.close()
        assert data == b"\x01\x00\x00\x00\x00\x00\x00\x02a\n\x02\x00\x00\x00\x00\x00\x00\x02b\n"
    finally:
        e.api("DELETE", f"/containers/{cid}?force=1")


def test_rmi_while_in_use_is_409(engine_with_busybox):
    e = engine_with_busybox
    e.docker("create", "--name", "user", "busybox", "true")
    res = e.docker("rmi", "busybox", check=False)
    assert res.returncode != 0
    assert "is using its referenced image" in res.stderr
    e.docker("rm", "user")
    e.docker("rmi", "busybox")


def test_docker_py(shared_engine):
    client = shared_engine.client()
    out = client.containers.run("busybox", ["echo", "from-py"], remove=True)
    assert out == b"from-py\n"
    c = client.containers.run("busybox", ["sleep", "100"], detach=True, name="pyc")
    try:
        assert any(x.name == "pyc" for x in client.containers.list())
        assert any("busybox:latest" in i.tags for i in client.images.list())
        st = client.containers.get(c.id).stats(stream=False)
        assert st["memory_stats"]["usage"] > 0
        assert st["precpu_stats"]["cpu_usage"]["total_usage"] > 0
        assert st["read"] != st["preread"]
        c.pause()
        c.reload()
        assert c.status == "paused"
        c.unpause()
        c.kill()
        assert c.wait()["StatusCode"] == 137
        time.sleep(0.1)
        c.reload()
        assert c.status == "exited"
    finally:
        c.remove(force=True)
        client.close()
