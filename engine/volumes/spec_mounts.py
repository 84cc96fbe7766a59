"""Render a mount plan into the OCI runtime spec (dockerd's ``setMounts`` rules)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InvalidParameter
from .local import unescape_mountinfo
from .mounts import DEFAULT_PROPAGATION, PlannedMount

# Docker mounts every tmpfs noexec,nosuid,nodev unless the user says otherwise.
TMPFS_DEFAULTS = ["noexec", "nosuid", "nodev", "rprivate"]

_FLAG_KEYS = {
    **dict.fromkeys(("ro", "rw"), "rw"),
    **dict.fromkeys(("exec", "noexec"), "exec"),
    **dict.fromkeys(("suid", "nosuid"), "suid"),
    **dict.fromkeys(("dev", "nodev"), "dev"),
    **dict.fromkeys(("atime", "noatime"), "atime"),
    **dict.fromkeys(("diratime", "nodiratime"), "diratime"),
    **dict.fromkeys(("relatime", "norelatime"), "relatime"),
    **dict.fromkeys(("strictatime", "nostrictatime"), "strictatime"),
    **dict.fromkeys(("sync", "async"), "sync"),
    **dict.fromkeys(("mand", "nomand"), "mand"),
    **dict.fromkeys(
        (
            "private",
            "rprivate",
            "shared",
            "rshared",
            "slave",
            "rslave",
            "unbindable",
            "runbindable",
        ),
        "propagation",
    ),
}


def merge_tmpfs_options(options: list[str]) -> list[str]:
    """Later options win over earlier ones of the same kind (``exec`` beats a default
    ``noexec``, the last ``size=`` counts); order is otherwise kept."""
    seen: set[str] = set()
    out: list[str] = []
    for opt in reversed(options):
        if not opt or opt == "defaults":
            continue
        key = _FLAG_KEYS.get(opt) or opt.split("=", 1)[0]
        if key in seen:
            continue
        seen.add(key)
        out.append(opt)
    out.reverse()
    return out


def oci_mount(pm: PlannedMount, source: str) -> dict[str, Any]:
    """One OCI ``mounts`` entry for a planned mount whose host source is ``source``."""
    if pm.type == "tmpfs":
        data = [o for o in pm.tmpfs_options.split(",") if o]
        return {
            "destination": pm.destination,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": merge_tmpfs_options([*TMPFS_DEFAULTS, *data]),
        }
    opts = ["bind" if pm.non_recursive else "rbind"]
    if not pm.rw:
        opts.append("ro")
    opts.append(pm.propagation or DEFAULT_PROPAGATION)
    return {"destination": pm.destination, "type": "bind", "source": source, "options": opts}


def _depth(dest: str) -> int:
    return os.path.normpath(dest).count("/")


def apply_mounts(spec: dict[str, Any], rendered: list[tuple[PlannedMount, str]]) -> None:
    """Add the user's mounts to ``spec``, dropping default mounts they cover.

    A user mount replaces a default one at the same destination (``/etc/hosts`` from a
    bind, say), and a user ``/dev`` replaces every default under ``/dev``. Mounts are
    ordered parents before children (stable otherwise), so a volume at ``/a`` never
    hides one at ``/a/b``.
    """
    dests = {pm.destination for pm, _ in rendered}
    own_dev = "/dev" in dests
    kept = [
        m
        for m in spec.get("mounts") or []
        if m.get("destination") not in dests
        and not (own_dev and str(m.get("destination", "")).startswith("/dev/"))
    ]
    new = [oci_mount(pm, src) for pm, src in rendered]
    new.sort(key=lambda m: _depth(m["destination"]))
    # One stable sort over everything: the runtime's /etc files (depth 2) must land on
    # top of a user volume at /etc, not under it.
    spec["mounts"] = sorted(kept + new, key=lambda m: _depth(str(m.get("destination", "/"))))
    props = {pm.propagation for pm, _ in rendered if pm.type != "tmpfs"}
    linux = spec.setdefault("linux", {})
    current = linux.get("rootfsPropagation", "")
    if props & {"shared", "rshared"}:
        linux["rootfsPropagation"] = "shared"
    elif props & {"slave", "rslave"} and current not in ("shared", "rshared"):
        linux["rootfsPropagation"] = "rslave"


def _mount_of(path: str) -> tuple[str, list[str]] | None:
    """(mount point, optional fields) of the mount containing ``path``."""
    best: tuple[str, list[str]] | None = None
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 7:
            continue
        mnt = unescape_mountinfo(parts[4])
        optional = parts[6 : parts.index("-")] if "-" in parts else []
        inside = path == mnt or path.startswith(mnt.rstrip("/") + "/")
        if inside and (best is None or len(mnt) >= len(best[0])):
            best = (mnt, optional)
    return best


def check_propagation(source: str, propagation: str) -> None:
    """Shared/slave propagation needs a host mount that can propagate (dockerd's
    ``ensureShared``/``ensureSharedOrSlave``)."""
    if propagation not in ("shared", "rshared", "slave", "rslave"):
        return
    real = os.path.realpath(source)
    found = _mount_of(real)
    if found is None:
        return
    mnt, optional = found
    shared = any(o.startswith("shared:") for o in optional)
    slave = any(o.startswith("master:") for o in optional)
    if propagation in ("shared", "rshared") and not shared:
        raise InvalidParameter(f"path {source} is mounted on {mnt} but it is not a shared mount")
    if not (shared or slave):
        raise InvalidParameter(
            f"path {source} is mounted on {mnt} but it is not a shared or slave mount"
        )
