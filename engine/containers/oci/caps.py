"""Linux capabilities: Docker's default set and --cap-add/--cap-drop resolution.

Mirrors moby's ``oci/caps``: names are upper-cased and given a ``CAP_`` prefix,
``ALL`` is a magic value, privileged containers get every capability the engine itself
holds. A capability the kernel knows but the engine lacks (here: ``CAP_SYS_RESOURCE``,
which this host's root does not have) is refused up front, because the runtime could
not grant it and would fail with a far less helpful message.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from ...errors import InvalidParameter

# moby's oci/caps.DefaultCapabilities, in its order.
DEFAULT_CAPS: tuple[str, ...] = (
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
)

# Every capability Linux defines, indexed by its bit number (linux/capability.h).
KNOWN_CAPS: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

ALL = "ALL"


def caps_from_mask(mask: int) -> list[str]:
    """The known capability names whose bits are set in ``mask`` (bit order)."""
    return [name for bit, name in enumerate(KNOWN_CAPS) if mask >> bit & 1]


def _status_mask(field: str, status: Path = Path("/proc/self/status")) -> int | None:
    try:
        text = status.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1].strip(), 16)
    return None


@lru_cache(maxsize=1)
def available_caps() -> list[str]:
    """Every capability in the engine's own effective set (what a privileged
    container gets), in bit order. Falls back to all known caps if /proc is unreadable,
    as moby does, so containers are never created with no capabilities at all."""
    mask = _status_mask("CapEff")
    if mask is None:
        return list(KNOWN_CAPS)
    return caps_from_mask(mask)


def engine_has_cap(cap: str) -> bool:
    """Whether the engine process itself holds ``cap`` (``CAP_*``) effectively."""
    return cap in available_caps()


def normalize_cap(name: str) -> str:
    """``"net_admin"`` / ``"CAP_NET_ADMIN"`` → ``"CAP_NET_ADMIN"``; ``"all"`` → ``"ALL"``.

    Raises ``InvalidParameter`` with moby's messages for names Linux does not know
    (``unknown capability: "CAP_FOO"``) and for ones the engine cannot grant.
    """
    c = name.strip().upper()
    if c == ALL:
        return ALL
    if not c.startswith("CAP_"):
        c = "CAP_" + c
    if c not in KNOWN_CAPS:
        raise InvalidParameter(f'unknown capability: "{c}"')
    if c not in available_caps():
        raise InvalidParameter(
            "capability not supported by your kernel or not available in the current "
            f'environment: "{c}"'
        )
    return c


def resolve_caps(
    add: Iterable[str] | None, drop: Iterable[str] | None, privileged: bool = False
) -> list[str]:
    """The container's capability list (``CAP_*`` names) from Docker's CapAdd/CapDrop.

    Follows moby's TweakCapabilities: privileged → every available cap; nothing to
    tweak → the defaults; ``add`` containing ``ALL`` → every available cap minus
    ``drop``; ``drop`` containing ``ALL`` → exactly ``add``; otherwise defaults minus
    ``drop`` plus ``add``. Names may be any case, with or without ``CAP_``.
    """
    if privileged:
        return list(available_caps())
    adds = [normalize_cap(c) for c in (add or [])]
    drops = [normalize_cap(c) for c in (drop or [])]
    if not adds and not drops:
        return list(DEFAULT_CAPS)
    if ALL in adds:
        return [c for c in available_caps() if c not in drops]
    if ALL in drops:
        result = [c for c in adds if c != ALL]
    else:
        result = [c for c in DEFAULT_CAPS if c not in drops] + adds
    # Keep the first occurrence only: --cap-add CHOWN would otherwise list it twice.
    return list(dict.fromkeys(result))
