"""Docker's default seccomp profile, and conversion of Docker-format profiles to OCI."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def default_profile(arch: str | None = None, caps: Iterable[str] = ()) -> dict[str, Any]:
    """Docker's default seccomp profile in OCI ``linux.seccomp`` form for ``arch``
    ("amd64", "arm64", ...; None = host) and a container holding ``caps`` (``CAP_*``).
    """
    raise NotImplementedError


def to_oci(
    profile: dict[str, Any], arch: str | None = None, caps: Iterable[str] = ()
) -> dict[str, Any]:
    """Convert a Docker-format profile (``defaultAction``, ``archMap``, ``syscalls`` with
    ``includes``/``excludes``) to OCI ``linux.seccomp`` for ``arch`` and ``caps``.
    Raises ``InvalidParameter`` for malformed profiles.
    """
    raise NotImplementedError


def from_security_opts(
    security_opts: Iterable[str], arch: str | None, caps: Iterable[str], privileged: bool
) -> dict[str, Any] | None:
    """The seccomp section for a container: None when unconfined (``seccomp=unconfined``
    or privileged without an explicit profile), the given JSON profile
    (``seccomp=<json>``, as the docker CLI sends it), else the default profile.
    """
    raise NotImplementedError
