"""Legacy container links (``docker run --link name:alias``), as dockerd keeps them.

On the default bridge a link makes the linked container (the *child*) known to the
container that asked for it (the *parent*): an ``/etc/hosts`` line (alias, the child's
hostname and name), and ``<ALIAS>_PORT_…``, ``<ALIAS>_NAME`` and ``<ALIAS>_ENV_…``
variables in the parent's environment. dockerd names each link ``/<parent>/<alias>``;
``DELETE /containers//<parent>/<alias>?link=1`` removes it.

On a user-defined network there is nothing of this: the CLI passes ``--link`` as the
endpoint's ``Links`` and the embedded DNS server answers the alias, for that container
only, with the child's address (:meth:`.service.NetworkService.dns_lookup`).

The links of a container are kept (by child id, so renames follow) in its ``extra``
slot; ``HostConfig.Links`` shows them in dockerd's ``/<child>:/<parent>/<alias>`` form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound, SystemError_
from .endpoints import hook_data, network_mode
from .ports import parse_port_key

if TYPE_CHECKING:
    from ..containers.model import Container
    from .service import NetworkService

EXTRA_KEY = "legacy_links"


def parse_link(text: str) -> tuple[str, str]:
    """``name:alias`` (or just ``name``) → (name, alias), as moby's ParseLink."""
    name, _, alias = str(text).partition(":")
    name = name.lstrip("/")
    if not name:
        raise InvalidParameter(f"bad format for links: {text}")
    return name, alias or name


def _sorted_ports(exposed: dict[str, Any] | None) -> list[tuple[int, str]]:
    """Exposed ports, TCP first, then by number (moby sorts links' ports so)."""
    ports = [parse_port_key(key) for key in exposed or {}]

    def order(p: tuple[int, str]) -> tuple[int, str, int]:
        port, proto = p
        return (0 if proto == "tcp" else 1, "" if proto == "tcp" else proto, port)

    return sorted(ports, key=order)


def link_env(
    link_name: str, child_ip: str, child_env: list[str], exposed: dict[str, Any] | None
) -> list[str]:
    """The variables dockerd sets in a parent for the link ``/<parent>/<alias>``."""
    alias = link_name.rsplit("/", 1)[-1].upper().replace("-", "_")
    ports = _sorted_ports(exposed)
    env: list[str] = []
    start = end = ports[0] if ports else (0, "")
    for i, (port, proto) in enumerate(ports):
        if i == 0:
            start = end = (port, proto)
            env.append(f"{alias}_PORT={proto}://{child_ip}:{port}")
        prefix = f"{alias}_PORT_{port}_{proto.upper()}"
        env += [
            f"{prefix}={proto}://{child_ip}:{port}",
            f"{prefix}_ADDR={child_ip}",
            f"{prefix}_PORT={port}",
            f"{prefix}_PROTO={proto}",
        ]
        # Consecutive ports of one protocol also get variables for the whole range.
        if port == end[0] + 1 and proto == start[1]:
            end = (port, proto)
            if i < len(ports) - 1:
                continue
        if end != start:
            prefix = f"{alias}_PORT_{start[0]}_{start[1].upper()}"
            env += [
                f"{prefix}_START={start[1]}://{child_ip}:{start[0]}",
                f"{prefix}_PORT_START={start[0]}",
                f"{prefix}_END={end[1]}://{child_ip}:{end[0]}",
                f"{prefix}_PORT_END={end[0]}",
            ]
        start = end = (port, proto)
    env.append(f"{alias}_NAME={link_name}")
    for entry in child_env:
        key, eq, value = entry.partition("=")
        if eq and key not in ("HOME", "PATH"):
            env.append(f"{alias}_ENV_{key}={value}")
    return env


def merge_link_env(env: list[str], extra: list[str]) -> list[str]:
    """``extra`` placed after the engine's defaults (PATH, HOSTNAME, TERM) unless the
    container sets the same variable itself (dockerd lets Config.Env win)."""
    have = {e.partition("=")[0] for e in env}
    add = [e for e in extra if e.partition("=")[0] not in have]
    at = 0
    while at < len(env) and env[at].partition("=")[0] in ("PATH", "HOSTNAME", "TERM"):
        at += 1
    return env[:at] + add + env[at:]


class LegacyLinks:
    """Links between containers on the default bridge."""

    def __init__(self, svc: NetworkService) -> None:
        self.svc = svc

    def _container(self, ref: str) -> Any:
        containers = self.svc.containers
        return containers.find(ref) if containers is not None else None

    # -- create ------------------------------------------------------------------------
    def register(self, c: Container) -> None:
        """Resolve ``HostConfig.Links`` at create (dockerd's registerLinks): each child
        must exist and not use the host's network. On a user-defined network they are
        the endpoint's business and nothing is registered."""
        links = c.host_config.get("Links") or []
        mode = network_mode(c)
        hook_data(c).pop(EXTRA_KEY, None)
        if not links:
            return
        if mode == "host":
            raise InvalidParameter(
                "conflicting options: host type networking can't be used with links. "
                "This would result in undefined behavior"
            )
        if mode.startswith("container:"):
            raise InvalidParameter(
                "conflicting options: container type network can't be used with links. "
                "This would result in undefined behavior"
            )
        n = self.svc.find(mode)
        if n is not None and n.user_defined:
            c.host_config["Links"] = None  # dockerd shows only registered links
            return
        registered: list[dict[str, str]] = []
        for text in links:
            name, alias = parse_link(text)
            child = self._container(name)
            if child is None:
                raise InvalidParameter(
                    f"could not get container for {name}: No such container: {name}"
                )
            while network_mode(child).startswith("container:"):
                ref = network_mode(child).split(":", 1)[1]
                child = self._container(ref)
                if child is None:
                    raise InvalidParameter(
                        f"could not get container for {ref}: No such container: {ref}"
                    )
            if network_mode(child) == "host":
                raise InvalidParameter(
                    "conflicting options: host type networking can't be used with links. "
                    "This would result in undefined behavior"
                )
            registered = [r for r in registered if r["alias"] != alias]
            registered.append({"child": child.id, "alias": alias})
        hook_data(c)[EXTRA_KEY] = registered
        self.show(c)

    def children(self, c: Container) -> list[tuple[str, Any]]:
        """(alias, child container) of each link of ``c`` whose child still exists."""
        out = []
        for link in hook_data(c).get(EXTRA_KEY) or []:
            child = self._container(link["child"])
            if child is not None:
                out.append((link["alias"], child))
        return out

    def show(self, c: Container) -> None:
        """``HostConfig.Links`` in dockerd's form, ``/<child>:/<parent>/<alias>``."""
        if EXTRA_KEY not in hook_data(c):
            return
        shown = [f"/{child.name}:/{c.name}/{alias}" for alias, child in self.children(c)]
        c.host_config["Links"] = shown or None

    def renamed(self) -> None:
        """A container was renamed: the names links show follow."""
        for c in self._all():
            if hook_data(c).get(EXTRA_KEY):
                self.show(c)
                self.svc.save_container(c)

    def _all(self) -> list[Any]:
        containers = self.svc.containers
        return list(containers.all()) if containers is not None else []

    # -- start -------------------------------------------------------------------------
    def _bridge_ip(self, child: Any) -> str | None:
        """The child's address on the default bridge (None: not on it)."""
        bridge = self.svc.by_name("bridge")
        for ep in self.svc.endpoints_of_container(child.id):
            if bridge is not None and ep.network_id == bridge.id:
                return ep.ip
        return None

    def check_running(self, c: Container) -> None:
        """Every child runs (dockerd refuses the start otherwise)."""
        for alias, child in self.children(c):
            if not getattr(child, "running", False):
                raise SystemError_(
                    f"Cannot link to a non running container: /{child.name} AS /{c.name}/{alias}"
                )

    def check_on_default_bridge(self, c: Container) -> None:
        """Every child is on the default bridge (dockerd refuses the start otherwise)."""
        for _alias, child in self.children(c):
            if self._bridge_ip(child) is None:
                raise SystemError_(
                    f"Cannot link to /{child.name}, as it does not belong to the default network"
                )

    def env(self, c: Container) -> list[str]:
        """The link variables of ``c`` (when it is on the default bridge)."""
        out: list[str] = []
        for alias, child in self.children(c):
            ip = self._bridge_ip(child)
            if ip is None:
                continue
            out += link_env(
                f"/{c.name}/{alias}",
                ip,
                list(child.config.get("Env") or []),
                child.config.get("ExposedPorts"),
            )
        return out

    def hosts_entries(self, c: Container) -> list[tuple[str, list[str]]]:
        """``/etc/hosts`` lines for the links of ``c``: (child address, names)."""
        out = []
        for alias, child in self.children(c):
            ip = self._bridge_ip(child)
            if not ip:
                continue
            hostname = child.config.get("Hostname") or child.id[:12]
            names = [alias, hostname] + ([child.name] if alias != child.name else [])
            out.append((ip, names))
        return out

    def parents_of(self, child_id: str) -> list[Any]:
        """Containers with a link to ``child_id``."""
        return [
            c
            for c in self._all()
            if any(link["child"] == child_id for link in hook_data(c).get(EXTRA_KEY) or [])
        ]

    # -- docker rm --link ----------------------------------------------------------------
    def remove(self, link_name: str) -> Any:
        """Remove the link ``/<parent>/<alias>``; the parent, whose /etc/hosts is then
        rewritten by the caller if it runs."""
        name = link_name if link_name.startswith("/") else "/" + link_name
        parent_name, _, alias = name.rpartition("/")
        if not parent_name:
            # dockerd: a container's own name is a link name it cannot remove
            if self._container(name) is None:
                raise NotFound(f"No such container: {link_name}")
            raise SystemError_("Conflict, cannot remove the default link name of the container")
        parent = self._container(parent_name)
        links = (hook_data(parent).get(EXTRA_KEY) or []) if parent is not None else []
        if parent is None or not any(link["alias"] == alias for link in links):
            raise NotFound(f"No such container: {link_name}")
        hook_data(parent)[EXTRA_KEY] = [link for link in links if link["alias"] != alias]
        self.show(parent)
        self.svc.save_container(parent)
        return parent
