"""What the networks code reads from a container object, and endpoint validation.

The containers service hands hooks its own Container objects; the agreed attributes are
``id``, ``name``, ``config``, ``host_config``, ``network_settings`` (see the hooks
addendum). The few others are read defensively here so the two services can evolve
separately: the container directory, the create request's NetworkingConfig.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter
from . import ipam
from .model import Network

if TYPE_CHECKING:
    from .service import NetworkService


def network_mode(c: Any) -> str:
    """HostConfig.NetworkMode with Docker's default spelled out (``bridge``)."""
    mode = (c.host_config or {}).get("NetworkMode") or "default"
    return "bridge" if mode == "default" else mode


def networking_config(c: Any) -> dict[str, Any]:
    """The create request's NetworkingConfig."""
    nc = getattr(c, "networking_config", None)
    if nc is None:
        nc = (getattr(c, "extra", None) or {}).get("networking_config")
    return nc or {}


def container_dir(svc: NetworkService, c: Any) -> Path:
    """``<data-root>/containers/<id>`` (where hosts and resolv.conf live)."""
    d = getattr(c, "dir", None)
    return Path(d) if d else svc.config.data_root / "containers" / c.id


def validate_endpoint(n: Network, cfg: dict[str, Any]) -> None:
    """Docker's rules for EndpointSettings on network ``n``."""
    if not isinstance(cfg, dict):
        raise InvalidParameter("EndpointSettings must be an object")
    ipam_cfg = cfg.get("IPAMConfig") or {}
    static = ipam_cfg.get("IPv4Address")
    if static:
        if not n.user_defined:
            raise InvalidParameter(
                "user specified IP address is supported on user defined networks only"
            )
        if not n.user_subnet:
            raise InvalidParameter(
                "user specified IP address is supported only when connecting to networks "
                "with user configured subnets"
            )
        ipam.validate_static(ipam.parse_subnet(n.subnet), n.gateway, static)
    if ipam_cfg.get("IPv6Address"):
        raise InvalidParameter("IPv6 addresses are not supported by Portside yet")
    aliases = cfg.get("Aliases") or []
    if aliases and not n.user_defined:
        raise InvalidParameter(
            "network-scoped alias is supported only for containers in user defined networks"
        )
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise InvalidParameter("Aliases must be a list of names")
    mac = cfg.get("MacAddress")
    if mac:
        parts = mac.split(":")
        if len(parts) != 6 or not all(len(p) == 2 for p in parts):
            raise InvalidParameter(f"invalid MAC address {mac}")
        try:
            first = int(parts[0], 16)
            for p in parts[1:]:
                int(p, 16)
        except ValueError:
            raise InvalidParameter(f"invalid MAC address {mac}") from None
        if first & 1:
            raise InvalidParameter(f"invalid MAC address {mac}: multicast")
