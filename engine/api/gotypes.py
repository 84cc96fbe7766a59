"""Request bodies checked against the Go types dockerd decodes them into.

dockerd unmarshals a body into Go structs, so a value of the wrong JSON kind or out of
its integer type's range is a 400 before anything else looks at it. Python's json module
accepts anything; without this check such a value reaches the OCI spec or the database
and fails later as a 500 (or, worse, is stored and breaks every later ``inspect``).
The wording is Go's ``encoding/json`` error, which is what dockerd answers.

Only the fields whose type matters downstream are listed; an unknown field is ignored,
as Go ignores it. ``null`` is accepted everywhere, as Go leaves the zero value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn, Union

from ..errors import InvalidParameter

# A Go type: a scalar name, ("list", T), ("map", T) or a struct (name, {field: T}).
Scalar = str
GoType = Union[Scalar, tuple[str, "GoType"], "Struct"]


class Struct:
    """A Go struct: its type name (Go names it in errors) and its fields."""

    def __init__(self, name: str, fields: Mapping[str, GoType], package: str = "container") -> None:
        self.name = name
        self.fields = dict(fields)
        self.package = package


_INT_RANGES = {
    "int": (-(2**63), 2**63 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_name(t: GoType) -> str:
    if isinstance(t, Struct):
        return f"{t.package}.{t.name}"
    if isinstance(t, tuple):
        outer, inner = t
        return f"[]{_type_name(inner)}" if outer == "list" else f"map[string]{_type_name(inner)}"
    return {"strslice": "strslice.StrSlice", "any": "interface {}"}.get(t, t)


def check(value: Any, t: GoType) -> None:
    """Raise ``InvalidParameter`` with Go's message when ``value`` cannot decode into ``t``."""
    _check(value, t, "", "")


def _fail(value: Any, t: GoType, struct: str, field: str, *, literal: bool = False) -> NoReturn:
    what = _kind(value)
    if literal:
        what += f" {value}"
    target = f"Go struct field {struct}.{field}" if field else "Go value"
    raise InvalidParameter(f"json: cannot unmarshal {what} into {target} of type {_type_name(t)}")


def _check(value: Any, t: GoType, struct: str, field: str) -> None:
    if value is None or t == "any":
        return
    if isinstance(t, Struct):
        if not isinstance(value, dict):
            _fail(value, t, struct, field)
        for key, sub in t.fields.items():
            if key in value:
                _check(value[key], sub, t.name, f"{field}.{key}" if field else key)
        return
    if isinstance(t, tuple):
        outer, inner = t
        if outer == "list":
            if not isinstance(value, list):
                _fail(value, t, struct, field)
            for item in value:
                _check(item, inner, struct, field)
        else:
            if not isinstance(value, dict):
                _fail(value, t, struct, field)
            for item in value.values():
                _check(item, inner, struct, field)
        return
    if t == "strslice":  # Docker's StrSlice: a string or a list of strings
        if isinstance(value, str):
            return
        _check(value, ("list", "string"), struct, field)
        return
    if t == "string":
        if not isinstance(value, str):
            _fail(value, t, struct, field)
        return
    if t == "bool":
        if not isinstance(value, bool):
            _fail(value, t, struct, field)
        return
    if t in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            _fail(value, t, struct, field)
        low, high = _INT_RANGES[t]
        if isinstance(value, float) or not low <= value <= high:
            _fail(value, t, struct, field, literal=True)
        return
    raise AssertionError(f"unknown Go type {t!r}")


_STRINGS = ("list", "string")
_THROTTLE = ("list", Struct("ThrottleDevice", {"Path": "string", "Rate": "uint64"}))

RESOURCES: dict[str, GoType] = {
    "CpuShares": "int64",
    "Memory": "int64",
    "CgroupParent": "string",
    "BlkioWeight": "uint16",
    "BlkioWeightDevice": ("list", Struct("WeightDevice", {"Path": "string", "Weight": "uint16"})),
    "BlkioDeviceReadBps": _THROTTLE,
    "BlkioDeviceWriteBps": _THROTTLE,
    "BlkioDeviceReadIOps": _THROTTLE,
    "BlkioDeviceWriteIOps": _THROTTLE,
    "CpuPeriod": "int64",
    "CpuQuota": "int64",
    "CpuRealtimePeriod": "int64",
    "CpuRealtimeRuntime": "int64",
    "CpusetCpus": "string",
    "CpusetMems": "string",
    "Devices": (
        "list",
        Struct(
            "DeviceMapping",
            {"PathOnHost": "string", "PathInContainer": "string", "CgroupPermissions": "string"},
        ),
    ),
    "DeviceCgroupRules": _STRINGS,
    "KernelMemoryTCP": "int64",
    "MemoryReservation": "int64",
    "MemorySwap": "int64",
    "MemorySwappiness": "int64",
    "NanoCpus": "int64",
    "OomKillDisable": "bool",
    "Init": "bool",
    "PidsLimit": "int64",
    "Ulimits": ("list", Struct("Ulimit", {"Name": "string", "Soft": "int64", "Hard": "int64"})),
    "CpuCount": "int64",
    "CpuPercent": "int64",
    "IOMaximumIOps": "uint64",
    "IOMaximumBandwidth": "uint64",
}

HOST_CONFIG = Struct(
    "HostConfig",
    {
        **RESOURCES,
        "Binds": _STRINGS,
        "ContainerIDFile": "string",
        "LogConfig": Struct("LogConfig", {"Type": "string", "Config": ("map", "string")}),
        "NetworkMode": "string",
        "PortBindings": (
            "map",
            ("list", Struct("PortBinding", {"HostIp": "string", "HostPort": "string"})),
        ),
        "RestartPolicy": Struct("RestartPolicy", {"Name": "string", "MaximumRetryCount": "int"}),
        "AutoRemove": "bool",
        "VolumeDriver": "string",
        "VolumesFrom": _STRINGS,
        "ConsoleSize": ("list", "uint64"),
        "Annotations": ("map", "string"),
        "CapAdd": _STRINGS,
        "CapDrop": _STRINGS,
        "CgroupnsMode": "string",
        "Dns": _STRINGS,
        "DnsOptions": _STRINGS,
        "DnsSearch": _STRINGS,
        "ExtraHosts": _STRINGS,
        "GroupAdd": _STRINGS,
        "IpcMode": "string",
        "Cgroup": "string",
        "Links": _STRINGS,
        "OomScoreAdj": "int",
        "PidMode": "string",
        "Privileged": "bool",
        "PublishAllPorts": "bool",
        "ReadonlyRootfs": "bool",
        "SecurityOpt": _STRINGS,
        "StorageOpt": ("map", "string"),
        "Tmpfs": ("map", "string"),
        "UTSMode": "string",
        "UsernsMode": "string",
        "ShmSize": "int64",
        "Sysctls": ("map", "string"),
        "Runtime": "string",
        "Isolation": "string",
        "MaskedPaths": _STRINGS,
        "ReadonlyPaths": _STRINGS,
    },
)

HEALTH_CONFIG = Struct(
    "HealthConfig",
    {
        "Test": _STRINGS,
        "Interval": "int64",
        "Timeout": "int64",
        "StartPeriod": "int64",
        "StartInterval": "int64",
        "Retries": "int",
    },
)

CONTAINER_CONFIG: dict[str, GoType] = {
    "Hostname": "string",
    "Domainname": "string",
    "User": "string",
    "AttachStdin": "bool",
    "AttachStdout": "bool",
    "AttachStderr": "bool",
    "ExposedPorts": ("map", "any"),
    "Tty": "bool",
    "OpenStdin": "bool",
    "StdinOnce": "bool",
    "Env": _STRINGS,
    "Cmd": "strslice",
    "Healthcheck": HEALTH_CONFIG,
    "ArgsEscaped": "bool",
    "Image": "string",
    "Volumes": ("map", "any"),
    "WorkingDir": "string",
    "Entrypoint": "strslice",
    "NetworkDisabled": "bool",
    "MacAddress": "string",
    "OnBuild": _STRINGS,
    "Labels": ("map", "string"),
    "StopSignal": "string",
    "StopTimeout": "int",
    "Shell": "strslice",
}

# ``POST /containers/create``: the Config fields at the top level beside HostConfig.
CONTAINER_CREATE = Struct(
    "ContainerConfigWrapper",
    {
        **CONTAINER_CONFIG,
        "HostConfig": HOST_CONFIG,
        "NetworkingConfig": Struct(
            "NetworkingConfig", {"EndpointsConfig": ("map", "any")}, package="network"
        ),
    },
)

# ``POST /containers/{id}/update``: the resources plus the restart policy.
CONTAINER_UPDATE = Struct(
    "UpdateConfig",
    {**RESOURCES, "RestartPolicy": HOST_CONFIG.fields["RestartPolicy"]},
)

# ``POST /containers/{id}/exec``: moby's ExecOptions (ConsoleSize's shape is checked
# where it is read).
EXEC_OPTIONS = Struct(
    "ExecOptions",
    {
        "User": "string",
        "Privileged": "bool",
        "Tty": "bool",
        "AttachStdin": "bool",
        "AttachStderr": "bool",
        "AttachStdout": "bool",
        "Detach": "bool",
        "DetachKeys": "string",
        "Env": _STRINGS,
        "WorkingDir": "string",
        "Cmd": _STRINGS,
    },
)

# ``POST /exec/{id}/start``: moby's ExecStartOptions.
EXEC_START_OPTIONS = Struct("ExecStartOptions", {"Detach": "bool", "Tty": "bool"})
