"""System routes: _ping, version, info, system/df, events."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import Any

from .. import API_VERSION, MIN_API_VERSION, __version__
from ..containers import LOG_DRIVERS
from ..conventions import check_filters, format_rfc3339, label_match, parse_timestamp
from ..engine import Engine
from ..errors import InvalidParameter
from ..system import Event, hostinfo
from . import web
from .context import engine_of
from .http import ndjson_response, ok_json, qfilters, write_json_line
from .router import Router


async def ping(request: web.Request) -> web.Response:
    """``GET/HEAD /_ping``: the CLI's first call; headers carry the API version."""
    headers = {
        "Cache-Control": "no-cache, no-store, must-revalidate",
        "Pragma": "no-cache",
        # Only the classic builder is served: the CLI then never tries BuildKit.
        "Builder-Version": "1",
    }
    body = b"" if request.method == "HEAD" else b"OK"
    return web.Response(body=body, content_type="text/plain", headers=headers)


async def version(request: web.Request) -> web.Response:
    """``GET /version``."""
    engine = engine_of(request)
    kernel = platform.release()
    rt = engine.runtime
    return ok_json(
        {
            "Platform": {"Name": "Portside Engine"},
            "Components": [
                {
                    "Name": "Engine",
                    "Version": __version__,
                    "Details": {
                        "ApiVersion": API_VERSION,
                        "MinAPIVersion": MIN_API_VERSION,
                        "Os": "linux",
                        "Arch": hostinfo.go_arch(),
                        "KernelVersion": kernel,
                        "PythonVersion": platform.python_version(),
                    },
                },
                {"Name": rt.name, "Version": rt.version, "Details": {"path": rt.path}},
                {"Name": "conmon", "Version": rt.conmon_version, "Details": {}},
            ],
            "Version": __version__,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "portside",
            "GoVersion": f"python{platform.python_version()}",
            "Os": "linux",
            "Arch": hostinfo.go_arch(),
            "KernelVersion": kernel,
            "BuildTime": "",
        }
    )


async def info(request: web.Request) -> web.Response:
    """``GET /info``: counts from the services, facts about the host."""
    engine = engine_of(request)
    cfg = engine.config
    counts = engine.containers.counts()
    rt = engine.runtime
    return ok_json(
        {
            "ID": hostinfo.engine_id(cfg.data_root),
            "Containers": counts["total"],
            "ContainersRunning": counts["running"],
            "ContainersPaused": counts["paused"],
            "ContainersStopped": counts["stopped"],
            "Images": engine.images.count(),
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", hostinfo.fs_type(cfg.data_root)]],
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "none"],
                "Authorization": None,
                "Log": list(LOG_DRIVERS),
            },
            "MemoryLimit": True,
            "SwapLimit": True,
            "CpuCfsPeriod": True,
            "CpuCfsQuota": True,
            "CPUShares": True,
            "CPUSet": True,
            "PidsLimit": True,
            "OomKillDisable": False,
            "IPv4Forwarding": hostinfo.ip_forwarding(),
            "Debug": cfg.log_level == "debug",
            "NFd": hostinfo.open_fds(),
            "NGoroutines": 0,
            "SystemTime": format_rfc3339(int(time.time())),
            "LoggingDriver": cfg.log_driver,
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": hostinfo.cgroup_version(),
            "NEventsListener": 0,
            "KernelVersion": platform.release(),
            "OperatingSystem": hostinfo.os_name(),
            "OSVersion": hostinfo.os_version(),
            "OSType": "linux",
            "Architecture": platform.machine(),
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": _registry_config(engine),
            "NCPU": os.cpu_count() or 1,
            "MemTotal": hostinfo.mem_total(),
            "DockerRootDir": str(cfg.data_root),
            "Name": platform.node(),
            "Labels": [],
            "ExperimentalBuild": True,  # the classic builder's squash is served
            "ServerVersion": __version__,
            # every runtime this host can run, the engine's own (DefaultRuntime) among them
            "Runtimes": {
                n: {"path": p} for n, p in sorted({**rt.usable, rt.name: rt.path}.items())
            },
            "DefaultRuntime": rt.name,
            "LiveRestoreEnabled": True,
            "Isolation": "",
            "InitBinary": "",
            "SecurityOptions": ["name=seccomp,profile=builtin"],
            "Swarm": {
                "NodeID": "",
                "NodeAddr": "",
                "LocalNodeState": "inactive",
                "ControlAvailable": False,
                "Error": "",
                "RemoteManagers": None,
            },
            "Warnings": list(rt.warnings),
        }
    )


async def system_df(request: web.Request) -> web.Response:
    """``GET /system/df``: images, containers (and, later, volumes) with their sizes."""
    engine = engine_of(request)
    images = await engine.images.df()
    return ok_json(
        {
            "LayersSize": sum(i.get("Size", 0) for i in images),
            "Images": images,
            "Containers": await engine.containers.df(),
            "Volumes": await engine.volumes.df(),
            "BuildCache": engine.builder.df(),
        }
    )


def _registry_config(engine: Engine) -> dict[str, Any]:
    """``RegistryConfig`` of ``/info`` from the registries the engine really uses."""
    reg = engine.distribution.registries
    cidrs = [str(n) for n in reg.insecure_nets]
    index_configs = {
        host: {"Name": host, "Mirrors": [], "Secure": False, "Official": False}
        for host in sorted(reg.insecure_hosts)
    }
    index_configs["docker.io"] = {
        "Name": "docker.io",
        "Mirrors": list(engine.config.registry_mirrors),
        "Secure": True,
        "Official": True,
    }
    return {
        "InsecureRegistryCIDRs": cidrs,
        "IndexConfigs": index_configs,
        "Mirrors": list(engine.config.registry_mirrors),
    }


def _ts_to_ns(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(parse_timestamp(raw) * 1e9)
    except ValueError:
        raise InvalidParameter(f"invalid timestamp {raw!r} for {name}") from None


_EVENT_FILTERS = {"type", "event", "container", "image", "label", "network", "volume", "daemon"}


def _event_matcher(filters: dict[str, list[str]]) -> Callable[[Event], bool]:
    def accept(e: Event) -> bool:
        if "type" in filters and e.type not in filters["type"]:
            return False
        if "event" in filters and e.action.split(":")[0] not in filters["event"]:
            return False
        for kind in ("container", "image", "network", "volume"):
            if kind in filters:
                if e.type != kind:
                    return False
                names = {e.actor_id, e.actor_id[:12], e.attributes.get("name", "")}
                if not names & set(filters[kind]):
                    return False
        return label_match(e.attributes, filters.get("label", []))

    return accept


async def events(request: web.Request) -> web.StreamResponse:
    """``GET /events``: NDJSON, history since ``since``, live until ``until``."""
    engine = engine_of(request)
    since = _ts_to_ns(request.query.get("since"), "since")
    until = _ts_to_ns(request.query.get("until"), "until")
    filters = qfilters(request)
    check_filters(filters, _EVENT_FILTERS)
    request.cancel_on_disconnect()  # a quiet stream would otherwise outlive its client
    resp = await ndjson_response(request)
    async for ev in engine.events.stream(since, until, _event_matcher(filters)):
        await write_json_line(resp, ev.to_docker())
    await resp.write_eof()
    return resp


def register(r: Router) -> None:
    """Add the system routes."""
    r.get("/_ping", ping, at_once=True)
    r.head("/_ping", ping, at_once=True)
    r.get("/version", version, at_once=True)
    r.get("/info", info)
    r.get("/system/df", system_df)
    r.get("/events", events)
