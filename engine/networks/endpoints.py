"""What the networks code reads from a container object, and endpoint validation.

The containers service hands hooks its own Container objects; the agreed attributes are
``id``, ``name``, ``config``, ``host_config``, ``network_settings`` (see the hooks
addendum). The few others are read defensively here so the two services can evolve
separately: the container directory, the create request's NetworkingConfig.
"""

from __future__ import annotations

import ipaddress
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


def validate_endpoint(n: Network | None, cfg: dict[str, Any]) -> None:
    """dockerd's rules for EndpointSettings on network ``n`` (None: a network that does
    not exist yet, so only the form of the settings is checked), in its wording: the
    problems found are listed under ``invalid endpoint settings:``."""
    if not isinstance(cfg, dict):
        raise InvalidParameter("EndpointSettings must be an object")
    ipam_cfg = cfg.get("IPAMConfig") or {}
    if not isinstance(ipam_cfg, dict):
        raise InvalidParameter("IPAMConfig must be an object")
    errs: list[str] = []
    aliases = cfg.get("Aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise InvalidParameter("Aliases must be a list of names")
    if n is not None and not n.user_defined:
        if ipam_cfg.get("IPv4Address") or ipam_cfg.get("IPv6Address"):
            errs.append("user specified IP address is supported on user defined networks only")
        if aliases:
            errs.append(
                "network-scoped alias is supported only for containers in user defined networks"
            )
    errs += _static_address_errors(n, ipam_cfg)
    mac = cfg.get("MacAddress")
    if mac:
        ipam.parse_mac(mac)
    if errs:
        raise InvalidParameter("invalid endpoint settings:\n" + "\n".join(errs))


def _static_address_errors(n: Network | None, ipam_cfg: dict[str, Any]) -> list[str]:
    """What is wrong with ``--ip``/``--ip6`` for ``n`` (moby's IPAMConfig checks: the
    form of each address, then whether a subnet the user configured contains it)."""
    errs: list[str] = []
    for key, version in (("IPv4Address", 4), ("IPv6Address", 6)):
        text = ipam_cfg.get(key)
        if not text:
            continue
        try:
            addr = ipaddress.ip_address(str(text))
        except ValueError:
            addr = None
        if addr is None or addr.version != version or addr.is_unspecified:
            errs.append(f"invalid IPv{version} address: {text}")
            continue
        if n is None:
            continue
        subnets = [s for s in n.user_subnets() if s.version == version]
        if not subnets:
            errs.append(
                "user specified IP address is supported only when connecting to networks "
                "with user configured subnets"
            )
        elif not any(addr in s for s in subnets):
            errs.append(f"no configured subnet or ip-range contain the IP address {text}")
    return errs
