"""Which engines the user has: found on this computer, never guessed over the network.

Sources, in the order the sidebar lists them (an address found twice is listed once, under
its first source):

- Portside's own engine (the app's main connection),
- each Portside machine (``portside.vm``'s machine list; its forwarded ``docker.sock``),
- the docker CLI's contexts, read straight from its store
  (``$DOCKER_CONFIG/contexts/meta/<sha256 of the name>/meta.json``, TLS material under
  ``contexts/tls/<sha256>/docker/``, the current one from ``config.json``) — the CLI is
  never run, so listing costs a few file reads and works without it installed,
- dockerd's and podman's default sockets when they exist,
- the engines the user added (kept in the app's settings as JSON).

Qt-free, so it is tested with a temporary HOME full of real store files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from portside.vm.paths import MachineDirs

from .client import DOCKER_SOCKET, EngineAddress, TlsConfig

PORTSIDE, MACHINE, CONTEXT, SOCKET, ADDED = "portside", "machine", "context", "socket", "added"


@dataclass(frozen=True)
class EngineEntry:
    """One engine the user can work in.

    ``key`` is stable across runs (``context:<name>``, ``machine:<name>``, ``socket:<path>``,
    ``added:<name>``), so settings and open panels can refer to it.
    """

    key: str
    name: str
    source: str  # PORTSIDE, MACHINE, CONTEXT, SOCKET or ADDED
    url: str
    description: str = ""
    tls_dir: str = ""  # ca.pem/cert.pem/key.pem for tcp:// with TLS
    tls_verify: bool = True
    ssh_key: str = ""  # private key for ssh://; empty: agent, then ~/.ssh/id_*
    current: bool = False  # the docker CLI's current context

    def same_engine(self, other: EngineEntry) -> bool:
        """Whether ``other`` reaches the same engine the same way (names and descriptions
        may differ: a session survives those)."""
        return (self.key, self.url, self.tls_dir, self.tls_verify, self.ssh_key) == (
            other.key,
            other.url,
            other.tls_dir,
            other.tls_verify,
            other.ssh_key,
        )

    def address(self) -> EngineAddress:
        """The client address of this engine."""
        tls = TlsConfig.from_cert_dir(self.tls_dir, self.tls_verify) if self.tls_dir else None
        return EngineAddress(self.url, tls, self.ssh_key or None)

    @property
    def removable(self) -> bool:
        """Only engines the user added are removed from the app; the rest belong to
        someone else (the CLI's store, a machine, the system)."""
        return self.source == ADDED


def docker_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG``, else ``~/.docker``, as the docker CLI decides."""
    env = os.environ if env is None else env
    override = env.get("DOCKER_CONFIG")
    if override:
        return Path(override)
    return Path(env.get("HOME") or Path.home()) / ".docker"


def context_digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def current_context(config_dir: Path) -> str:
    """``currentContext`` of the CLI's ``config.json`` (``default`` when unset)."""
    try:
        config = json.loads((config_dir / "config.json").read_text())
    except (OSError, ValueError):
        return "default"
    name = config.get("currentContext") if isinstance(config, dict) else None
    return str(name) if name else "default"


def docker_contexts(config_dir: Path) -> list[EngineEntry]:
    """The contexts in the CLI's store with a docker endpoint we can reach, by name.

    A directory whose name is not the sha256 of its context's name is ignored (the CLI
    would not find it either); unreadable or malformed files are skipped, never fatal.
    """
    meta_root = config_dir / "contexts" / "meta"
    try:
        dirs = sorted(p for p in meta_root.iterdir() if p.is_dir())
    except OSError:
        return []
    current = current_context(config_dir)
    found: list[EngineEntry] = []
    for d in dirs:
        try:
            meta = json.loads((d / "meta.json").read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict):
            continue
        name = str(meta.get("Name") or "")
        if not name or context_digest(name) != d.name:
            continue
        endpoint = (meta.get("Endpoints") or {}).get("docker") or {}
        host = str(endpoint.get("Host") or "") if isinstance(endpoint, dict) else ""
        if not _reachable_url(host):
            continue
        tls_dir = config_dir / "contexts" / "tls" / d.name / "docker"
        metadata = meta.get("Metadata")
        description = str(metadata.get("Description") or "") if isinstance(metadata, dict) else ""
        found.append(
            EngineEntry(
                key=f"context:{name}",
                name=name,
                source=CONTEXT,
                url=host,
                description=description,
                tls_dir=str(tls_dir) if host.startswith("tcp://") and tls_dir.is_dir() else "",
                tls_verify=not bool(endpoint.get("SkipTLSVerify")),
                current=name == current,
            )
        )
    return sorted(found, key=lambda e: e.name)


def _reachable_url(url: str) -> bool:
    try:
        EngineAddress(url)
    except Exception:
        return False
    return True


def default_socket_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """dockerd's and podman's usual sockets (rootless podman's first, then the system's)."""
    env = os.environ if env is None else env
    paths = [DOCKER_SOCKET]
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        paths.append(os.path.join(runtime, "podman", "podman.sock"))
    paths.append("/run/podman/podman.sock")
    return paths


def socket_entries(paths: Iterable[str]) -> list[EngineEntry]:
    """Those of ``paths`` that exist as sockets now."""
    out = []
    for path in paths:
        try:
            is_socket = Path(path).is_socket()
        except OSError:
            is_socket = False
        if is_socket:
            name = "Podman" if "podman" in path else "Docker"
            out.append(EngineEntry(f"socket:{path}", name, SOCKET, f"unix://{path}"))
    return out


def machine_entries(machines: Iterable[MachineDirs]) -> list[EngineEntry]:
    """Each Portside machine, through the ``docker.sock`` its host agent forwards."""
    out = []
    for dirs in machines:
        out.append(
            EngineEntry(
                key=f"machine:{dirs.name}",
                name=f"Machine {dirs.name}",
                source=MACHINE,
                url=f"unix://{dirs.docker_socket}",
                description="Portside Machine",
            )
        )
    return out


def added_entries(raw: str) -> list[EngineEntry]:
    """The engines the user added, from their settings JSON (a list of objects)."""
    try:
        items = json.loads(raw) if raw else []
    except ValueError:
        return []
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        name, url = str(item.get("name") or ""), str(item.get("url") or "")
        if not name or not _reachable_url(url):
            continue
        out.append(
            EngineEntry(
                key=f"added:{name}",
                name=name,
                source=ADDED,
                url=url,
                tls_dir=str(item.get("tls_dir") or ""),
                tls_verify=bool(item.get("tls_verify", True)),
                ssh_key=str(item.get("ssh_key") or ""),
            )
        )
    return out


def encode_added(entries: Iterable[EngineEntry]) -> str:
    """The settings JSON of the user's own engines."""
    items: list[dict[str, Any]] = []
    for e in entries:
        item: dict[str, Any] = {"name": e.name, "url": e.url}
        if e.tls_dir:
            item["tls_dir"], item["tls_verify"] = e.tls_dir, e.tls_verify
        if e.ssh_key:
            item["ssh_key"] = e.ssh_key
        items.append(item)
    return json.dumps(items)


def same_place(url: str) -> str:
    """A comparable form of an address (``unix:///a//b`` and ``unix:///a/b`` match)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return "unix://" + os.path.normpath(parts.path)
    return url.rstrip("/")


def merge(groups: Iterable[Iterable[EngineEntry]]) -> list[EngineEntry]:
    """The entries in order, each address and each key once (the first source wins)."""
    seen_urls: set[str] = set()
    seen_keys: set[str] = set()
    out = []
    for group in groups:
        for entry in group:
            place = same_place(entry.url)
            if place in seen_urls or entry.key in seen_keys:
                continue
            seen_urls.add(place)
            seen_keys.add(entry.key)
            out.append(entry)
    return out


def discover(
    primary: EngineEntry,
    *,
    machines: Iterable[MachineDirs] = (),
    config_dir: Path | None = None,
    sockets: Iterable[str] | None = None,
    added: str = "",
) -> list[EngineEntry]:
    """Every engine, ``primary`` (Portside's own) first."""
    return merge(
        [
            [primary],
            machine_entries(machines),
            docker_contexts(config_dir or docker_config_dir()),
            socket_entries(default_socket_paths() if sockets is None else sockets),
            added_entries(added),
        ]
    )
