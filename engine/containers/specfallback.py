"""A minimal OCI config used only while ``spec.build_spec`` is not implemented yet.

It mirrors the essentials of moby's defaults (namespaces, default mounts, masked
paths, capabilities) so containers run; the real generator in spec.py replaces it.
"""

from __future__ import annotations

from typing import Any

from .spec import DEFAULT_PATH, SpecInput

_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]


def fallback_spec(inp: SpecInput) -> dict[str, Any]:
    """An OCI runtime config for ``inp`` (root user, no resource limits but memory/pids)."""
    hc = inp.host_config
    env = list(inp.env)
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, f"PATH={DEFAULT_PATH}")
    uid = gid = 0
    if inp.user and inp.user.split(":")[0].isdigit():
        uid = int(inp.user.split(":")[0])
        g = inp.user.split(":")[1] if ":" in inp.user else ""
        gid = int(g) if g.isdigit() else 0
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if hc.get("NetworkMode") != "host":
        ns: dict[str, Any] = {"type": "network"}
        if inp.netns_path:
            ns["path"] = inp.netns_path
        namespaces.append(ns)
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
    ]
    for dest, src in (
        ("/etc/resolv.conf", inp.resolv_file),
        ("/etc/hostname", inp.hostname_file),
        ("/etc/hosts", inp.hosts_file),
    ):
        if src:
            mounts.append(
                {"destination": dest, "type": "bind", "source": str(src), "options": ["rbind"]}
            )
    mounts += inp.extra_mounts
    resources: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
    if hc.get("Memory"):
        resources["memory"] = {"limit": hc["Memory"]}
    if hc.get("PidsLimit"):
        resources["pids"] = {"limit": hc["PidsLimit"]}
    caps = _CAPS
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": inp.tty,
            "user": {"uid": uid, "gid": gid},
            "args": inp.args,
            "env": env,
            "cwd": inp.working_dir or "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": False,
        },
        "root": {"path": str(inp.rootfs), "readonly": bool(hc.get("ReadonlyRootfs"))},
        "hostname": inp.hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": inp.cgroups_path,
            "resources": resources,
            "maskedPaths": [
                "/proc/asound",
                "/proc/acpi",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/proc/scsi",
                "/sys/firmware",
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ],
        },
    }
