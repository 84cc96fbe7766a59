"""What the networks code reads from a container object, and endpoint validation.

Hooks get the containers service's own :class:`Container` records; what the networks
code keeps of its own lives in ``Container.extra`` (the create request's
NetworkingConfig, the MAC addresses asked for).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter
from . import ipam
from .model import Network

if TYPE_CHECKING:
    from ..containers.model import Container
    from .service import NetworkService


def network_mode(c: Container) -> str:
    """HostConfig.NetworkMode with Docker's default spelled out (``bridge``)."""
    mode = (c.host_config or {}).get("NetworkMode") or "default"
    return "bridge" if mode == "default" else mode


def networking_config(c: Container) -> dict[str, Any]:
    """The create request's NetworkingConfig."""
    nc: dict[str, Any] = c.extra.get("networking_config") or {}
    return nc


def hook_data(c: Container) -> dict[str, Any]:
    """The container's free-form ``extra`` slot, persisted with it, where the networks
    code keeps what is not Docker's JSON."""
    return c.extra


def desired_macs(c: Container) -> dict[str, str]:
    """The MAC address the user asked for on each network (by network name), as given;
    kept apart from NetworkSettings, which shows the address in use while running."""
    macs: dict[str, str] = hook_data(c).setdefault("desired_macs", {})
    return macs


def show_desired_mac(c: Container, primary: str) -> None:
    """``Config.MacAddress`` as dockerd's inspect shows it: the MAC asked for on the
    container's primary network ``primary`` (every API version)."""
    mac = desired_macs(c).get(primary) if primary else None
    if mac:
        c.config["MacAddress"] = mac
    else:
        c.config.pop("MacAddress", None)


MAC_DEPRECATED = (
    "The container-wide MacAddress field is now deprecated. It should be specified in "
    "EndpointsConfig instead."
)


def migrate_mac_address(body: dict[str, Any], version: tuple[int, ...]) -> str:
    """Move a create request's container-wide ``MacAddress`` into the primary network's
    EndpointSettings as dockerd does (API < 1.44 only knew the container-wide field;
    later versions take it per endpoint). Returns dockerd's warning, or ""."""
    hc = body.get("HostConfig") or {}
    mode = hc.get("NetworkMode") or "default"
    name = "bridge" if mode == "default" else mode
    bridged = name not in ("host", "none") and not name.startswith("container:")
    nc = body.get("NetworkingConfig") or {}
    eps = nc.get("EndpointsConfig") or {}
    if not isinstance(eps, dict):
        raise InvalidParameter("NetworkingConfig.EndpointsConfig must be an object")
    mac = body.get("MacAddress") or ""
    old = version < (1, 44)
    if not mac:
        if old:  # the old API ignored per-endpoint MACs
            for settings in eps.values():
                if isinstance(settings, dict):
                    settings.pop("MacAddress", None)
        return ""
    if not bridged:
        if old:
            raise InvalidParameter("conflicting options: mac-address and the network mode")
        body.pop("MacAddress", None)
        return MAC_DEPRECATED
    ep: Any
    if not eps:
        ep = eps[name] = {}
    elif old:
        ep = next(iter(eps.values()))
    else:
        key = name if name in eps or name != "bridge" else "default"
        ep = eps.get(key)
        if ep is None:
            raise InvalidParameter(
                "unable to migrate container-wide MAC address to a specific network: "
                "HostConfig.NetworkMode must match the identity of a network in "
                "NetworkSettings.Networks"
            )
    if not isinstance(ep, dict):
        raise InvalidParameter("EndpointSettings must be an object")
    if old or not ep.get("MacAddress"):
        ep["MacAddress"] = mac
    elif ep["MacAddress"] != mac:
        raise InvalidParameter(
            "the container-wide MAC address must match the endpoint-specific MAC address "
            "for the main network, or be left empty"
        )
    body["NetworkingConfig"] = {**nc, "EndpointsConfig": eps}
    if old:
        return ""
    body.pop("MacAddress", None)
    return MAC_DEPRECATED


def container_dir(svc: NetworkService, c: Container) -> Path:
    """``<data-root>/containers/<id>`` (where hosts and resolv.conf live)."""
    return svc.config.data_root / "containers" / c.id


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
