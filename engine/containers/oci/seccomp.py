"""Docker's default seccomp profile, and conversion of Docker-format profiles to OCI.

Docker profiles (the default one and the JSON a user passes with
``--security-opt seccomp=file.json``, which the docker CLI sends inline) carry rules
conditional on capabilities, architectures and kernel version. The OCI runtime wants a
flat list, so the conditions are evaluated here for one container, as moby's
``setupSeccomp`` does.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable
from typing import Any

from ...errors import InvalidParameter
from .seccomp_syscalls import default_docker_profile

# Go/Docker architecture names → libseccomp's native architecture.
GO_TO_SECCOMP: dict[str, str] = {
    "amd64": "SCMP_ARCH_X86_64",
    "386": "SCMP_ARCH_X86",
    "arm64": "SCMP_ARCH_AARCH64",
    "arm": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "ppc64": "SCMP_ARCH_PPC64",
    "s390x": "SCMP_ARCH_S390X",
    "s390": "SCMP_ARCH_S390",
    "riscv64": "SCMP_ARCH_RISCV64",
    "mips64": "SCMP_ARCH_MIPS64",
    "mips64le": "SCMP_ARCH_MIPSEL64",
    "mips": "SCMP_ARCH_MIPS",
    "mipsle": "SCMP_ARCH_MIPSEL",
}

# uname -m → Go architecture name.
_MACHINE_TO_GO = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
    "armv6l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

# Names a profile's includes/excludes ``arches`` may use for the same architecture.
_ARCH_ALIASES = {
    "amd64": {"amd64", "x86_64"},
    "arm64": {"arm64", "aarch64"},
    "386": {"386", "x86"},
}

_SYSCALL_KEYS = ("names", "action", "errnoRet", "args")
_ARG_KEYS = ("index", "value", "valueTwo", "op")
# Top-level OCI keys copied from a Docker profile (all understood by runc 1.1).
_COPY_KEYS = ("defaultAction", "defaultErrnoRet", "flags", "listenerPath", "listenerMetadata")


def host_arch() -> str:
    """The engine host's architecture as Docker names it ("amd64", "arm64", ...)."""
    m = platform.machine()
    return _MACHINE_TO_GO.get(m, m)


def _kernel_version() -> tuple[int, int]:
    release = platform.release()
    parts = release.split("-", 1)[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return 0, 0


def _parse_kernel(v: Any) -> tuple[int, int]:
    """A profile's ``minKernel`` ("4.8") as a comparable tuple."""
    if not isinstance(v, str):
        raise InvalidParameter(f"invalid kernel version: {v!r}")
    major, _, minor = v.partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        raise InvalidParameter(f"invalid kernel version: {v!r}") from None


def default_profile(arch: str | None = None, caps: Iterable[str] = ()) -> dict[str, Any]:
    """Docker's default seccomp profile in OCI ``linux.seccomp`` form for ``arch``
    ("amd64", "arm64", ...; None = host) and a container holding ``caps`` (``CAP_*``).
    """
    return to_oci(default_docker_profile(), arch, caps)


def _filter_matches(flt: Any, arch: str, caps: set[str], kernel: tuple[int, int]) -> dict:
    """Which parts of an includes/excludes filter hold for this container."""
    if flt is None:
        return {}
    if not isinstance(flt, dict):
        raise InvalidParameter("seccomp profile: includes/excludes must be objects")
    aliases = _ARCH_ALIASES.get(arch, {arch})
    out: dict[str, bool] = {}
    arches = flt.get("arches") or []
    if arches:
        out["arches"] = any(a in aliases for a in arches)
    fcaps = flt.get("caps") or []
    if fcaps:
        out["caps_all"] = all(c in caps for c in fcaps)
        out["caps_any"] = any(c in caps for c in fcaps)
    if flt.get("minKernel"):
        out["kernel"] = kernel >= _parse_kernel(flt["minKernel"])
    return out


def _selected(call: dict[str, Any], arch: str, caps: set[str], kernel: tuple[int, int]) -> bool:
    exc = _filter_matches(call.get("excludes"), arch, caps, kernel)
    if exc.get("arches") or exc.get("caps_any") or exc.get("kernel"):
        return False
    inc = _filter_matches(call.get("includes"), arch, caps, kernel)
    if inc.get("arches") is False or inc.get("caps_all") is False:
        return False
    return inc.get("kernel") is not False


def _convert_call(call: dict[str, Any]) -> dict[str, Any]:
    names = call.get("names") or []
    if call.get("name"):
        if names:
            raise InvalidParameter("use either 'name' or 'names'")
        names = [call["name"]]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidParameter("seccomp profile: syscall names must be a list of strings")
    action = call.get("action")
    if not isinstance(action, str) or not action.startswith("SCMP_ACT_"):
        raise InvalidParameter(f"seccomp profile: invalid action {action!r}")
    out: dict[str, Any] = {"names": list(names), "action": action}
    if call.get("errnoRet") is not None:
        out["errnoRet"] = call["errnoRet"]
    args = call.get("args")
    if args:
        if not isinstance(args, list):
            raise InvalidParameter("seccomp profile: args must be a list")
        out["args"] = [{k: a[k] for k in _ARG_KEYS if isinstance(a, dict) and k in a} for a in args]
    return out


def to_oci(
    profile: dict[str, Any], arch: str | None = None, caps: Iterable[str] = ()
) -> dict[str, Any]:
    """Convert a Docker-format profile (``defaultAction``, ``archMap``, ``syscalls`` with
    ``includes``/``excludes``) to OCI ``linux.seccomp`` for ``arch`` and ``caps``.
    Raises ``InvalidParameter`` for malformed profiles.
    """
    if not isinstance(profile, dict):
        raise InvalidParameter("Decoding seccomp profile failed: not a JSON object")
    arch = arch or host_arch()
    capset = set(caps)
    kernel = _kernel_version()
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidParameter(
            "both 'architectures' and 'archMap' are specified in the seccomp profile, "
            "use either 'architectures' or 'archMap'"
        )
    if not profile.get("defaultAction"):
        raise InvalidParameter("seccomp profile: defaultAction is required")
    out: dict[str, Any] = {k: profile[k] for k in _COPY_KEYS if profile.get(k) is not None}
    architectures: list[str] = list(profile.get("architectures") or [])
    native = GO_TO_SECCOMP.get(arch)
    for entry in profile.get("archMap") or []:
        if native and isinstance(entry, dict) and entry.get("architecture") == native:
            architectures = [native, *(entry.get("subArchitectures") or [])]
            break
    if architectures:
        out["architectures"] = architectures
    syscalls = profile.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise InvalidParameter("seccomp profile: syscalls must be a list")
    converted = []
    for call in syscalls:
        if not isinstance(call, dict):
            raise InvalidParameter("seccomp profile: each syscall rule must be an object")
        rule = _convert_call(call)
        if _selected(call, arch, capset, kernel):
            converted.append(rule)
    out["syscalls"] = converted
    return out


def parse_security_opts(security_opts: Iterable[str]) -> dict[str, Any]:
    """Docker's ``--security-opt`` list → ``{"no_new_privileges": bool, "seccomp": str |
    None, "apparmor": str | None, "label": [...]}`` with moby's errors for bad options.

    Both ``key=value`` and the deprecated ``key:value`` forms are accepted.
    """
    result: dict[str, Any] = {
        "no_new_privileges": False,
        "seccomp": None,
        "apparmor": None,
        "label": [],
        "systempaths": None,
    }
    for opt in security_opts or []:
        if opt == "no-new-privileges":
            result["no_new_privileges"] = True
            continue
        if opt == "disable":
            result["label"].append("disable")
            continue
        if "=" in opt:
            key, _, value = opt.partition("=")
        elif ":" in opt:
            key, _, value = opt.partition(":")
        else:
            raise InvalidParameter(f'invalid --security-opt 1: "{opt}"')
        if key == "label":
            result["label"].append(value)
        elif key == "apparmor":
            result["apparmor"] = value
        elif key == "seccomp":
            result["seccomp"] = value
        elif key == "no-new-privileges":
            v = value.strip().lower()
            if v in ("1", "t", "true"):
                result["no_new_privileges"] = True
            elif v in ("0", "f", "false"):
                result["no_new_privileges"] = False
            else:
                raise InvalidParameter(f'invalid --security-opt 2: "{opt}"')
        elif key == "systempaths":
            if value != "unconfined":
                raise InvalidParameter(f'invalid --security-opt 2: "{opt}"')
            result["systempaths"] = value
        elif key == "writable-cgroups":
            continue
        else:
            raise InvalidParameter(f'invalid --security-opt 2: "{opt}"')
    return result


def from_security_opts(
    security_opts: Iterable[str], arch: str | None, caps: Iterable[str], privileged: bool
) -> dict[str, Any] | None:
    """The seccomp section for a container: None when unconfined (``seccomp=unconfined``
    or privileged, whatever profile was given — as moby), the given JSON profile
    (``seccomp=<json>``, as the docker CLI sends it), else the default profile.
    """
    choice = parse_security_opts(security_opts)["seccomp"]
    if choice == "unconfined" or privileged:
        return None
    if choice in (None, "", "builtin"):
        return default_profile(arch, caps)
    try:
        profile = json.loads(choice)
    except ValueError as e:
        raise InvalidParameter(f"Decoding seccomp profile failed: {e}") from None
    return to_oci(profile, arch, caps)
