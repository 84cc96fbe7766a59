"""Choosing the engine address like the docker CLI does, and TLS settings."""

from __future__ import annotations

import pytest
from portside.app.client import BadRequest, EngineAddress, SshEndpoint, default_address
from portside.app.client.client import negotiate


def test_docker_host_wins(tmp_path):
    sock = tmp_path / "portside.sock"
    sock.touch()
    addr = default_address({"DOCKER_HOST": "unix:///x/y.sock"}, portside_socket=str(sock))
    assert addr.socket_path == "/x/y.sock" and addr.tls is None


def test_portside_socket_then_docker_socket(tmp_path):
    sock = tmp_path / "portside.sock"
    assert default_address({}, str(sock), "/d.sock").socket_path == "/d.sock"
    sock.touch()
    assert default_address({}, str(sock), "/d.sock").socket_path == str(sock)


def test_tcp_with_tls_from_cert_path(tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    env = {
        "DOCKER_HOST": "tcp://engine.example:2376",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(tmp_path),
    }
    addr = default_address(env)
    assert addr.base_url == "https://engine.example:2376"
    assert addr.tls is not None and addr.tls.verify
    assert addr.tls.ca_cert == str(tmp_path / "ca.pem")
    assert addr.tls.client_key == str(tmp_path / "key.pem")
    assert addr.describe() == "engine.example:2376"


def test_plain_tcp_and_bad_addresses():
    assert EngineAddress("tcp://10.0.0.1").base_url == "http://10.0.0.1:2375"
    with pytest.raises(BadRequest, match="unsupported"):
        EngineAddress("ftp://x")
    with pytest.raises(BadRequest, match="no host name"):
        EngineAddress("ssh:///var/run/docker.sock")


def test_ssh_addresses_mean_what_docker_host_means():
    addr = EngineAddress("ssh://me@build.example")
    assert addr.is_ssh and not addr.is_unix
    assert addr.ssh == SshEndpoint("build.example", 22, "me", "/var/run/docker.sock")
    assert addr.base_url == "http://docker"
    assert addr.describe() == "me@build.example"
    custom = EngineAddress("ssh://me@10.0.0.5:2222/run/portside/portside.sock")
    assert custom.ssh == SshEndpoint("10.0.0.5", 2222, "me", "/run/portside/portside.sock")
    assert custom.describe() == "me@10.0.0.5:2222"
    # DOCKER_HOST=ssh://… never picks up TLS settings
    env = {"DOCKER_HOST": "ssh://me@h", "DOCKER_TLS_VERIFY": "1"}
    assert default_address(env) == EngineAddress("ssh://me@h")


@pytest.mark.parametrize(
    "server,expected",
    [("1.47", "1.47"), ("1.41", "1.41"), ("1.48", "1.47"), ("1.9", "1.9"), ("", "1.47")],
)
def test_negotiation_takes_the_lower_version(server, expected):
    assert negotiate(server) == expected
