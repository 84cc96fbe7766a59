"""Swarm and plugin endpoints answer as dockerd does on a node outside a swarm with no
plugins: the docker CLI and docker-py show dockerd's messages and take dockerd's paths."""

from __future__ import annotations

import docker
import pytest

NOT_MANAGER = (
    'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
    "to connect this node to swarm and try again."
)


@pytest.mark.parametrize(
    "args",
    [
        ("node", "ls"),
        ("node", "inspect", "self"),
        ("service", "ls"),
        ("service", "rm", "web"),
        ("secret", "ls"),
        ("secret", "inspect", "s1"),
        ("config", "ls"),
        ("swarm", "unlock-key"),
        ("swarm", "update", "--autolock=false"),
    ],
)
def test_cluster_commands_say_not_a_manager(shared_engine, args):  # type: ignore[no-untyped-def]
    res = shared_engine.docker(*args, check=False)
    assert res.returncode != 0
    assert NOT_MANAGER in res.stderr, res.stderr


def test_cluster_api_status_and_body(shared_engine):  # type: ignore[no-untyped-def]
    for method, path in [
        ("GET", "/swarm"),
        ("GET", "/v1.47/nodes"),
        ("DELETE", "/nodes/abc"),
        ("POST", "/services/create"),
        ("GET", "/services/x/logs"),
        ("GET", "/tasks"),
        ("GET", "/tasks/t1"),
        ("POST", "/secrets/create"),
        ("POST", "/configs/c1/update"),
    ]:
        r = shared_engine.api(method, path, json={})
        assert (r.status_code, r.json()) == (503, {"message": NOT_MANAGER}), (method, path)


def test_swarm_leave_outside_a_swarm(shared_engine):  # type: ignore[no-untyped-def]
    res = shared_engine.docker("swarm", "leave", check=False)
    assert res.returncode == 1
    assert "Error response from daemon: This node is not part of a swarm" in res.stderr
    r = shared_engine.api("POST", "/swarm/leave?force=1")
    assert (r.status_code, r.json()) == (503, {"message": "This node is not part of a swarm"})
    client = shared_engine.client()
    try:
        # docker-py treats dockerd's 503 as "nothing to leave" with force...
        assert client.swarm.leave(force=True) is True
        # ...and raises it without
        with pytest.raises(docker.errors.APIError) as exc:
            client.swarm.leave()
        assert exc.value.status_code == 503
        with pytest.raises(docker.errors.APIError) as exc:
            client.nodes.list()
        assert exc.value.status_code == 503 and NOT_MANAGER in str(exc.value)
    finally:
        client.close()


def test_swarm_init_is_refused_clearly(shared_engine):  # type: ignore[no-untyped-def]
    res = shared_engine.docker("swarm", "init", "--advertise-addr", "127.0.0.1", check=False)
    assert res.returncode == 1
    assert "swarm mode is not supported by this engine" in res.stderr, res.stderr


def test_info_says_swarm_inactive(shared_engine):  # type: ignore[no-untyped-def]
    res = shared_engine.docker("info", "--format", "{{.Swarm.LocalNodeState}}")
    assert res.stdout.strip() == "inactive"
    assert "Swarm: inactive" in shared_engine.docker("info").stdout
    swarm = shared_engine.api("GET", "/info").json()["Swarm"]
    assert swarm["LocalNodeState"] == "inactive" and swarm["ControlAvailable"] is False


def test_plugins_none_installed(shared_engine):  # type: ignore[no-untyped-def]
    res = shared_engine.docker("plugin", "ls", "--format", "{{.Name}}")
    assert res.stdout == ""
    r = shared_engine.api("GET", '/plugins?filters={"enabled":["true"]}')
    assert (r.status_code, r.json()) == (200, [])
    r = shared_engine.api("GET", '/plugins?filters={"bogus":["x"]}')
    assert (r.status_code, r.json()) == (400, {"message": "invalid filter 'bogus'"})

    res = shared_engine.docker("plugin", "inspect", "vieux/sshfs", check=False)
    assert res.returncode == 1
    assert 'plugin "vieux/sshfs" not found' in res.stderr, res.stderr
    res = shared_engine.docker("plugin", "rm", "vieux/sshfs:latest", check=False)
    assert 'plugin "vieux/sshfs:latest" not found' in res.stderr, res.stderr
    res = shared_engine.docker("plugin", "enable", "x", check=False)
    assert 'plugin "x" not found' in res.stderr, res.stderr

    client = shared_engine.client()
    try:
        assert client.plugins.list() == []
        with pytest.raises(docker.errors.NotFound):
            client.plugins.get("vieux/sshfs")
    finally:
        client.close()


def test_plugin_install_fails_with_a_clear_error(shared_engine):  # type: ignore[no-untyped-def]
    # A registry on loopback that nothing listens on: the name never leaves the machine.
    ref = "127.0.0.1:9/sshfs:latest"
    res = shared_engine.docker("plugin", "install", "--grant-all-permissions", ref, check=False)
    assert res.returncode == 1
    assert (
        f"Error response from daemon: error resolving plugin reference '{ref}': "
        "plugins are not supported by this engine" in res.stderr
    ), res.stderr
    r = shared_engine.api("POST", f"/plugins/pull?remote={ref}", json=[])
    assert r.status_code == 501 and "plugins are not supported" in r.json()["message"]
    client = shared_engine.client()
    try:
        with pytest.raises(docker.errors.APIError) as exc:
            client.plugins.install(ref)
        assert "plugins are not supported by this engine" in str(exc.value)
    finally:
        client.close()
