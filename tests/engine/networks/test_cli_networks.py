"""Networks through the real docker CLI: user networks, names, modes, connect/disconnect."""

from __future__ import annotations

import json
import subprocess

from clihelp import HTTPD, our_links_named, uniq, wget_in
from support.docker_inspect import inspect
from support.waiting import wait_for


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
    wait_for(lambda: not our_links_named(e, "veth"), timeout=5.0)


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


def test_network_names_are_free_form_as_in_dockerd(shared_engine):
    e = shared_engine
    spaced, odd, web = uniq("test "), uniq("_Ünï:cøde@+"), uniq("web")
    for name in (spaced, odd):
        e.docker("network", "create", name)
    try:
        assert {spaced, odd} <= set(
            e.docker("network", "ls", "--format", "{{.Name}}").stdout.splitlines()
        )
        assert inspect(e, spaced)["Name"] == spaced
        e.docker("run", "-d", "--network", spaced, "--name", web, "busybox", "sh", "-c", HTTPD)
        assert wget_in(e, spaced, web).stdout.startswith("hi from ")
        e.docker("network", "connect", odd, web)
        assert set(inspect(e, web)["NetworkSettings"]["Networks"]) == {spaced, odd}
        # what dockerd refuses: blank names and the predefined ones
        for blank in ("", "   "):
            r = e.api("POST", "/networks/create", json={"Name": blank})
            assert (r.status_code, r.json()["message"]) == (400, "invalid name: name is empty")
        for predefined in ("bridge", "host", "none", "default"):
            r = e.docker("network", "create", predefined, check=False)
            assert r.returncode != 0
            msg = f"operation is not permitted on predefined {predefined} network"
            assert msg in r.stderr
            r = e.api("POST", "/networks/create", json={"Name": predefined})
            assert (r.status_code, r.json()["message"]) == (403, msg + " ")
    finally:
        e.docker("rm", "-f", web, check=False)
        e.docker("network", "rm", spaced, odd)
    assert e.api("GET", f"/networks/{spaced}").status_code == 404
