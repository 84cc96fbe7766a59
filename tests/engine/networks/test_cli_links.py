"""Legacy links (``docker run --link``) through the real docker CLI, as dockerd keeps them."""

from __future__ import annotations

from clihelp import HTTPD, uniq
from support.docker_inspect import inspect


def _hosts_line(e, ctr: str, name: str) -> str:  # type: ignore[no-untyped-def]
    hosts = e.docker("exec", ctr, "cat", "/etc/hosts").stdout
    return next((line for line in hosts.splitlines() if name in line.split()[1:]), "")


def test_links_on_the_default_bridge(shared_engine):
    e = shared_engine
    web, cli, other = uniq("web"), uniq("cli"), uniq("other")
    e.docker("run", "-d", "--name", web, "-e", "FOO=bar baz", "--expose", "80",
             "--expose", "81", "--expose", "82", "--expose", "53/udp",
             "busybox", "sh", "-c", HTTPD)  # fmt: skip
    try:
        e.docker("run", "-d", "--name", cli, "--link", f"{web}:db", "busybox", "sleep", "600")
        web_ip = inspect(e, web)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        web_id = inspect(e, web)["Id"]
        # /etc/hosts: alias, the child's hostname, its name
        assert _hosts_line(e, cli, "db").split() == [web_ip, "db", web_id[:12], web]
        assert e.docker("exec", cli, "wget", "-qO-", "http://db/").stdout.startswith("hi from")
        # the environment dockerd gives a linked container
        env = dict(
            line.split("=", 1)
            for line in e.docker("exec", cli, "env").stdout.splitlines()
            if line.startswith("DB_")
        )
        assert env == {
            "DB_NAME": f"/{cli}/db",
            "DB_ENV_FOO": "bar baz",
            "DB_PORT": f"tcp://{web_ip}:80",
            **{
                k: v
                for p in (80, 81, 82)
                for k, v in {
                    f"DB_PORT_{p}_TCP": f"tcp://{web_ip}:{p}",
                    f"DB_PORT_{p}_TCP_ADDR": web_ip,
                    f"DB_PORT_{p}_TCP_PORT": str(p),
                    f"DB_PORT_{p}_TCP_PROTO": "tcp",
                }.items()
            },
            "DB_PORT_80_TCP_START": f"tcp://{web_ip}:80",
            "DB_PORT_80_TCP_PORT_START": "80",
            "DB_PORT_80_TCP_END": f"tcp://{web_ip}:82",
            "DB_PORT_80_TCP_PORT_END": "82",
            "DB_PORT_53_UDP": f"udp://{web_ip}:53",
            "DB_PORT_53_UDP_ADDR": web_ip,
            "DB_PORT_53_UDP_PORT": "53",
            "DB_PORT_53_UDP_PROTO": "udp",
        }
        assert inspect(e, cli)["HostConfig"]["Links"] == [f"/{web}:/{cli}/db"]
        # the child comes back with another address: the parent's hosts file follows
        e.docker("stop", "-t", "0", web)
        e.docker("run", "-d", "--name", other, "busybox", "sleep", "600")
        e.docker("start", web)
        new_ip = inspect(e, web)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        assert new_ip != web_ip and _hosts_line(e, cli, "db").split()[0] == new_ip
        # docker rm --link removes the link (the CLI sends cli/db)
        e.docker("rm", "--link", f"/{cli}/db")
        assert inspect(e, cli)["HostConfig"]["Links"] is None
        assert _hosts_line(e, cli, "db") == ""
        r = e.docker("rm", "--link", f"/{cli}/db", check=False)
        assert r.returncode != 0 and "No such container" in r.stderr
        r = e.docker("rm", "--link", web, check=False)
        assert "cannot remove the default link name of the container" in r.stderr
        assert inspect(e, web)["State"]["Running"]
    finally:
        e.docker("rm", "-f", cli, web, other, check=False)


def test_links_refused_as_dockerd_refuses_them(shared_engine):
    e = shared_engine
    web, cli, net, onnet = uniq("web"), uniq("cli"), uniq("net"), uniq("onnet")
    e.docker("create", "--name", web, "busybox", "sleep", "600")
    e.docker("network", "create", net)
    try:
        r = e.docker("run", "--link", f"{uniq('nosuch')}:x", "busybox", "true", check=False)
        assert r.returncode != 0 and "could not get container for nosuch" in r.stderr
        r = e.docker("run", "--network", "host", "--link", web, "busybox", "true", check=False)
        assert "host type networking can't be used with links" in r.stderr
        # the child must run, on the default bridge
        e.docker("create", "--name", cli, "--link", f"{web}:db", "busybox", "true")
        r = e.docker("start", cli, check=False)
        assert f"Cannot link to a non running container: /{web} AS /{cli}/db" in r.stderr
        e.docker("run", "-d", "--network", net, "--name", onnet, "busybox", "sleep", "600")
        r = e.docker("run", "--rm", "--link", onnet, "busybox", "true", check=False)
        assert f"Cannot link to /{onnet}, as it does not belong to the default network" in (
            r.stderr
        )
    finally:
        e.docker("rm", "-f", cli, web, onnet, check=False)
        e.docker("network", "rm", net)


def test_a_link_on_a_user_network_is_an_alias_for_that_container(shared_engine):
    e = shared_engine
    net, web, cli = uniq("net"), uniq("web"), uniq("cli")
    e.docker("network", "create", net)
    e.docker("run", "-d", "--network", net, "--name", web, "busybox", "sh", "-c", HTTPD)
    try:
        e.docker("run", "-d", "--network", net, "--link", f"{web}:w", "--name", cli,
                 "busybox", "sleep", "600")  # fmt: skip
        out = e.docker("exec", cli, "wget", "-qO-", "http://w/").stdout
        assert out.startswith("hi from")
        ins = inspect(e, cli)
        assert ins["NetworkSettings"]["Networks"][net]["Links"] == [f"{web}:w"]
        assert ins["HostConfig"]["Links"] is None
        # no /etc/hosts line, no variables: the alias is the DNS server's, for cli only
        assert _hosts_line(e, cli, "w") == ""
        assert "W_NAME" not in e.docker("exec", cli, "env").stdout
        r = e.docker("run", "--rm", "--network", net, "busybox", "wget", "-qO-", "http://w/",
                     check=False)  # fmt: skip
        assert r.returncode != 0
    finally:
        e.docker("rm", "-f", cli, web, check=False)
        e.docker("network", "rm", net)
