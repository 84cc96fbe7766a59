"""Validation of ``POST /networks/create`` and the list/prune filters (pure functions)."""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..conventions import (
    check_filters,
    filter_bool,
    filter_timestamp,
    format_rfc3339,
    label_match,
    labels_accept,
    parse_rfc3339,
    string_map,
)
from ..errors import Forbidden, InvalidParameter, NotFound
from . import ipam
from .model import DEFAULT_MTU, OPT_BRIDGE_NAME, OPT_ENABLE_IPV6, OPT_MTU, PREDEFINED, Network

if TYPE_CHECKING:
    from .service import NetworkService

LIST_FILTERS = {"dangling", "driver", "id", "label", "name", "scope", "type"}
PRUNE_FILTERS = {"until", "label", "label!"}
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def network_from_request(body: dict[str, Any], svc: NetworkService) -> tuple[Network, str]:
    """A validated, not yet stored user network and the warning to return."""
    # dockerd refuses only names that are empty or blank, and the predefined ones:
    # spaces, slashes or any other characters are the user's business.
    name = body.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("invalid name: name is empty")
    if name in PREDEFINED or name == "default":
        # dockerd's wording, trailing space included
        raise Forbidden(f"operation is not permitted on predefined {name} network ")
    driver = body.get("Driver") or "bridge"
    if driver in ("host", "null"):
        raise Forbidden(f'only one instance of "{driver}" network is allowed')
    if driver != "bridge":
        raise NotFound(f'plugin "{driver}" not found')
    enable_ipv6 = body.get("EnableIPv6")
    if enable_ipv6 is None and (body.get("Options") or {}).get(OPT_ENABLE_IPV6) is not None:
        text = str(body["Options"][OPT_ENABLE_IPV6]).lower()
        if text not in ("1", "t", "true", "0", "f", "false"):
            raise InvalidParameter(f'driver-opt "{OPT_ENABLE_IPV6}" is not a valid bool')
        enable_ipv6 = text in ("1", "t", "true")
    if body.get("ConfigOnly") or body.get("ConfigFrom"):
        raise InvalidParameter("config-only networks are not supported")
    if body.get("Scope") not in (None, "", "local"):
        raise InvalidParameter(f"scope {body.get('Scope')!r} is not supported (only local)")
    options = string_map(body.get("Options"), "Options")
    labels = string_map(body.get("Labels"), "Labels")
    ipam_body = body.get("IPAM") or {}
    if not isinstance(ipam_body, dict):
        raise InvalidParameter("IPAM must be an object")
    ipam_driver = ipam_body.get("Driver") or "default"
    if ipam_driver != "default":
        raise NotFound(f'plugin "{ipam_driver}" not found')
    nid = secrets.token_hex(32)
    n = Network(
        id=nid,
        name=name,
        driver="bridge",
        created=format_rfc3339(),
        internal=bool(body.get("Internal")),
        attachable=bool(body.get("Attachable")),
        labels=labels,
        options=options,
        ipam_driver=ipam_driver,
        ipam_options=string_map(ipam_body.get("Options"), "IPAM.Options"),
        enable_ipv6=bool(enable_ipv6),
    )
    options.pop(OPT_ENABLE_IPV6, None)
    bridge = options.get(OPT_BRIDGE_NAME) or f"br-{nid[:12]}"
    if not IFNAME_RE.match(bridge):
        raise InvalidParameter(f"invalid bridge name {bridge!r}")
    if any(o.bridge == bridge for o in svc.networks.values()):
        raise Forbidden(f"bridge name {bridge} is already used by another network")
    n.bridge = bridge
    if options.get(OPT_MTU):
        try:
            n.mtu = int(options[OPT_MTU])
        except ValueError:
            raise InvalidParameter(f"invalid MTU {options[OPT_MTU]!r}") from None
        if not 68 <= n.mtu <= 65535:
            raise InvalidParameter(f"invalid MTU {n.mtu}")
    else:
        n.mtu = DEFAULT_MTU
    configs = ipam_body.get("Config") or []
    if not isinstance(configs, list):
        raise InvalidParameter("IPAM.Config must be a list")
    families = [_family(cfg) for cfg in configs]
    if families.count(4) > 1 or families.count(6) > 1:
        raise InvalidParameter(
            "only one IPv4 and one IPv6 IPAM configuration are supported per network"
        )
    for cfg, family in zip(configs, families, strict=True):
        if family == 6:
            if not n.enable_ipv6:
                # dockerd would keep and ignore it; a clear refusal loses nothing.
                raise InvalidParameter(
                    f"IPv6 subnet {cfg['Subnet']} needs an IPv6 network "
                    "(EnableIPv6, docker network create --ipv6)"
                )
            _apply_ipam_config6(n, cfg, svc)
        else:
            _apply_ipam_config(n, cfg, svc)
    return n, ""


def _family(cfg: Any) -> int:
    """4 or 6: the address family of one IPAM.Config entry (by its subnet)."""
    if not isinstance(cfg, dict):
        raise InvalidParameter("IPAM.Config entries must be objects")
    return 6 if ":" in str(cfg.get("Subnet") or "") else 4


def _apply_ipam_config6(n: Network, cfg: dict[str, Any], svc: NetworkService) -> None:
    net = ipam.parse_subnet6(cfg["Subnet"])
    for other in svc.networks.values():
        if other.subnet6 and net.overlaps(ipam.parse_subnet6(other.subnet6)):
            raise Forbidden(
                "invalid pool request: Pool overlaps with other one on this address space"
            )
    if cfg.get("Gateway"):
        gw = ipaddress.ip_address(_addr6(cfg["Gateway"], "gateway"))
        if gw not in net or gw == net.network_address:
            raise InvalidParameter(f"no matching subnet for gateway {gw}")
    else:
        gw = net.network_address + 1
    shown: dict[str, Any] = {"Subnet": cfg["Subnet"], "Gateway": str(gw)}
    if cfg.get("IPRange"):
        rng = ipam.parse_subnet6(cfg["IPRange"], "IP range")
        if not rng.subnet_of(net):
            raise InvalidParameter(f"no matching subnet for range {cfg['IPRange']}")
        n.ip_range6 = str(rng)
        shown["IPRange"] = cfg["IPRange"]
    n.subnet6 = str(net)
    n.gateway6 = str(gw)
    n.user_subnet6 = True
    n.ipam_config = [c for c in n.ipam_config if _family(c) == 4] + [shown]


def _addr6(text: str, what: str) -> str:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidParameter(f"invalid {what} {text}") from None
    if addr.version != 6:
        raise InvalidParameter(f"invalid {what} {text}: parent subnet is an IPv6 block")
    return str(addr)


def _apply_ipam_config(n: Network, cfg: Any, svc: NetworkService) -> None:
    if not isinstance(cfg, dict):
        raise InvalidParameter("IPAM.Config entries must be objects")
    if not cfg.get("Subnet"):
        if cfg.get("Gateway") or cfg.get("IPRange"):
            raise InvalidParameter("a gateway or IP range needs a subnet")
        return
    net = ipam.parse_subnet(cfg["Subnet"])
    for other in svc.networks.values():
        if other.subnet and net.overlaps(ipam.parse_subnet(other.subnet)):
            raise Forbidden(
                "invalid pool request: Pool overlaps with other one on this address space"
            )
    if cfg.get("Gateway"):
        gw = ipam.parse_addr(cfg["Gateway"], "gateway")
        if not ipam.usable(net, gw):
            raise InvalidParameter(f"no matching subnet for gateway {gw}")
    else:
        gw = next(net.hosts())
    shown: dict[str, Any] = {"Subnet": cfg["Subnet"], "Gateway": str(gw)}
    if cfg.get("IPRange"):
        rng = ipam.parse_subnet(cfg["IPRange"], "IP range")
        if not rng.subnet_of(net):
            raise InvalidParameter(f"no matching subnet for range {cfg['IPRange']}")
        n.ip_range = str(rng)
        shown["IPRange"] = cfg["IPRange"]
    if cfg.get("AuxiliaryAddresses"):
        shown["AuxiliaryAddresses"] = cfg["AuxiliaryAddresses"]
    n.subnet = str(net)
    n.gateway = str(gw)
    n.user_subnet = True
    n.ipam_config = [shown] + [c for c in n.ipam_config if _family(c) == 6]


def list_matcher(filters: dict[str, list[str]], svc: NetworkService) -> Callable[[Network], bool]:
    """A predicate implementing ``GET /networks`` filters."""
    check_filters(filters, LIST_FILTERS)
    for t in filters.get("type", []):
        if t not in ("custom", "builtin"):
            raise InvalidParameter(f"invalid filter: 'type'='{t}'")
    dangling = [filter_bool("dangling", v) for v in filters.get("dangling", [])]

    def accept(n: Network) -> bool:
        if filters.get("name") and not any(v in n.name for v in filters["name"]):
            return False
        if filters.get("id") and not any(n.id.startswith(v) for v in filters["id"]):
            return False
        if filters.get("driver") and n.driver not in filters["driver"]:
            return False
        if filters.get("scope") and "local" not in filters["scope"]:
            return False
        if filters.get("label") and not label_match(n.labels, filters["label"]):
            return False
        if filters.get("type"):
            kind = "builtin" if n.predefined else "custom"
            if kind not in filters["type"]:
                return False
        if dangling:
            unused = not n.predefined and not svc.endpoints_of(n.id)
            if unused != dangling[-1]:
                return False
        return True

    return accept


def prune_matcher(filters: dict[str, list[str]]) -> Callable[[Network], bool]:
    """A predicate implementing ``POST /networks/prune`` filters."""
    check_filters(filters, PRUNE_FILTERS)
    until = [filter_timestamp("until", v) for v in filters.get("until", [])]

    def accept(n: Network) -> bool:
        if until:
            if parse_rfc3339(n.created) >= min(until):
                return False
        return labels_accept(filters, n.labels)

    return accept
