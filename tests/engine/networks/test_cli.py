"""Networks through the real docker CLI: user networks, names, ports, live restore, cleanup."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from portside.engine.networks import nsutil

HTTPD = "mkdir -p /www && echo hi from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


def uniq(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, wait: float = 10.0) -> str:
    """GET with retries while the server inside the container starts."""
    deadline = time.monotonic() + wait
    while True:
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                return r.text
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {wait}s")
        time.sleep(0.2)


def wget_in(
    engine, network: str, name: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """busybox wget of http://<name>/ from a throwaway container on ``network``."""
    script = (
        "for i in 1 2 3 4 5 6 7 8 9 10; do "
        f"timeout 5 wget -qO- http://{name}/ && exit 0; sleep 0.3; done; exit 1"
    )
    return engine.docker(
        "run", "--rm", "--network", network, "busybox", "sh", "-c", script, check=check
    )


def inspect(engine, what: str) -> dict:
    return json.loads(engine.docker("inspect", what).stdout)[0]


def wait_until(cond, wait: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``cond`` until true or ``wait`` seconds passed; its last value."""
    deadline = time.monotonic() + wait
    while not cond():
        if time.monotonic() > deadline:
            return bool(cond())
        time.sleep(0.05)
    return True


def read_text(path: str) -> str:
    return Path(path).read_text()


def our_links(engine) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [
        line.split(":")[1].strip().split("@")[0]
        for line in out.splitlines()
        if f"alias portside/ps{engine.tag}" in line
    ]


def our_table(engine) -> str:
    return subprocess.run(
        ["nft", "list", "table", "inet", f"portside_ps{engine.tag}"], capture_output=True, text=True
    ).stdout


def test_names_and_aliases_resolve_on_a_user_network(shared_engine):
    e = shared_engine
    net, web = uniq("net"), uniq("web")
    e.docker("network", "create", net)
    e.docker(
        "run",
        "-d",
        "--network",
        net,
        "--network-alias",
        "www",
        "--name",
        web,
        "busybox",
        "sh",
        "-c",
        HTTPD,
    )
    cid = e.docker("inspect", "-f", "{{.Id}}", web).stdout.strip()
    assert wget_in(e, net, web).stdout.startswith("hi from ")
    assert wget_in(e, net, "www").stdout.startswith("hi from ")
    assert wget_in(e, net, cid[:12]).stdout.startswith("hi from ")
    ip = inspect(e, web)["NetworkSettings"]["Networks"][net]["IPAddress"]
    out = e.docker("run", "--rm", "--network", net, "busybox", "nslookup", web).stdout
    assert ip in out
    out = e.docker(
        "run", "--rm", "--network", net, "busybox", "ping", "-c", "1", "-W", "3", web
    ).stdout
    assert f"({ip})" in out and "1 packets received" in out
    # resolv.conf points at the embedded server; hosts has the container's own address
    out = e.docker(
        "run", "--rm", "--network", net, "busybox", "cat", "/etc/resolv.conf", "/etc/hosts"
    ).stdout
    assert "nameserver 127.0.0.11" in out
    # Disconnected: the name is gone at once, although the container keeps running.
    e.docker("network", "disconnect", net, web)
    assert wget_in(e, net, web, check=False).returncode != 0
    assert inspect(e, web)["State"]["Running"]
    assert net not in inspect(e, web)["NetworkSettings"]["Networks"]
    # ...and back (connect while running), reachable by name again
    e.docker("network", "connect", "--alias", "again", net, web)
    assert wget_in(e, net, "again").stdout.startswith("hi from ")
    e.docker("rm", "-f", web)
    e.docker("network", "rm", net)


def test_default_bridge_does_not_resolve_names(shared_engine):
    e = shared_engine
    web = uniq("web")
    e.docker("run", "-d", "--name", web, "busybox", "sh", "-c", HTTPD)
    try:
        ip = inspect(e, web)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        assert ip
        # by address it works (same bridge), by name it does not (as with Docker)
        out = e.docker(
            "run", "--rm", "busybox", "sh", "-c", f"timeout 5 wget -qO- http://{ip}/"
        ).stdout
        assert out.startswith("hi from ")
        r = e.docker(
            "run", "--rm", "busybox", "sh", "-c", f"timeout 5 wget -qO- http://{web}/", check=False
        )
        assert r.returncode != 0
        out = e.docker("run", "--rm", "busybox", "cat", "/etc/resolv.conf").stdout
        assert "127.0.0.11" not in out
    finally:
        e.docker("rm", "-f", web)


def test_inspect_shapes_and_static_addresses(shared_engine):
    e = shared_engine
    net, c = uniq("net"), uniq("c")
    e.docker("network", "create", "--subnet", "10.123.45.0/24", "--label", "k=v", net)
    e.docker(
        "run",
        "-d",
        "--network",
        net,
        "--ip",
        "10.123.45.77",
        "--name",
        c,
        "busybox",
        "sleep",
        "600",
    )
    try:
        ni = json.loads(e.docker("network", "inspect", net).stdout)[0]
        assert ni["IPAM"]["Config"][0] == {"Subnet": "10.123.45.0/24", "Gateway": "10.123.45.1"}
        assert ni["Labels"] == {"k": "v"} and ni["Driver"] == "bridge" and ni["Scope"] == "local"
        cid = inspect(e, c)["Id"]
        entry = ni["Containers"][cid]
        assert entry["Name"] == c and entry["IPv4Address"] == "10.123.45.77/24"
        assert entry["MacAddress"] == "02:42:0a:7b:2d:4d"
        ns = inspect(e, c)["NetworkSettings"]
        ep = ns["Networks"][net]
        assert (ep["IPAddress"], ep["Gateway"], ep["IPPrefixLen"]) == (
            "10.123.45.77",
            "10.123.45.1",
            24,
        )
        assert ep["NetworkID"] == ni["Id"] and ep["EndpointID"] == entry["EndpointID"]
        assert c in ep["DNSNames"]
        assert ns["SandboxKey"].endswith(cid)
        # the kernel agrees
        out = subprocess.run(
            ["nsenter", f"--net={ns['SandboxKey']}", "ip", "-o", "-4", "addr"],
            capture_output=True,
            text=True,
        ).stdout
        assert "eth0" in out and "10.123.45.77/24" in out
        # the address is taken now
        r = e.docker(
            "run", "-d", "--network", net, "--ip", "10.123.45.77", "busybox", "true", check=False
        )
        assert r.returncode != 0 and "Address already in use" in r.stderr
        # --ip outside the subnet, and on the default bridge, are refused
        r = e.docker("create", "--network", net, "--ip", "10.9.9.9", "busybox", check=False)
        assert r.returncode != 0
        r = e.docker("create", "--ip", "172.17.0.99", "busybox", check=False)
        assert r.returncode != 0 and "user defined networks" in r.stderr
        filt = e.docker(
            "network", "ls", "--filter", "label=k=v", "--format", "{{.Name}}"
        ).stdout.split()
        assert filt == [net]
        builtin = e.docker(
            "network", "ls", "--filter", "type=builtin", "--format", "{{.Name}}"
        ).stdout.split()
        assert sorted(builtin) == ["bridge", "host", "none"]
    finally:
        e.docker("rm", "-f", c)
        e.docker("network", "rm", net)
    # after the container went, its veth goes too
    assert wait_until(lambda: not our_links_named(e, "veth"))


def our_links_named(engine, prefix: str) -> list[str]:
    return [name for name in our_links(engine) if name.startswith(prefix)]


def test_network_rm_in_use_and_predefined(shared_engine):
    e = shared_engine
    net, c = uniq("net"), uniq("c")
    e.docker("network", "create", net)
    e.docker("run", "-d", "--network", net, "--name", c, "busybox", "sleep", "600")
    try:
        r = e.docker("network", "rm", net, check=False)
        assert r.returncode != 0 and "has active endpoints" in r.stderr
        r = e.api("DELETE", f"/networks/{net}")
        assert r.status_code == 409
        assert r.json()["message"].startswith(f"error while removing network: network {net} id ")
        assert e.api("DELETE", "/networks/bridge").status_code == 403
        assert e.api("POST", "/networks/create", json={"Name": net}).status_code == 409
        r = e.docker("network", "create", net, check=False)
        assert r.returncode != 0 and "already exists" in r.stderr
    finally:
        e.docker("rm", "-f", c)
    e.docker("network", "rm", net)
    assert e.api("GET", f"/networks/{net}").status_code == 404


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


def test_ports_survive_kill9_and_restart_without_duplicates(engine_with_busybox):
    e = engine_with_busybox
    net, c = uniq("net"), uniq("c")
    port = free_port()
    e.docker("network", "create", net)
    e.docker(
        "run",
        "-d",
        "--network",
        net,
        "-p",
        f"127.0.0.1:{port}:80",
        "--name",
        c,
        "busybox",
        "sh",
        "-c",
        HTTPD,
    )
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
    assert wait_until(lambda: not [x for x in our_links(e) if x.startswith("veth")])
    e.docker("network", "rm", net)
    assert bridge not in our_links(e)
    e.stop()
    # With no container left, a clean shutdown leaves nothing of the engine's network.
    assert our_links(e) == []
    assert our_table(e) == ""
    assert str(e.base) not in read_text("/proc/self/mountinfo")


def test_container_that_died_while_the_engine_was_down_is_released(engine_with_busybox):
    e = engine_with_busybox
    net, c = uniq("net"), uniq("c")
    port = free_port()
    e.docker("network", "create", net)
    e.docker(
        "run",
        "-d",
        "--network",
        net,
        "-p",
        f"127.0.0.1:{port}:80",
        "--name",
        c,
        "busybox",
        "sleep",
        "600",
    )
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
    assert wait_until(lambda: not [x for x in our_links(e) if x.startswith("veth")])
    assert f"dport {port} " not in our_table(e)
    assert json.loads(e.docker("network", "inspect", net).stdout)[0]["Containers"] == {}
    # the address was released: the network can go
    e.docker("rm", c)
    e.docker("network", "rm", net)


def test_connect_a_stopped_container_then_start(shared_engine):
    e = shared_engine
    net, c, web = uniq("net"), uniq("c"), uniq("web")
    e.docker("network", "create", "--internal", net)
    e.docker("run", "-d", "--network", net, "--name", web, "busybox", "sh", "-c", HTTPD)
    e.docker("create", "--name", c, "busybox", "sh", "-c", f"timeout 5 wget -qO- http://{web}/")
    try:
        e.docker("network", "connect", net, c)
        assert net in inspect(e, c)["NetworkSettings"]["Networks"]
        e.docker("start", c)
        e.docker("wait", c)
        assert e.docker("logs", c).stdout.startswith("hi from ")
        # an internal network gives no default route
        key = inspect(e, web)["NetworkSettings"]["SandboxKey"]
        routes = subprocess.run(
            ["nsenter", f"--net={key}", "ip", "route"], capture_output=True, text=True
        ).stdout
        assert "default" not in routes
        e.docker("network", "disconnect", net, c)
        assert net not in inspect(e, c)["NetworkSettings"]["Networks"]
        r = e.docker("network", "disconnect", net, c, check=False)
        assert r.returncode != 0
    finally:
        e.docker("rm", "-f", c, web)
        e.docker("network", "rm", net)


def test_docker_py_networks(shared_engine):
    client = shared_engine.client()
    name = uniq("py")
    n = client.networks.create(name, labels={"a": "b"})
    try:
        assert client.networks.get(name).id == n.id
        assert [x.name for x in client.networks.list(names=[name])] == [name]
        c = client.containers.run("busybox", "sleep 600", detach=True, name=uniq("c"))
        try:
            n.connect(c, aliases=["pyalias"])
            n.reload()
            assert [x.id for x in n.containers] == [c.id]
            c.reload()
            assert c.attrs["NetworkSettings"]["Networks"][name]["Aliases"] == ["pyalias"]
            n.disconnect(c)
            n.reload()
            assert n.containers == []
        finally:
            c.remove(force=True)
        assert name in client.networks.prune(filters={"label": "a=b"})["NetworksDeleted"]
    finally:
        try:
            n.remove()
        except Exception:
            pass
        client.close()


def test_host_none_and_container_modes(shared_engine):
    e = shared_engine
    web, bad = uniq("web"), uniq("bad")
    e.docker("run", "-d", "--name", web, "busybox", "sleep", "600")
    try:
        ip = inspect(e, web)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        out = e.docker(
            "run", "--rm", "--network", f"container:{web}", "busybox", "ip", "-o", "-4", "addr"
        ).stdout
        assert f"inet {ip}/" in out
        out = e.docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout
        assert [line.split(":")[1].strip() for line in out.splitlines()] == ["lo"]
        host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        out = e.docker("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link").stdout
        assert len(out.splitlines()) == len(host_links.splitlines()) or "eth0" in out
        r = e.docker("network", "connect", "bridge", uniq("nosuch"), check=False)
        assert r.returncode != 0
        # As with dockerd: created, and start says the network is missing (no pull attempt).
        r = e.docker(
            "run", "-d", "--network", "nosuchnet", "--name", bad, "busybox", "true", check=False
        )
        assert r.returncode != 0 and "network nosuchnet not found" in r.stderr
        assert "Unable to find image" not in r.stderr
    finally:
        e.docker("rm", "-f", web, bad, check=False)
