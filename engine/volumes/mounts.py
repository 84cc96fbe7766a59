"""Mount resolution: a container's Binds, Mounts, Tmpfs, VolumesFrom and anonymous
volumes turned into one validated *plan*, with Docker's rules and error messages.

This module is pure apart from an injectable "does this host path exist" check: the
hook creates the volumes the plan names and renders it into OCI mounts
(:mod:`.spec_mounts`). Precedence follows dockerd's ``registerMountPoints``: volumes
from other containers first, then ``Binds`` and ``Mounts`` override them (a
destination used twice among those two is an error, as is a bind over a ``Tmpfs``
entry), then ``HostConfig.Tmpfs``, then an anonymous volume for every ``Config.Volumes``
(and image ``Volumes``) path that nothing else covers.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..errors import InvalidParameter

DEFAULT_PROPAGATION = "rprivate"
PROPAGATION_MODES = {"private", "rprivate", "slave", "rslave", "shared", "rshared"}
RW_MODES = {"rw", "ro", "ro-non-recursive", "ro-force-recursive", "rro"}
READONLY_MODES = RW_MODES - {"rw"}
LABEL_MODES = {"z", "Z"}
COPY_MODES = {"nocopy": False}
CONSISTENCY_MODES = {"consistent", "cached", "delegated"}
VALID_TMPFS_OPTIONS = {"exec", "noexec"}


@dataclass
class PlannedMount:
    """One mount of a container, as decided at create and persisted.

    ``source`` is the host path for binds and is filled for volumes once the volume
    exists (its ``_data``); ``spec_source`` is the source as the user wrote it, empty
    for anonymous volumes — exactly the ones ``docker rm -v`` removes.
    """

    type: str  # bind | volume | tmpfs
    destination: str
    source: str = ""
    name: str = ""
    driver: str = ""
    rw: bool = True
    mode: str = ""
    propagation: str = ""
    spec_source: str = ""
    copy_data: bool = False
    create_source: bool = False
    non_recursive: bool = False
    subpath: str = ""
    tmpfs_options: str = ""
    driver_opts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    # HostConfig.Tmpfs entries are not MountPoints in Docker: not in inspect, not shared
    # through --volumes-from.
    in_inspect: bool = True
    populated: bool = False

    def to_json(self) -> dict[str, Any]:
        """Serialisable form."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedMount:
        """Inverse of :meth:`to_json`, tolerant of fields added later."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def inspect(self) -> dict[str, Any]:
        """Docker's ``MountPoint`` for container inspect (``Name``/``Driver`` omitempty)."""
        d: dict[str, Any] = {"Type": self.type}
        if self.name:
            d["Name"] = self.name
        d["Source"] = self.source
        d["Destination"] = self.destination
        if self.driver:
            d["Driver"] = self.driver
        d["Mode"] = self.mode
        d["RW"] = self.rw
        d["Propagation"] = self.propagation
        return d


# -- mode strings -------------------------------------------------------------------------
def valid_mode(mode: str) -> bool:
    """Docker's ``linuxValidMountMode``: known options, at most one of each kind."""
    if mode == "":
        return True
    counts = {"rw": 0, "label": 0, "prop": 0, "copy": 0, "consistency": 0}
    for o in mode.split(","):
        if o in RW_MODES:
            counts["rw"] += 1
        elif o in LABEL_MODES:
            counts["label"] += 1
        elif o in PROPAGATION_MODES:
            counts["prop"] += 1
        elif o in COPY_MODES:
            counts["copy"] += 1
        elif o in CONSISTENCY_MODES:
            counts["consistency"] += 1
        else:
            return False
    return all(n <= 1 for n in counts.values())


def read_write(mode: str) -> bool:
    """Whether a (valid) mode string leaves the mount writable."""
    if not valid_mode(mode):
        return False
    return not any(o in READONLY_MODES for o in mode.split(","))


def _propagation_of(mode: str) -> str | None:
    for o in mode.split(","):
        if o in PROPAGATION_MODES:
            return o
    return None


def _copy_mode_of(mode: str) -> bool | None:
    for o in mode.split(","):
        if o in COPY_MODES:
            return COPY_MODES[o]
    return None


def invalid_spec(raw: str) -> str:
    """Docker's ``invalid volume specification`` text."""
    return f"invalid volume specification: '{raw}'"


def _clean(p: str) -> str:
    return posixpath.normpath(p) if p else p


def _not_root_and_absolute(p: str) -> str | None:
    if _clean(p.replace("\\", "/")) == "/":
        return "invalid specification: destination can't be '/'"
    if not p.replace("\\", "/").startswith("/"):
        return f"invalid mount path: '{p}' mount path must be absolute"
    return None


# -- Mounts (the structured API form) -----------------------------------------------------
def tmpfs_options(opts: dict[str, Any] | None, read_only: bool) -> str:
    """Docker's ``ConvertTmpfsOptions``: TmpfsOptions to a mount data string."""
    raw: list[str] = []
    if read_only:
        raw.append("ro")
    opts = opts or {}
    mode = opts.get("Mode") or 0
    if not isinstance(mode, int) or mode < 0:
        raise ValueError("invalid tmpfs mode")
    if mode:
        raw.append(f"mode={mode:o}")
    size = opts.get("SizeBytes") or 0
    if not isinstance(size, int) or size < 0:
        raise ValueError("invalid tmpfs size")
    if size:
        suffix = ""
        for suf, div in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % div == 0:
                size, suffix = size // div, suf
                break
        raw.append(f"size={size}{suffix}")
    for opt in opts.get("Options") or []:
        if not isinstance(opt, list) or not 1 <= len(opt) <= 2:
            raise ValueError("invalid option array length")
        if opt[0] not in VALID_TMPFS_OPTIONS:
            raise ValueError(f"invalid option: {opt[0]}")
        raw.append(opt[0] if len(opt) == 1 else f"{opt[0]}={opt[1]}")
    return ",".join(raw)


def _present(d: dict[str, Any], key: str) -> bool:
    return d.get(key) is not None


def parse_mount_spec(
    spec: dict[str, Any],
    check_bind_source: bool = True,
    path_exists: Callable[[str], bool] = os.path.exists,
) -> PlannedMount:
    """One ``HostConfig.Mounts`` entry (Docker's ``ParseMountSpec``)."""
    if not isinstance(spec, dict):
        raise InvalidParameter("invalid mount config: expected a JSON object")
    typ = spec.get("Type") or ""
    target = spec.get("Target") or ""
    source = spec.get("Source") or ""
    read_only = bool(spec.get("ReadOnly"))

    def err(msg: str) -> InvalidParameter:
        return InvalidParameter(f'invalid mount config for type "{typ}": {msg}')

    if not target:
        raise err("field Target must not be empty")
    bad = _not_root_and_absolute(target)
    if bad:
        raise err(bad)
    bind_opts = spec.get("BindOptions")
    vol_opts = spec.get("VolumeOptions")
    dest = _clean(target)
    if typ == "bind":
        if not source:
            raise err("field Source must not be empty")
        bind_opts = bind_opts if isinstance(bind_opts, dict) else None
        prop = (bind_opts or {}).get("Propagation") or ""
        if prop and prop not in PROPAGATION_MODES:
            raise err(f"invalid propagation mode: {prop}")
        if _present(spec, "VolumeOptions"):
            raise err("field VolumeOptions must not be specified")
        if not source.startswith("/"):
            raise err(f"invalid mount path: '{source}' mount path must be absolute")
        create = bool((bind_opts or {}).get("CreateMountpoint"))
        if check_bind_source and not create and not path_exists(source):
            raise err(f"bind source path does not exist: {source}")
        return PlannedMount(
            type="bind",
            destination=dest,
            source=_clean(source),
            rw=not read_only,
            propagation=prop or DEFAULT_PROPAGATION,
            spec_source=source,
            create_source=create,
            non_recursive=bool((bind_opts or {}).get("NonRecursive")),
        )
    if typ == "volume":
        if _present(spec, "BindOptions"):
            raise err("field BindOptions must not be specified")
        vo = vol_opts if isinstance(vol_opts, dict) else {}
        subpath = vo.get("Subpath") or ""
        if subpath:
            if not source:
                raise err("must not set Subpath when using anonymous volumes")
            if not _is_local(subpath):
                raise err("subpath must be a relative path within the volume")
        if read_only and not source:
            raise err("must not set ReadOnly mode when using anonymous volumes")
        dc = vo.get("DriverConfig") if isinstance(vo.get("DriverConfig"), dict) else {}
        return PlannedMount(
            type="volume",
            destination=dest,
            name=source,
            driver=(dc or {}).get("Name") or "",
            rw=not read_only,
            spec_source=source,
            copy_data=not bool(vo.get("NoCopy")),
            subpath=subpath,
            driver_opts={str(k): str(v) for k, v in ((dc or {}).get("Options") or {}).items()},
            labels={str(k): str(v) for k, v in (vo.get("Labels") or {}).items()},
        )
    if typ == "tmpfs":
        if _present(spec, "BindOptions"):
            raise err("field BindOptions must not be specified")
        if source:
            raise err("field Source must not be specified")
        try:
            data = tmpfs_options(spec.get("TmpfsOptions"), read_only)
        except ValueError as e:
            raise err(str(e)) from None
        return PlannedMount(type="tmpfs", destination=dest, rw=not read_only, tmpfs_options=data)
    raise err("mount type unknown")


def _is_local(p: str) -> bool:
    """Go's ``filepath.IsLocal``: relative, non-empty, never climbing out."""
    if not p or p.startswith("/"):
        return False
    depth = 0
    for part in p.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return False
        elif part not in ("", "."):
            depth += 1
    return True


# -- Binds (the -v string form) ---------------------------------------------------------
def parse_bind(raw: str, volume_driver: str = "") -> PlannedMount:
    """One ``HostConfig.Binds`` entry (Docker's ``ParseMountRaw``)."""
    if not isinstance(raw, str):
        raise InvalidParameter(f"invalid volume specification: '{raw}'")
    arr = raw.split(":", 3)
    if arr[0] == "":
        raise InvalidParameter(invalid_spec(raw))
    source, mode = "", ""
    if len(arr) == 1:
        target = arr[0]
    elif len(arr) == 2:
        if valid_mode(arr[1]):
            # "/foo:rw" — a destination and a mode but no source
            raise InvalidParameter(invalid_spec(raw))
        source, target = arr
    elif len(arr) == 3:
        source, target, mode = arr
    else:
        raise InvalidParameter(invalid_spec(raw))
    if not valid_mode(mode):
        raise InvalidParameter(f"invalid mode: {mode}")
    typ = "bind" if source.startswith("/") else "volume"
    spec: dict[str, Any] = {
        "Type": typ,
        "Source": source,
        "Target": target,
        "ReadOnly": not read_write(mode),
    }
    vol_opts: dict[str, Any] | None = None
    if volume_driver and typ == "volume":
        vol_opts = {"DriverConfig": {"Name": volume_driver}}
    copy = _copy_mode_of(mode)
    if copy is not None:
        vol_opts = vol_opts or {}
        vol_opts["NoCopy"] = not copy
    if vol_opts is not None:
        spec["VolumeOptions"] = vol_opts
    prop = _propagation_of(mode)
    if prop:
        spec["BindOptions"] = {"Propagation": prop}
    try:
        mp = parse_mount_spec(spec, check_bind_source=False)
    except InvalidParameter as e:
        raise InvalidParameter(f"{invalid_spec(raw)}: {e.message}") from None
    mp.mode = mode
    if mp.type == "bind":
        # Legacy -v binds create a missing host directory at start (Docker's behaviour).
        mp.create_source = True
    return mp


def parse_volumes_from(spec: str) -> tuple[str, str]:
    """``container[:mode]`` of ``HostConfig.VolumesFrom``: (container, mode)."""
    if not spec:
        raise InvalidParameter("volumes-from specification cannot be an empty string")
    cid, _, mode = spec.partition(":")
    if mode == "":
        return cid, "rw"
    if not valid_mode(mode) or _propagation_of(mode) is not None or _copy_mode_of(mode) is not None:
        raise InvalidParameter(f"invalid mode: {mode}")
    return cid, mode


def validate_tmpfs_destination(dest: str) -> None:
    """``HostConfig.Tmpfs`` keys must be absolute and not ``/``."""
    bad = _not_root_and_absolute(dest)
    if bad:
        raise InvalidParameter(bad)


def duplicate(dest: str) -> InvalidParameter:
    """Docker's error for two mounts on one destination."""
    return InvalidParameter(f"Duplicate mount point: {dest}")


# -- the plan -----------------------------------------------------------------------------
def plan_mounts(
    config: dict[str, Any],
    host_config: dict[str, Any],
    image_volumes: Iterable[str] = (),
    volumes_from: Iterable[tuple[list[PlannedMount], str]] = (),
    path_exists: Callable[[str], bool] = os.path.exists,
) -> list[PlannedMount]:
    """Every mount of a new container, validated; volumes are named but not created.

    ``volumes_from`` holds, for each ``--volumes-from`` entry, the other container's
    plan and the mode it is shared with (see :func:`parse_volumes_from`).
    """
    points: dict[str, PlannedMount] = {}
    for plan, mode in volumes_from:
        rw = read_write(mode)
        for m in plan:
            if not m.in_inspect:
                continue
            points[m.destination] = replace(m, rw=m.rw and rw, copy_data=False, populated=True)

    tmpfs = host_config.get("Tmpfs") or {}
    if not isinstance(tmpfs, dict):
        raise InvalidParameter("HostConfig.Tmpfs must be an object of path to options")
    tmpfs_dests = {_clean(d) for d in tmpfs}
    driver = host_config.get("VolumeDriver") or ""
    claimed: set[str] = set()
    for raw in host_config.get("Binds") or []:
        mp = parse_bind(raw, driver)
        if mp.destination in claimed or mp.destination in tmpfs_dests:
            raise duplicate(mp.destination)
        if mp.type == "volume":
            mp.mode = mp.mode or "z"  # Docker's setBindModeIfNull for local volumes
        claimed.add(mp.destination)
        points[mp.destination] = mp
    for spec in host_config.get("Mounts") or []:
        mp = parse_mount_spec(spec, check_bind_source=True, path_exists=path_exists)
        if mp.destination in claimed or mp.destination in tmpfs_dests:
            raise duplicate(spec.get("Target") or mp.destination)
        if mp.type == "volume":
            mp.mode = mp.mode or "z"
        claimed.add(mp.destination)
        points[mp.destination] = mp

    for dest, opts in tmpfs.items():
        validate_tmpfs_destination(dest)
        data = opts if isinstance(opts, str) else ""
        clean = _clean(dest)
        points.pop(clean, None)  # overrides a --volumes-from mount at the same place
        points[clean] = PlannedMount(
            type="tmpfs",
            destination=clean,
            rw="ro" not in data.split(","),
            tmpfs_options=data,
            in_inspect=False,
        )

    wanted = list(dict.fromkeys([*(config.get("Volumes") or {}), *image_volumes]))
    for spec in wanted:
        bad = _not_root_and_absolute(spec)
        if bad:
            raise InvalidParameter(f'invalid mount config for type "volume": {bad}')
        dest = _clean(spec)
        if dest in points:
            continue
        points[dest] = PlannedMount(type="volume", destination=dest, copy_data=True)
    return list(points.values())
