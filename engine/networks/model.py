"""Networks, endpoints and sandboxes as the engine stores them, and their Docker JSON."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

PREDEFINED = ("bridge", "host", "none")
DRIVER_OF_PREDEFINED = {"bridge": "bridge", "host": "host", "none": "null"}
ZERO_TIME = "0001-01-01T00:00:00Z"
DEFAULT_MTU = 1500

# Options Docker reports for its default bridge (inspect shows them verbatim).
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_MASQ = "com.docker.network.bridge.enable_ip_masquerade"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MTU = "com.docker.network.driver.mtu"
OPT_HOST_IP = "com.docker.network.bridge.host_binding_ipv4"
OPT_DEFAULT = "com.docker.network.bridge.default_bridge"
OPT_ENABLE_IPV6 = "com.docker.network.enable_ipv6"


@dataclass
class Network:
    """One network (predefined or user-defined)."""

    id: str
    name: str
    driver: str  # bridge | host | null
    created: str = ZERO_TIME
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ipam_driver: str = "default"
    ipam_options: dict[str, str] = field(default_factory=dict)
    # What inspect shows as IPAM.Config (the user's spelling kept, gaps filled).
    ipam_config: list[dict[str, Any]] = field(default_factory=list)
    bridge: str = ""  # Linux bridge name (bridge driver only)
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    # True when the user chose the subnet (static --ip is only allowed then, as Docker).
    user_subnet: bool = False
    mtu: int = DEFAULT_MTU
    # IPv6 (EnableIPv6 networks): the same, for the network's IPv6 subnet
    subnet6: str = ""
    gateway6: str = ""
    ip_range6: str = ""
    user_subnet6: bool = False

    @property
    def predefined(self) -> bool:
        """bridge, host and none cannot be created or removed by users."""
        return self.name in PREDEFINED

    @property
    def is_bridge(self) -> bool:
        """Whether containers get a veth on a Linux bridge for this network."""
        return self.driver == "bridge"

    @property
    def user_defined(self) -> bool:
        """User-defined bridges resolve container names; the default bridge does not."""
        return self.is_bridge and self.name != "bridge"

    @property
    def masquerade(self) -> bool:
        """The network's own masquerade switch (the daemon's ip-masq is checked too)."""
        return self.options.get(OPT_MASQ, "true").lower() != "false"

    def user_subnets(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The subnets the user configured (static addresses must be inside one)."""
        out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        if self.user_subnet and self.subnet:
            out.append(ipaddress.ip_network(self.subnet))
        if self.user_subnet6 and self.subnet6:
            out.append(ipaddress.ip_network(self.subnet6))
        return out

    def shown_ipam_config(self) -> list[dict[str, Any]]:
        """IPAM.Config as inspect shows it: the IPv4 entry, then the IPv6 one."""
        out = [dict(c) for c in self.ipam_config if ":" not in str(c.get("Subnet", ""))]
        if self.subnet and not out:
            out.append({"Subnet": self.subnet, "Gateway": self.gateway})
        v6 = [dict(c) for c in self.ipam_config if ":" in str(c.get("Subnet", ""))]
        if self.subnet6 and not v6:
            v6.append({"Subnet": self.subnet6, "Gateway": self.gateway6})
        return out + v6

    def to_json(self) -> dict[str, Any]:
        """Serialisable form for the store."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Network:
        """Inverse of :meth:`to_json` (ignores unknown keys)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_docker(self, containers: dict[str, dict[str, str]] | None) -> dict[str, Any]:
        """Docker's Network JSON; ``containers`` None leaves ``Containers`` out (list)."""
        out: dict[str, Any] = {
            "Name": self.name,
            "Id": self.id,
            "Created": self.created,
            "Scope": "local",
            "Driver": self.driver,
            "EnableIPv4": self.driver == "bridge",
            "EnableIPv6": self.enable_ipv6,
            "IPAM": {
                "Driver": self.ipam_driver,
                "Options": dict(self.ipam_options) or None,
                "Config": self.shown_ipam_config(),
            },
            "Internal": self.internal,
            "Attachable": self.attachable,
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Options": dict(self.options),
            "Labels": dict(self.labels),
        }
        if containers is not None:
            out["Containers"] = containers
        return out


@dataclass
class Endpoint:
    """A container's attachment to a network while the container runs.

    For bridge networks the row *is* the IPAM allocation: (network_id, ip) is unique.
    """

    id: str
    network_id: str
    container_id: str
    container_name: str
    ifname: str = ""  # inside the container: eth0, eth1...
    host_ifname: str = ""  # host end of the veth
    ip: str = ""
    prefixlen: int = 0
    gateway: str = ""
    mac: str = ""
    aliases: list[str] = field(default_factory=list)
    dns_names: list[str] = field(default_factory=list)
    static_ip: str = ""
    default_route: bool = False  # this endpoint carries the container's default route
    ip6: str = ""
    prefixlen6: int = 0
    gateway6: str = ""
    default_route6: bool = False  # ... and its IPv6 default route
    # ``name:alias`` links of a user-defined network: aliases only this container resolves
    links: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Serialisable form for the store."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Endpoint:
        """Inverse of :meth:`to_json`."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def network_container(self) -> dict[str, str]:
        """The entry under a network's ``Containers``."""
        return {
            "Name": self.container_name,
            "EndpointID": self.id,
            "MacAddress": self.mac,
            "IPv4Address": f"{self.ip}/{self.prefixlen}" if self.ip else "",
            "IPv6Address": f"{self.ip6}/{self.prefixlen6}" if self.ip6 else "",
        }


@dataclass
class PortMapping:
    """One published port: host (ip, port) → container port."""

    proto: str
    container_port: int
    host_ip: str
    host_port: int

    def to_json(self) -> dict[str, Any]:
        """Serialisable form."""
        return asdict(self)


@dataclass
class Sandbox:
    """A running container's network namespace and what the engine set up in it."""

    container_id: str
    key: str  # SandboxID
    path: str  # the netns handle under <exec-root>/netns/
    dns: bool = False  # the embedded DNS server answers inside it
    ports: list[dict[str, Any]] = field(default_factory=list)  # PortMapping.to_json()
    owned: bool = True  # False for host and container:<id> modes (not our namespace)
    upstreams: list[str] = field(default_factory=list)  # resolvers the DNS server asks

    def to_json(self) -> dict[str, Any]:
        """Serialisable form for the store."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sandbox:
        """Inverse of :meth:`to_json`."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def port_mappings(self) -> list[PortMapping]:
        """The published ports as objects."""
        return [PortMapping(**p) for p in self.ports]


def endpoint_settings(
    net: Network | None, ep: Endpoint | None, wanted: dict[str, Any] | None
) -> dict[str, Any]:
    """A container's ``NetworkSettings.Networks[<name>]`` entry.

    ``wanted`` is the user's EndpointSettings (IPAMConfig, Aliases, Links, MacAddress,
    DriverOpts); ``ep`` the live endpoint, or None while the container is not running;
    ``net`` None for a network that does not exist (yet).
    """
    wanted = wanted or {}
    return {
        "IPAMConfig": wanted.get("IPAMConfig") or None,
        "Links": wanted.get("Links") or None,
        "Aliases": wanted.get("Aliases") or None,
        "MacAddress": ep.mac if ep else (wanted.get("MacAddress") or ""),
        "DriverOpts": wanted.get("DriverOpts") or None,
        "GwPriority": wanted.get("GwPriority") or 0,
        "NetworkID": net.id if net is not None else "",
        "EndpointID": ep.id if ep else "",
        "Gateway": ep.gateway if ep else "",
        "IPAddress": ep.ip if ep else "",
        "IPPrefixLen": ep.prefixlen if ep else 0,
        "IPv6Gateway": ep.gateway6 if ep else "",
        "GlobalIPv6Address": ep.ip6 if ep else "",
        "GlobalIPv6PrefixLen": ep.prefixlen6 if ep else 0,
        "DNSNames": (ep.dns_names or None) if ep else None,
    }
