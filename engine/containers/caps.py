"""Linux capabilities: Docker's default set and --cap-add/--cap-drop resolution."""

from __future__ import annotations

from collections.abc import Iterable

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


def normalize_cap(name: str) -> str:
    """``"net_admin"`` / ``"CAP_NET_ADMIN"`` → ``"CAP_NET_ADMIN"``; ``"all"`` → ``"ALL"``.

    Raises ``InvalidParameter("unknown capability: ...")`` for names Linux does not know.
    """
    raise NotImplementedError


def available_caps() -> list[str]:
    """Every capability in the engine's own bounding set (what a privileged container gets)."""
    raise NotImplementedError


def resolve_caps(
    add: Iterable[str] | None, drop: Iterable[str] | None, privileged: bool = False
) -> list[str]:
    """The container's capability list (``CAP_*`` names) from Docker's CapAdd/CapDrop.

    Follows moby: privileged or ``add=["ALL"]`` starts from every available cap,
    ``drop=["ALL"]`` starts from none; otherwise defaults + add - drop. Caps outside the
    engine's bounding set are left out (the runtime could not grant them anyway).
    """
    raise NotImplementedError
