"""Published ports, live restore and cleanup through the real docker CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from clihelp import HTTPD, free_port, http_get, our_links, our_table, read_text, uniq, wget_in
from portside.engine.networks import nsutil
from support.docker_inspect import inspect
from support.waiting import wait_for


def test_published_ports_localhost_any_and_docker_port(shared_engine):
    e = shared_engine
    c = uniq("c")
    p_local = free_port()
    e.docker(
        "run", "-d", "-p", f"127.0.0.1:{p_local}:80", "--name", c, "busybox", "sh", "-c", HTTPD
    )
    try:
        assert http_get(f"http://127.0.0.1:{p_local}/").startswith("hi from ")
        assert e.docker("port", c).stdout.strip() == f"80/tcp -> 127.0.0.1:{p_local}"
        summary = json.loads(e.api("GET", "/containers/json").text)
        mine = next(x for x in summary if x["Names"] == ["/" + c])
        assert {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": p_local, "Type": "tcp"} in mine[
            "Ports"
        ]
        # a port in use cannot be published twice
        r = e.docker(
            "run", "-d", "-p", f"127.0.0.1:{p_local}:80", "busybox", "sleep", "9", check=False
        )
        assert r.returncode != 0 and "already allocated" in r.stderr
    finally:
        e.docker("rm", "-f", c)
    with pytest.raises(AssertionError):
        http_get(f"http://127.0.0.1:{p_local}/", wait=1)
    assert "dport" not in our_table(e)


def test_publish_all_exposed_ports(shared_engine):
    e = shared_engine
    c = uniq("c")
    e.docker("run", "-d", "-P", "--expose", "80", "--name", c, "busybox", "sh", "-c", HTTPD)
    try:
        line = e.docker("port", c, "80/tcp").stdout.splitlines()[0]
        host, _, port = line.rpartition(":")
        assert host == "0.0.0.0" and int(port) > 1024
        assert http_get(f"http://127.0.0.1:{port}/").startswith("hi from ")
    finally:
        e.docker("rm", "-f", c)


def test_udp_port(shared_engine):
    e = shared_engine
    c = uniq("c")
    port = free_port(socket.SOCK_DGRAM)
    e.docker(
        "run", "-d", "-p", f"127.0.0.1:{port}:5353/udp", "--name", c, "busybox", "sleep", "600"
    )
    # busybox has no UDP server applet: serve from a socket made inside the container's
    # own network namespace (its SandboxKey), which is where the published port leads.
    key = inspect(e, c)["NetworkSettings"]["SandboxKey"]
    server = nsutil.socket_in(Path(key), socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("0.0.0.0", 5353))
    server.settimeout(10)

    def echo() -> None:
        try:
            data, addr = server.recvfrom(100)
            server.sendto(b"pong " + data, addr)
        except OSError:
            pass

    t = threading.Thread(target=echo)
    t.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(b"ping", ("127.0.0.1", port))
            assert s.recv(100) == b"pong ping"
        assert e.docker("port", c).stdout.strip() == f"5353/udp -> 127.0.0.1:{port}"
    finally:
        t.join()
        server.close()
        e.docker("rm", "-f", c)


def _published_on_a_new_network(e, *cmd: str) -> tuple[str, str, int]:
    """A new user network and a busybox container on it running ``cmd``, with port 80
    published on a free 127.0.0.1 port: ``(network, container, port)``."""
    net, c = uniq("net"), uniq("c")
    port = free_port()
    e.docker("network", "create", net)
    e.docker("run", "-d", "--network", net, "-p", f"127.0.0.1:{port}:80", "--name", c,
             "busybox", *cmd)  # fmt: skip
    return net, c, port


def test_ports_survive_kill9_and_restart_without_duplicates(engine_with_busybox):
    e = engine_with_busybox
    net, c, port = _published_on_a_new_network(e, "sh", "-c", HTTPD)
    assert http_get(f"http://127.0.0.1:{port}/").startswith("hi from ")
    before_ip = inspect(e, c)["NetworkSettings"]["Networks"][net]["IPAddress"]
    e.kill9()
    # The kernel keeps forwarding while the engine is down.
    assert http_get(f"http://127.0.0.1:{port}/").startswith("hi from ")
    e.start()
    assert http_get(f"http://127.0.0.1:{port}/").startswith("hi from ")
    table = our_table(e)
    assert table.count(f"dport {port} ") == 1, table
    assert inspect(e, c)["NetworkSettings"]["Networks"][net]["IPAddress"] == before_ip
    # names resolve again after the restart (DNS sockets re-bound in the namespace)
    assert wget_in(e, net, c).stdout.startswith("hi from ")
    # the port is held again: a second container cannot take it
    r = e.docker("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", "true", check=False)
    assert r.returncode != 0
    e.docker("rm", "-f", c)
    assert f"dport {port} " not in our_table(e)


def test_everything_is_removed_with_its_networks_and_containers(engine_with_busybox):
    e = engine_with_busybox
    net = uniq("net")
    e.docker("network", "create", net)
    bridge = "br-" + e.docker("network", "inspect", "-f", "{{.Id}}", net).stdout.strip()[:12]
    a = e.docker(
        "run",
        "-d",
        "--network",
        net,
        "-p",
        f"127.0.0.1:{free_port()}:80",
        "busybox",
        "sleep",
        "600",
    ).stdout.strip()
    b = e.docker("run", "-d", "busybox", "sleep", "600").stdout.strip()
    links = our_links(e)
    assert bridge in links and f"ps{e.tag}" in links
    assert len([x for x in links if x.startswith("veth")]) == 2
    assert f"{e.exec_root}/netns/{a}" in read_text("/proc/self/mountinfo")
    assert "portside_ps" in our_table(e)
    e.docker("rm", "-f", a, b)
    # stopped: namespaces are unmounted at once; the kernel destroys the veths with them
    assert f"{e.exec_root}/netns" not in read_text("/proc/self/mountinfo")
    wait_for(lambda: not [x for x in our_links(e) if x.startswith("veth")], timeout=5.0)
    e.docker("network", "rm", net)
    assert bridge not in our_links(e)
    e.stop()
    # With no container left, a clean shutdown leaves nothing of the engine's network.
    assert our_links(e) == []
    assert our_table(e) == ""
    assert str(e.base) not in read_text("/proc/self/mountinfo")


def test_container_that_died_while_the_engine_was_down_is_released(engine_with_busybox):
    e = engine_with_busybox
    net, c, port = _published_on_a_new_network(e, "sleep", "600")
    key = inspect(e, c)["NetworkSettings"]["SandboxKey"]
    inode = nsutil.netns_inode(Path(key))
    assert inode
    e.kill9()
    for pid in nsutil.pids_in_netns(inode):
        os.kill(pid, signal.SIGKILL)
    e.start()
    deadline = time.monotonic() + 10
    while inspect(e, c)["State"]["Running"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not inspect(e, c)["State"]["Running"]
    assert key not in read_text("/proc/self/mountinfo")
    wait_for(lambda: not [x for x in our_links(e) if x.startswith("veth")], timeout=5.0)
    assert f"dport {port} " not in our_table(e)
    assert json.loads(e.docker("network", "inspect", net).stdout)[0]["Containers"] == {}
    # the address was released: the network can go
    e.docker("rm", c)
    e.docker("network", "rm", net)
