"""Daemon configuration: dockerd-style flags merged over an optional JSON config file."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HOST = "unix:///run/portside/portside.sock"
DEFAULT_DATA_ROOT = "/var/lib/portside"
DEFAULT_EXEC_ROOT = "/run/portside"
# dockerd's spelling for "the sockets systemd passed in" (socket activation).
ACTIVATED_HOST = "fd://"


@dataclass
class DaemonConfig:
    """Everything the engine needs to know at start-up.

    Paths are absolute. ``hosts`` holds ``unix://`` addresses; TCP is refused until TLS
    client certificates are supported, because an open TCP socket is root on the host.
    """

    hosts: list[str] = field(default_factory=lambda: [DEFAULT_HOST])
    data_root: Path = Path(DEFAULT_DATA_ROOT)
    exec_root: Path = Path(DEFAULT_EXEC_ROOT)
    log_level: str = "info"
    runtime: str | None = None  # None: pick crun where it works, else runc
    # Name of the default bridge; tests give each engine its own.
    bridge_name: str = "portside0"
    bridge_subnet: str | None = None
    # IPv6 on the default bridge (dockerd's ipv6 / fixed-cidr-v6)
    ipv6: bool = False
    fixed_cidr_v6: str | None = None
    # Outbound NAT for bridge networks. On for users, off in every test.
    ip_masquerade: bool = True
    # Resolvers written into containers' /etc/resolv.conf; None copies the host's.
    dns: list[str] | None = None
    registry_mirrors: list[str] = field(default_factory=list)
    insecure_registries: list[str] = field(default_factory=list)
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    # Containers created without a LogConfig get these (dockerd's log-driver/log-opts).
    log_driver: str = "json-file"
    log_opts: dict[str, str] = field(default_factory=dict)
    # Group owning the API sockets (dockerd's -G); None: "portside" when it exists.
    group: str | None = None
    config_file: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def socket_paths(self) -> list[Path]:
        """The unix socket paths the API listens on."""
        return [Path(h[len("unix://") :]) for h in self.hosts if h.startswith("unix://")]

    @property
    def socket_activated(self) -> bool:
        """Whether ``fd://`` asks to serve the sockets a service manager passed in."""
        return ACTIVATED_HOST in self.hosts


_FILE_KEYS = {
    "data-root": ("data_root", Path),
    "exec-root": ("exec_root", Path),
    "log-level": ("log_level", str),
    "runtime": ("runtime", str),
    "default-runtime": ("runtime", str),
    "bridge": ("bridge_name", str),
    "bip": ("bridge_subnet", str),
    "ipv6": ("ipv6", bool),
    "fixed-cidr-v6": ("fixed_cidr_v6", str),
    "ip-masq": ("ip_masquerade", bool),
    "dns": ("dns", list),
    "registry-mirrors": ("registry_mirrors", list),
    "insecure-registries": ("insecure_registries", list),
    "max-concurrent-downloads": ("max_concurrent_downloads", int),
    "max-concurrent-uploads": ("max_concurrent_uploads", int),
    "hosts": ("hosts", list),
    "group": ("group", str),
    "log-driver": ("log_driver", str),
    "log-opts": ("log_opts", dict),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``portsided`` command line, spelled like dockerd's."""
    p = argparse.ArgumentParser(prog="portsided", description="Portside container engine")
    p.add_argument(
        "-H",
        "--host",
        action="append",
        dest="hosts",
        help="unix:///path.sock, or fd:// for the sockets systemd passes (socket activation)",
    )
    p.add_argument(
        "-G",
        "--group",
        help="group owning the unix sockets (default: portside, when that group exists)",
    )
    p.add_argument("--data-root", help=f"persistent state (default {DEFAULT_DATA_ROOT})")
    p.add_argument("--exec-root", help=f"runtime state (default {DEFAULT_EXEC_ROOT})")
    p.add_argument("--config-file", help="JSON daemon configuration file")
    p.add_argument("-l", "--log-level", choices=["debug", "info", "warn", "error", "fatal"])
    p.add_argument("--runtime", choices=["crun", "runc"], help="OCI runtime")
    p.add_argument("-b", "--bridge", dest="bridge", help="name of the default bridge")
    p.add_argument("--bip", help="subnet of the default bridge (CIDR)")
    p.add_argument("--ip-masq", choices=["true", "false"], help="outbound NAT for bridges")
    p.add_argument("--ipv6", action="store_true", default=None, help="IPv6 on the default bridge")
    p.add_argument("--fixed-cidr-v6", help="IPv6 subnet of the default bridge (CIDR)")
    p.add_argument("--dns", action="append", help="DNS server for containers")
    p.add_argument("--log-driver", help="default log driver of containers (json-file)")
    p.add_argument("--log-opt", action="append", help="default log driver option key=value")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def load_config(argv: list[str] | None = None) -> DaemonConfig:
    """Parse flags and the config file; flags win, as with dockerd."""
    from .errors import InvalidParameter

    args = build_parser().parse_args(argv)
    cfg = DaemonConfig()
    if args.config_file:
        cfg.config_file = Path(args.config_file)
        try:
            raw = json.loads(cfg.config_file.read_text())
        except FileNotFoundError:
            raw = {}
        except json.JSONDecodeError as e:
            raise InvalidParameter(f"invalid config file {cfg.config_file}: {e}") from e
        if not isinstance(raw, dict):
            raise InvalidParameter(f"config file {cfg.config_file} must hold a JSON object")
        cfg.raw = raw
        for key, value in raw.items():
            if key in _FILE_KEYS:
                attr, kind = _FILE_KEYS[key]
                setattr(cfg, attr, kind(value) if kind is not list else list(value))
    if args.hosts:
        cfg.hosts = args.hosts
    if args.group is not None:
        cfg.group = args.group
    if args.data_root:
        cfg.data_root = Path(args.data_root)
    if args.exec_root:
        cfg.exec_root = Path(args.exec_root)
    if args.log_level:
        cfg.log_level = args.log_level
    if args.runtime:
        cfg.runtime = args.runtime
    if args.bridge:
        cfg.bridge_name = args.bridge
    if args.bip:
        cfg.bridge_subnet = args.bip
    if args.ipv6:
        cfg.ipv6 = True
    if args.fixed_cidr_v6:
        cfg.fixed_cidr_v6 = args.fixed_cidr_v6
    if args.ip_masq:
        cfg.ip_masquerade = args.ip_masq == "true"
    if args.dns:
        cfg.dns = args.dns
    if args.log_driver:
        cfg.log_driver = args.log_driver
    for opt in args.log_opt or []:
        key, sep, value = opt.partition("=")
        if not sep:
            raise InvalidParameter(f"invalid log-opt {opt!r}: expected key=value")
        cfg.log_opts[key] = value
    cfg.data_root = Path(os.path.abspath(cfg.data_root))
    cfg.exec_root = Path(os.path.abspath(cfg.exec_root))
    for h in cfg.hosts:
        if not h.startswith("unix://") and h != ACTIVATED_HOST:
            raise InvalidParameter(
                f"unsupported host {h!r}: only unix:// sockets and fd:// are served"
            )
    cfg.version_only = args.version  # type: ignore[attr-defined]  # a flag, not a daemon.json key
    return cfg
