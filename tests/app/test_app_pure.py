"""Pure helpers: formatting, the Run dialog's parsing, notification rules."""

from __future__ import annotations

import pytest
from portside.app import format as fmt
from portside.app.notifications import Notifier
from portside.app.panels.run_spec import RunSpec, SpecError, build_config, parse_ports


def test_sizes_and_times():
    assert fmt.size(0) == "0 B" and fmt.size(1234) == "1.23 KB" and fmt.size(4_400_000) == "4.4 MB"
    assert fmt.size(-1) == "" and fmt.binary_size(50 * 1024 * 1024) == "50.0 MiB"
    assert fmt.ago(1000, now=1000 + 3 * 3600) == "3 hours ago"
    assert fmt.ago(1000, now=1030) == "just now"
    assert fmt.parse_time("2024-01-02T03:04:05.123456789Z") == pytest.approx(1704164645.123456)
    assert fmt.parse_time("0001-01-01T00:00:00Z") is None
    assert fmt.short_id("sha256:0123456789abcdef") == "0123456789ab"


def test_run_spec_to_create_body():
    body = build_config(
        RunSpec(
            image="nginx:1.27",
            ports="8080:80, 127.0.0.1:8443:443/tcp\n53:53/udp",
            env="A=1\n\n# x\nB=two words",
            volumes="data:/var/lib/data\n/srv/site:/usr/share/nginx/html:ro",
            network="backend",
            command="nginx -g 'daemon off;'",
        )
    )
    assert body["Image"] == "nginx:1.27"
    assert body["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert body["Env"] == ["A=1", "B=two words"]
    assert body["ExposedPorts"] == {"80/tcp": {}, "443/tcp": {}, "53/udp": {}}
    assert body["HostConfig"]["PortBindings"]["443/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": "8443"}
    ]
    assert body["HostConfig"]["Binds"][1] == "/srv/site:/usr/share/nginx/html:ro"
    assert body["HostConfig"]["NetworkMode"] == "backend"


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("ports", "80:http", "not a port"),
        ("ports", "99999:80", "not a port"),
        ("ports", "80/icmp", "protocol"),
        ("env", "NOEQUALS", "KEY=VALUE"),
        ("volumes", "data", "SOURCE:/path"),
        ("command", "echo 'unclosed", "command"),
        ("image", "", "choose an image"),
    ],
)
def test_run_spec_errors_say_which_field(field, value, message):
    spec = RunSpec(image="busybox")
    setattr(spec, field, value)
    with pytest.raises(SpecError, match=message):
        build_config(spec)


def test_container_port_only():
    exposed, bindings = parse_ports("80")
    assert exposed == {"80/tcp": {}} and bindings == {"80/tcp": [{"HostIp": "", "HostPort": ""}]}


class _Events:
    def __init__(self):
        from PySide6.QtCore import QObject, Signal

        class Hub(QObject):
            container = Signal(dict)

        self.hub = Hub()


def _ev(action, cid="c1", **attrs):
    return {
        "Type": "container",
        "Action": action,
        "Actor": {"ID": cid, "Attributes": {"name": "web", **attrs}},
    }


def test_notification_rules(qapp):
    ev = _Events()

    class Ctx:
        events = ev.hub

    n = Notifier(Ctx())  # type: ignore[arg-type]
    n.on_event(_ev("die", exitCode="0"))
    assert n.sent == []  # a clean exit is no news
    n.on_event(_ev("kill", signal="15"))
    n.on_event(_ev("die", exitCode="143"))
    assert n.sent == []  # someone asked for it
    n.on_event(_ev("die", exitCode="1"))
    assert n.sent == [("web stopped unexpectedly", "It exited with code 1.")]
    n.on_event(_ev("die", exitCode="1"))
    assert len(n.sent) == 1  # a restart loop is announced once a minute
    n.on_event(
        {
            "Type": "container",
            "Action": "health_status: unhealthy",
            "Actor": {"ID": "c2", "Attributes": {"name": "api"}},
        }
    )
    n.on_event(_ev("oom", cid="c3"))
    assert n.sent[1:] == [
        ("api is unhealthy", "Its health check is failing."),
        ("web ran out of memory", "The kernel killed a process of it."),
    ]
