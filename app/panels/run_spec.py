"""From the Run dialog's fields to a ``POST /containers/create`` body (pure, testable)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any


class SpecError(ValueError):
    """A field the user filled in cannot be understood; the message says which."""


@dataclass
class RunSpec:
    """What the Run dialog collects."""

    image: str
    name: str = ""
    ports: str = ""  # "8080:80, 127.0.0.1:8443:443/tcp, 53:53/udp"
    env: str = ""  # one KEY=VALUE per line
    volumes: str = ""  # one "name-or-/host/path:/in/container[:ro]" per line
    network: str = ""
    command: str = ""  # shell words
    labels: dict[str, str] = field(default_factory=dict)


def parse_ports(text: str) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    """``ExposedPorts`` and ``PortBindings`` from ``[ip:]host:container[/proto]`` items."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        spec, _, proto = item.partition("/")
        proto = proto or "tcp"
        if proto not in ("tcp", "udp", "sctp"):
            raise SpecError(f"unknown protocol in port {item!r}")
        parts = spec.rsplit(":", 2)
        if len(parts) == 1:
            ip, host, cport = "", "", parts[0]
        elif len(parts) == 2:
            ip, (host, cport) = "", parts
        else:
            ip, host, cport = parts
        for value in (host, cport):
            if value and not (value.isdigit() and 0 < int(value) < 65536):
                raise SpecError(f"{value!r} in {item!r} is not a port number")
        if not cport:
            raise SpecError(f"no container port in {item!r}")
        key = f"{int(cport)}/{proto}"
        exposed[key] = {}
        binding = {"HostIp": ip, "HostPort": host}
        bindings.setdefault(key, []).append(binding)
    return exposed, bindings


def parse_env(text: str) -> list[str]:
    """``KEY=VALUE`` lines (blank lines and ``#`` comments skipped)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, _value = line.partition("=")
        if not sep or not key.strip() or " " in key.strip():
            raise SpecError(f"environment line {line!r} is not KEY=VALUE")
        out.append(line)
    return out


def parse_volumes(text: str) -> list[str]:
    """Bind/volume specs, checked for a container path."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.split(":")
        if len(parts) < 2 or not parts[1].startswith("/"):
            raise SpecError(f"volume {line!r} needs SOURCE:/path/in/container[:ro]")
        if len(parts) > 2 and parts[2] not in ("ro", "rw", "z", "Z", "ro,z", "rw,z"):
            raise SpecError(f"unknown volume option {parts[2]!r} in {line!r}")
        out.append(line)
    return out


def build_config(spec: RunSpec) -> dict[str, Any]:
    """The create body for ``spec``."""
    if not spec.image.strip():
        raise SpecError("choose an image")
    exposed, bindings = parse_ports(spec.ports)
    try:
        cmd = shlex.split(spec.command)
    except ValueError as e:
        raise SpecError(f"command: {e}") from e
    host: dict[str, Any] = {}
    if bindings:
        host["PortBindings"] = bindings
    binds = parse_volumes(spec.volumes)
    if binds:
        host["Binds"] = binds
    if spec.network:
        host["NetworkMode"] = spec.network
    config: dict[str, Any] = {"Image": spec.image.strip(), "HostConfig": host}
    if exposed:
        config["ExposedPorts"] = exposed
    env = parse_env(spec.env)
    if env:
        config["Env"] = env
    if cmd:
        config["Cmd"] = cmd
    if spec.labels:
        config["Labels"] = dict(spec.labels)
    return config
