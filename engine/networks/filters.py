"""Validation of ``POST /networks/create`` and the list/prune filters (pure functions)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import Forbidden, InvalidParameter, NotFound
from . import ipam
from .model import DEFAULT_MTU, OPT_BRIDGE_NAME, OPT_MTU, PREDEFINED, Network

if TYPE_CHECKING:
    from .service import NetworkService

LIST_FILTERS = {"dangling", "driver", "id", "label", "name", "scope", "type"}
PRUNE_FILTERS = {"until", "label", "label!"}
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def now_rfc3339(ts: float | None = None) -> str:
    """Docker's RFC3339Nano timestamp (UTC)."""
    ns = time.time_ns() if ts is None else int(ts * 1e9)
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def _str_map(v: Any, what: str) -> dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise InvalidParameter(f"{what} must be an object of strings")
    return {str(k): str(x) for k, x in v.items()}


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
    if body.get("EnableIPv6"):
        raise InvalidParameter("IPv6 networks are not supported by Portside yet")
    if body.get("ConfigOnly") or body.get("ConfigFrom"):
        raise InvalidParameter("config-only networks are not supported")
    if body.get("Scope") not in (None, "", "local"):
        raise InvalidParameter(f"scope {body.get('Scope')!r} is not supported (only local)")
    options = _str_map(body.get("Options"), "Options")
    labels = _str_map(body.get("Labels"), "Labels")
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
        created=now_rfc3339(),
        internal=bool(body.get("Internal")),
        attachable=bool(body.get("Attachable")),
        labels=labels,
        options=options,
        ipam_driver=ipam_driver,
        ipam_options=_str_map(ipam_body.get("Options"), "IPAM.Options"),
    )
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
    if len(configs) > 1:
        raise InvalidParameter("only one IPv4 IPAM configuration is supported per network")
    for cfg in configs:
        _apply_ipam_config(n, cfg, svc)
    return n, ""


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
    n.ipam_config = [shown]


def _check(filters: dict[str, list[str]], allowed: set[str]) -> None:
    for key in filters:
        if key not in allowed:
            raise InvalidParameter(f"invalid filter '{key}'")


def _bool(v: str, key: str) -> bool:
    low = v.lower()
    if low in ("1", "true"):
        return True
    if low in ("0", "false"):
        return False
    raise InvalidParameter(f"invalid filter '{key}={v}'")


def _labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for w in wanted:
        key, eq, value = w.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def list_matcher(filters: dict[str, list[str]], svc: NetworkService) -> Callable[[Network], bool]:
    """A predicate implementing ``GET /networks`` filters."""
    _check(filters, LIST_FILTERS)
    for t in filters.get("type", []):
        if t not in ("custom", "builtin"):
            raise InvalidParameter(f"invalid filter: 'type'='{t}'")
    dangling = [_bool(v, "dangling") for v in filters.get("dangling", [])]

    def accept(n: Network) -> bool:
        if filters.get("name") and not any(v in n.name for v in filters["name"]):
            return False
        if filters.get("id") and not any(n.id.startswith(v) for v in filters["id"]):
            return False
        if filters.get("driver") and n.driver not in filters["driver"]:
            return False
        if filters.get("scope") and "local" not in filters["scope"]:
            return False
        if filters.get("label") and not _labels_match(n.labels, filters["label"]):
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


def parse_rfc3339(value: str) -> float:
    """Seconds since the epoch of an RFC3339(Nano) time (0 for Docker's zero time)."""
    if not value or value.startswith("0001-"):
        return 0.0
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", value)
    if not m:
        raise ValueError(value)
    frac = ("." + m.group(2)[:6]) if m.group(2) else ""
    tz = (m.group(3) or "Z").replace("Z", "+00:00")
    text = m.group(1) + frac + tz
    return datetime.fromisoformat(text).timestamp()


def _until(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value)
    if m:
        mult = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        return time.time() - float(m.group(1)) * mult
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise InvalidParameter(f"invalid filter 'until={value}'") from None


def prune_matcher(filters: dict[str, list[str]]) -> Callable[[Network], bool]:
    """A predicate implementing ``POST /networks/prune`` filters."""
    _check(filters, PRUNE_FILTERS)
    until = [_until(v) for v in filters.get("until", [])]

    def accept(n: Network) -> bool:
        if until:
            if parse_rfc3339(n.created) >= min(until):
                return False
        if filters.get("label") and not _labels_match(n.labels, filters["label"]):
            return False
        if filters.get("label!") and any(_labels_match(n.labels, [w]) for w in filters["label!"]):
            return False
        return True

    return accept
