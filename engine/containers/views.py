"""Docker's JSON shapes for containers: ContainerSummary (list) and inspect."""

from __future__ import annotations

import math
import time
from typing import Any

from ..conventions import parse_rfc3339
from .health_state import health_json, status_suffix
from .model import (
    CREATED,
    DEAD,
    EXITED,
    PAUSED,
    REMOVING,
    RESTARTING,
    RUNNING,
    Container,
    Paths,
)

HOST_CONFIG_DEFAULTS: dict[str, Any] = {
    "Binds": None,
    "ContainerIDFile": "",
    "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "bridge",
    "PortBindings": {},
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "AutoRemove": False,
    "VolumeDriver": "",
    "VolumesFrom": None,
    "ConsoleSize": [0, 0],
    "CapAdd": None,
    "CapDrop": None,
    "CgroupnsMode": "private",
    "Dns": [],
    "DnsOptions": [],
    "DnsSearch": [],
    "ExtraHosts": None,
    "GroupAdd": None,
    "IpcMode": "private",
    "Cgroup": "",
    "Links": None,
    "OomScoreAdj": 0,
    "PidMode": "",
    "Privileged": False,
    "PublishAllPorts": False,
    "ReadonlyRootfs": False,
    "SecurityOpt": None,
    "UTSMode": "",
    "UsernsMode": "",
    "ShmSize": 67108864,
    "Runtime": "runc",
    "Isolation": "",
    "CpuShares": 0,
    "Memory": 0,
    "NanoCpus": 0,
    "CgroupParent": "",
    "BlkioWeight": 0,
    "BlkioWeightDevice": [],
    "BlkioDeviceReadBps": [],
    "BlkioDeviceWriteBps": [],
    "BlkioDeviceReadIOps": [],
    "BlkioDeviceWriteIOps": [],
    "CpuPeriod": 0,
    "CpuQuota": 0,
    "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0,
    "CpusetCpus": "",
    "CpusetMems": "",
    "Devices": [],
    "DeviceCgroupRules": None,
    "DeviceRequests": None,
    "MemoryReservation": 0,
    "MemorySwap": 0,
    "MemorySwappiness": None,
    "OomKillDisable": False,
    "PidsLimit": None,
    "Ulimits": [],
    "CpuCount": 0,
    "CpuPercent": 0,
    "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0,
    "MaskedPaths": [],
    "ReadonlyPaths": [],
    "Init": None,
}


def human_duration(seconds: float) -> str:
    """Go's ``units.HumanDuration`` (what ``docker ps`` prints)."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = int(seconds / 60)
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = int(seconds / 3600 + 0.5)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def status_text(c: Container) -> str:
    """``docker ps`` STATUS column."""
    st = c.state
    now = time.time()
    if st.status in (RUNNING, PAUSED):
        text = "Up " + human_duration(now - parse_rfc3339(st.started_at))
        return text + " (Paused)" if st.status == PAUSED else text + status_suffix(c)
    if st.status == RESTARTING:
        ago = human_duration(now - parse_rfc3339(st.finished_at))
        return f"Restarting ({st.exit_code}) {ago} ago"
    if st.status == REMOVING:
        return "Removal In Progress"
    if st.status == DEAD:
        return "Dead"
    if st.status == CREATED or parse_rfc3339(st.finished_at) == 0:
        return "Created"
    return f"Exited ({st.exit_code}) {human_duration(now - parse_rfc3339(st.finished_at))} ago"


def _next_duration_change(seconds: float) -> float:
    """The smallest age past ``seconds`` at which :func:`human_duration` may read
    otherwise (earlier is fine: it only costs a rebuild)."""
    if seconds < 60:
        return math.floor(seconds) + 1
    if seconds < 3600:
        return (math.floor(seconds / 60) + 1) * 60
    return (math.floor(seconds / 3600 + 0.5) + 0.5) * 3600


def status_valid_until(c: Container, now: float) -> float:
    """The wall-clock time before which :func:`status_text` reads as it does at ``now``
    (math.inf for a status without a duration); as long as the record does not change."""
    st = c.state
    if st.status in (RUNNING, PAUSED):
        since = parse_rfc3339(st.started_at)
    elif st.status in (REMOVING, DEAD, CREATED):
        return math.inf
    else:
        since = parse_rfc3339(st.finished_at)
        if since == 0 and st.status != RESTARTING:
            return math.inf  # "Created"
    # A millisecond early: the float sums here and in status_text may round apart.
    return since + _next_duration_change(now - since) - 0.001


def network_mode(c: Container) -> str:
    """HostConfig.NetworkMode as Docker reports it ("default" shows as "bridge")."""
    mode = c.host_config.get("NetworkMode") or "default"
    return "bridge" if mode == "default" else mode


def _endpoint() -> dict[str, Any]:
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": None,
        "MacAddress": "",
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DriverOpts": None,
        "DNSNames": None,
    }


def networks(c: Container) -> dict[str, Any]:
    """NetworkSettings.Networks: what hooks recorded, else one empty endpoint."""
    nets = c.network_settings.get("Networks")
    if nets is not None:
        return dict(nets)
    return {network_mode(c): _endpoint()}


def summary(c: Container, size: tuple[int, int] | None = None) -> dict[str, Any]:
    """ContainerSummary for ``GET /containers/json``."""
    ports = c.network_settings.get("PortsSummary") or []
    out: dict[str, Any] = {
        "Id": c.id,
        "Names": ["/" + c.name],
        "Image": c.image or c.image_id,
        "ImageID": c.image_id,
        "Command": " ".join([c.path, *c.args]),
        "Created": int(parse_rfc3339(c.created)),
        "Ports": ports,
        "Labels": c.labels,
        "State": c.state.status,
        "Status": status_text(c),
        "HostConfig": {"NetworkMode": network_mode(c)},
        "NetworkSettings": {"Networks": networks(c)},
        "Mounts": [dict(m) for m in c.mounts],
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out


def inspect(
    c: Container, paths: Paths, lower_dirs: list[str], runtime: str, size: tuple[int, int] | None
) -> dict[str, Any]:
    """ContainerInspectResponse for ``GET /containers/{id}/json``."""
    hc = dict(HOST_CONFIG_DEFAULTS)
    hc.update(c.host_config)
    hc["NetworkMode"] = network_mode(c)
    hc["Runtime"] = runtime
    cfg = dict(c.config)
    cfg.setdefault("Hostname", c.id[:12])
    if not cfg.get("Hostname"):
        cfg["Hostname"] = c.id[:12]
    nets = networks(c)
    primary = next(iter(nets.values()), _endpoint())
    out: dict[str, Any] = {
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": list(c.args),
        "State": {**c.state.to_docker(), **_health(c)},
        "Image": c.image_id,
        "ResolvConfPath": str(paths.resolv),
        "HostnamePath": str(paths.hostname),
        "HostsPath": str(paths.hosts),
        # dockerd names the file for json-file only (local's is its own format)
        "LogPath": str(paths.log) if _log_type(c) == "json-file" else "",
        "Name": "/" + c.name,
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": hc,
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {
                "LowerDir": ":".join(lower_dirs),
                "MergedDir": str(paths.rootfs),
                "UpperDir": str(paths.upper),
                "WorkDir": str(paths.work),
            },
        },
        "Mounts": [dict(m) for m in c.mounts],
        "Config": cfg,
        "NetworkSettings": {
            "Bridge": "",
            "SandboxID": c.network_settings.get("SandboxID", ""),
            "SandboxKey": c.network_settings.get("SandboxKey", ""),
            "HairpinMode": False,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Ports": c.network_settings.get("Ports") or {},
            "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None,
            "EndpointID": primary.get("EndpointID", ""),
            "Gateway": primary.get("Gateway", ""),
            "GlobalIPv6Address": primary.get("GlobalIPv6Address", ""),
            "GlobalIPv6PrefixLen": primary.get("GlobalIPv6PrefixLen", 0),
            "IPAddress": primary.get("IPAddress", ""),
            "IPPrefixLen": primary.get("IPPrefixLen", 0),
            "IPv6Gateway": primary.get("IPv6Gateway", ""),
            "MacAddress": primary.get("MacAddress", ""),
            "Networks": nets,
        },
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out


def _health(c: Container) -> dict[str, Any]:
    h = health_json(c)
    return {"Health": h} if h else {}


STATUSES = (CREATED, RESTARTING, RUNNING, REMOVING, PAUSED, EXITED, DEAD)


def _log_type(c: Container) -> str:
    return str((c.host_config.get("LogConfig") or {}).get("Type") or "json-file")
