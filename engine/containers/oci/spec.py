"""OCI runtime spec (config.json) generation, mirroring moby's defaults.

``build_spec`` is a pure function of a :class:`SpecInput` plus a few read-only facts
about the host (the engine's own rlimits and capabilities, the cgroup mode, the
rootfs's /etc/passwd and /etc/group). It never touches the network or cgroups. The
result works with runc 1.1 on cgroup v1, hybrid and pure v2 hosts: it only uses
fields runc 1.1 knows and leaves out settings the host cannot honour (swap limits
without swap accounting, swappiness on v2, rlimits above the engine's own).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import InvalidParameter
from . import spec_resources as res
from .caps import available_caps, engine_has_cap, resolve_caps
from .seccomp import from_security_opts, parse_security_opts
from .spec_mounts import INIT_PATH_IN_CONTAINER, build_mounts, merge_tmpfs_options
from .usermap import resolve_user

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Static init binaries, in order of preference (Debian's tini package ships tini-static).
INIT_CANDIDATES = ("docker-init", "tini-static", "tini")

DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
)
DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)
# Mounts a read-only rootfs leaves writable (moby's WithMounts).


@dataclass
class SpecInput:
    """Everything ``build_spec`` needs about one container.

    ``host_config`` is Docker's HostConfig JSON exactly as the client sent it (keys such
    as ``Memory``, ``NanoCpus``, ``CapAdd``, ``Privileged``, ``Ulimits``, ``SecurityOpt``,
    ``Tmpfs``, ``Devices``, ``NetworkMode``...). Missing keys mean Docker's defaults.
    """

    id: str
    rootfs: Path
    args: list[str]
    name: str = ""
    hostname: str = ""
    domainname: str = ""
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    tty: bool = False
    open_stdin: bool = False
    host_config: dict[str, Any] = field(default_factory=dict)
    # Join this network namespace; None means a new one (none at all for NetworkMode=host).
    # Required for NetworkMode "container:<id>" (e.g. /proc/<pid>/ns/net).
    netns_path: str | None = None
    hosts_file: Path | None = None
    resolv_file: Path | None = None
    hostname_file: Path | None = None
    # e.g. "/portside/<id>"; empty lets the runtime choose.
    cgroups_path: str = ""
    # OCI mounts (volumes, binds) appended after the defaults; same destination wins.
    extra_mounts: list[dict[str, Any]] = field(default_factory=list)
    # Host path of a static init (tini-static); used when HostConfig.Init is true.
    # None: look for docker-init / tini-static / tini on PATH.
    init_path: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    stop_signal: str | None = None
    # Docker architecture name for the seccomp filter ("amd64", "arm64"); None = host.
    arch: str | None = None
    # Namespace paths for IpcMode / PidMode "container:<id>" (/proc/<pid>/ns/ipc|pid).
    ipc_ns_path: str | None = None
    pid_ns_path: str | None = None
    # Host directory to bind at /dev/shm instead of a private tmpfs (IpcMode
    # "shareable"/"container:<id>" sharing); IpcMode "host" binds the host's /dev/shm.
    shm_path: Path | None = None


def find_init_binary() -> str | None:
    """The host path of a static init for ``--init`` (docker-init or tini-static)."""
    for name in INIT_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """moby's ReplaceOrAppendEnvValues: ``overrides`` replace same-named entries in
    place or are appended; a bare ``NAME`` (no ``=``) removes NAME."""
    out = list(base)
    index = {e.split("=", 1)[0]: i for i, e in enumerate(out)}
    removed: set[int] = set()
    for item in overrides:
        key = item.split("=", 1)[0]
        if "=" not in item:
            if key in index:
                removed.add(index[key])
            continue
        if key in index and index[key] not in removed:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return [e for i, e in enumerate(out) if i not in removed]


def _mode(hc: dict[str, Any], key: str) -> str:
    value = hc.get(key) or ""
    if not isinstance(value, str):
        raise InvalidParameter(f"invalid {key}: {value!r}")
    return value


def _namespaces(inp: SpecInput, hc: dict[str, Any], unified: bool) -> list[dict[str, str]]:
    ns: list[dict[str, str]] = [{"type": "mount"}]
    net = _mode(hc, "NetworkMode")
    if net != "host":
        entry = {"type": "network"}
        if inp.netns_path:
            entry["path"] = inp.netns_path
        elif net.startswith("container:"):
            raise InvalidParameter(f"cannot join network of {net}: no namespace path")
        ns.append(entry)
    uts = _mode(hc, "UTSMode")
    if uts not in ("", "host"):
        raise InvalidParameter(f"invalid UTS mode: {uts}")
    if uts != "host":
        ns.append({"type": "uts"})
    pid = _mode(hc, "PidMode")
    if pid.startswith("container:"):
        if not inp.pid_ns_path:
            raise InvalidParameter(f"cannot join PID of {pid}: no namespace path")
        ns.append({"type": "pid", "path": inp.pid_ns_path})
    elif pid == "":
        ns.append({"type": "pid"})
    elif pid != "host":
        raise InvalidParameter(f"invalid PID mode: {pid}")
    ipc = _mode(hc, "IpcMode")
    if ipc.startswith("container:"):
        if not inp.ipc_ns_path:
            raise InvalidParameter(f"invalid IPC mode: {ipc}: no namespace path")
        ns.append({"type": "ipc", "path": inp.ipc_ns_path})
    elif ipc in ("", "private", "shareable", "none"):
        ns.append({"type": "ipc"})
    elif ipc != "host":
        raise InvalidParameter(f"invalid IPC mode: {ipc}")
    cgroupns = _mode(hc, "CgroupnsMode")
    if cgroupns not in ("", "private", "host"):
        raise InvalidParameter(f"invalid cgroup namespace mode: {cgroupns}")
    # Docker's default is a private cgroup namespace on cgroup v2 and the host's on v1.
    if cgroupns == "private" or (cgroupns == "" and unified):
        ns.append({"type": "cgroup"})
    return ns


def _masked_and_readonly(hc: dict[str, Any], sec: dict[str, Any]) -> tuple[list[str], list[str]]:
    if sec.get("systempaths") == "unconfined":
        return [], []
    masked = hc.get("MaskedPaths")
    if masked is None:
        masked = list(DEFAULT_MASKED_PATHS)
        # Per-CPU thermal throttle counters leak host activity (moby GHSA-6fw5-f8r9-fgfm).
        cpu_root = Path("/sys/devices/system/cpu")
        try:
            cpus = sorted(
                (p for p in cpu_root.glob("cpu[0-9]*") if p.name[3:].isdigit()),
                key=lambda p: int(p.name[3:]),
            )
        except OSError:
            cpus = []
        masked += [str(p / "thermal_throttle") for p in cpus if (p / "thermal_throttle").exists()]
    readonly = hc.get("ReadonlyPaths")
    if readonly is None:
        readonly = list(DEFAULT_READONLY_PATHS)
    return list(masked), list(readonly)


def _oom_score_adj(hc: dict[str, Any]) -> int:
    value = res._int(hc, "OomScoreAdj")
    if not -1000 <= value <= 1000:
        raise InvalidParameter(f"Invalid value {value}, range for oom score adj is [-1000, 1000]")
    if not engine_has_cap("CAP_SYS_RESOURCE"):
        # Lowering oom_score_adj needs CAP_SYS_RESOURCE, which this engine may lack;
        # like rlimits, clamp to what the runtime can actually set.
        try:
            own = int(Path("/proc/self/oom_score_adj").read_text().strip())
        except (OSError, ValueError):
            own = 0
        value = max(value, own)
    return value


def _sysctls(hc: dict[str, Any]) -> dict[str, str]:
    sysctl: dict[str, str] = {}
    net = _mode(hc, "NetworkMode")
    if net != "host" and not net.startswith("container:"):
        # moby's defaults for a private network namespace: unprivileged ICMP echo
        # sockets and binding ports below 1024 without CAP_NET_BIND_SERVICE.
        if Path("/proc/sys/net/ipv4/ping_group_range").exists():
            sysctl["net.ipv4.ping_group_range"] = "0 2147483647"
        if Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").exists():
            sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
    extra = hc.get("Sysctls") or {}
    if not isinstance(extra, dict):
        raise InvalidParameter("invalid Sysctls: must be an object")
    sysctl.update({str(k): str(v) for k, v in extra.items()})
    return sysctl


def _devices(hc: dict[str, Any], privileged: bool) -> tuple[list[dict], list[dict]]:
    devices: list[dict[str, Any]] = []
    if privileged:
        devices = res.host_devices()
        seen = {d["path"] for d in devices}
        for dm in hc.get("Devices") or []:
            host, ctr = dm.get("PathOnHost", ""), dm.get("PathInContainer", "")
            if not ctr or ctr == host:
                continue
            devs, _ = res.devices_from_path(host, ctr, "rwm")
            devices += [d for d in devs if d["path"] not in seen]
        return devices, [{"allow": True, "access": "rwm"}]
    rules = [dict(r) for r in res.DEFAULT_DEVICE_RULES]
    for dm in hc.get("Devices") or []:
        devs, perms = res.devices_from_path(
            dm.get("PathOnHost", ""), dm.get("PathInContainer", ""),
            dm.get("CgroupPermissions") or "rwm",
        )  # fmt: skip
        devices += devs
        rules += perms
    rules += [res.cgroup_rule(r) for r in hc.get("DeviceCgroupRules") or []]
    return devices, rules


def _capabilities(caps: list[str], uid: int) -> dict[str, list[str]]:
    # moby's SetCapabilities: a non-root user gets only the bounding set, as execve
    # would leave it; root gets the list as bounding, permitted and effective.
    if uid == 0:
        return {"bounding": list(caps), "effective": list(caps), "permitted": list(caps)}
    return {"bounding": list(caps)}


def _check_args(inp: SpecInput) -> str:
    if not inp.args:
        raise InvalidParameter("No command specified")
    cwd = inp.working_dir or "/"
    if not cwd.startswith("/"):
        raise InvalidParameter(
            f"the working directory '{cwd}' is invalid, it needs to be an absolute path"
        )
    return cwd


def build_spec(inp: SpecInput) -> dict[str, Any]:
    """Return the OCI runtime config.json for ``inp`` (ociVersion 1.0.2).

    Raises ``InvalidParameter`` for bad input (unknown user or capability, bad ulimit,
    bad security option, bad device spec, invalid namespace mode).
    """
    hc = inp.host_config or {}
    cwd = _check_args(inp)
    privileged = bool(hc.get("Privileged"))
    readonly = bool(hc.get("ReadonlyRootfs"))
    unified = res.cgroup_unified()
    sec = parse_security_opts(hc.get("SecurityOpt") or [])
    user = resolve_user(inp.rootfs, inp.user, [str(g) for g in hc.get("GroupAdd") or []])
    caps = resolve_caps(hc.get("CapAdd"), hc.get("CapDrop"), privileged)
    namespaces = _namespaces(inp, hc, unified)
    pid_private = _mode(hc, "PidMode") == ""

    args = list(inp.args)
    init = None
    if hc.get("Init") and pid_private:
        init = inp.init_path or find_init_binary()
        if not init:
            raise InvalidParameter(
                "--init needs a static init binary (docker-init or tini-static) on the host"
            )
        args = [INIT_PATH_IN_CONTAINER, "--", *args]

    base_env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={inp.hostname}"]
    if inp.tty:
        base_env.append("TERM=xterm")
    mounts, propagation = build_mounts(inp, hc, privileged, readonly, init)
    devices, device_rules = _devices(hc, privileged)

    process: dict[str, Any] = {
        "terminal": bool(inp.tty),
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
        "args": args,
        "env": merge_env(base_env, list(inp.env)),
        "cwd": cwd,
        "capabilities": _capabilities(caps, user.uid),
        "rlimits": res.rlimits(hc),
        "noNewPrivileges": bool(sec["no_new_privileges"]),
        "oomScoreAdj": _oom_score_adj(hc),
    }
    resources: dict[str, Any] = {"devices": device_rules}
    for key, value in (
        ("memory", res.memory_resources(hc)),
        ("cpu", res.cpu_resources(hc)),
        ("pids", res.pids_resources(hc)),
        ("blockIO", res.blkio_resources(hc)),
    ):
        if value:
            resources[key] = value
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "devices": devices,
        "resources": resources,
        "sysctl": _sysctls(hc),
    }
    if inp.domainname and any(ns["type"] == "uts" for ns in namespaces):
        # No OCI field runc 1.1 honours (it ignores "domainname"); the sysctl has the
        # same effect as setdomainname(2) inside the UTS namespace, as moby does.
        linux["sysctl"].setdefault("kernel.domainname", inp.domainname)
    if inp.cgroups_path:
        linux["cgroupsPath"] = inp.cgroups_path
    if propagation:
        linux["rootfsPropagation"] = propagation
    if not privileged:
        masked, ro_paths = _masked_and_readonly(hc, sec)
        linux["maskedPaths"] = masked
        linux["readonlyPaths"] = ro_paths
    seccomp = from_security_opts(hc.get("SecurityOpt") or [], inp.arch, caps, privileged)
    if seccomp is not None:
        linux["seccomp"] = seccomp

    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": str(inp.rootfs), "readonly": readonly},
        "mounts": mounts,
        "linux": linux,
    }
    if any(ns["type"] == "uts" for ns in namespaces):
        if inp.hostname:
            spec["hostname"] = inp.hostname
    annotations = {**(hc.get("Annotations") or {}), **inp.annotations}
    if annotations:
        spec["annotations"] = {str(k): str(v) for k, v in annotations.items()}
    return spec


def build_exec_process(
    spec: dict[str, Any],
    rootfs: Path,
    args: list[str],
    *,
    env: list[str] | None = None,
    user: str = "",
    working_dir: str = "",
    tty: bool = False,
    privileged: bool = False,
    group_add: list[str] | None = None,
) -> dict[str, Any]:
    """The OCI ``process`` object for ``runc exec --process`` in a container built from
    ``spec``, as ``docker exec`` does: the container's env (plus TERM=xterm for a TTY)
    with ``env`` merged over it, the container's user unless ``user`` overrides it
    (resolved in ``rootfs``), the container's capabilities — all of them when
    ``privileged`` — and its rlimits, cwd and no-new-privileges setting.
    """
    if not args:
        raise InvalidParameter("No exec command specified")
    base = dict(spec.get("process") or {})
    proc: dict[str, Any] = {
        "terminal": bool(tty),
        "args": list(args),
        "cwd": working_dir or base.get("cwd") or "/",
    }
    if not str(proc["cwd"]).startswith("/"):
        raise InvalidParameter(
            f"the working directory '{proc['cwd']}' is invalid, it needs to be an absolute path"
        )
    base_env = list(base.get("env") or [])
    if tty and not any(e.startswith("TERM=") for e in base_env):
        base_env.append("TERM=xterm")
    proc["env"] = merge_env(base_env, list(env or []))
    if user:
        u = resolve_user(rootfs, user, group_add or [])
        proc["user"] = {"uid": u.uid, "gid": u.gid, "additionalGids": u.additional_gids}
    else:
        proc["user"] = dict(base.get("user") or {"uid": 0, "gid": 0})
    uid = proc["user"].get("uid", 0)
    if privileged:
        proc["capabilities"] = _capabilities(available_caps(), uid)
    else:
        bounding = (base.get("capabilities") or {}).get("bounding") or []
        proc["capabilities"] = _capabilities(list(bounding), uid)
    for key in ("rlimits", "noNewPrivileges", "oomScoreAdj", "apparmorProfile"):
        if key in base:
            proc[key] = base[key]
    return proc


def container_env_path(spec: dict[str, Any]) -> str:
    """The PATH a container's process sees (for resolving exec commands)."""
    for e in (spec.get("process") or {}).get("env") or []:
        if e.startswith("PATH="):
            return e[5:]
    return DEFAULT_PATH


__all__ = [
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_READONLY_PATHS",
    "INIT_PATH_IN_CONTAINER",
    "SpecInput",
    "build_exec_process",
    "build_spec",
    "container_env_path",
    "find_init_binary",
    "merge_env",
    "merge_tmpfs_options",
]
