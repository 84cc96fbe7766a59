"""Platforms (``os/arch[/variant]``) and choosing one manifest from an index.

Matching follows containerd's rules that dockerd uses: architectures are normalised
(``x86_64`` → ``amd64``, ``aarch64`` → ``arm64``), an ``arm64`` without a variant means
``v8``, and a request without a variant accepts any variant while preferring the
exact one.
"""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameter

_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}


@dataclass(frozen=True)
class Platform:
    """One platform; ``variant`` is "" when unspecified."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def to_dict(self) -> dict[str, str]:
        """OCI/Docker JSON spelling (``architecture``, ``os``, ``variant``)."""
        d = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            d["variant"] = self.variant
        return d


def _normalize(os_: str, arch: str, variant: str) -> Platform:
    os_ = os_.lower()
    arch = _ARCH_ALIASES.get(arch.lower(), arch.lower())
    variant = variant.lower()
    if arch == "arm64" and variant in ("8", "v8"):
        variant = ""  # arm64's only variant is its default
    if arch == "arm" and variant in ("", "7"):
        variant = "v7" if variant == "7" else variant
    if arch == "amd64" and variant == "v1":
        variant = ""
    return Platform(os_, arch, variant)


def parse_platform(spec: str) -> Platform:
    """``linux/arm64``, ``linux/arm/v7``, or just ``arm64`` (os defaults to linux)."""
    parts = spec.strip().split("/")
    if not spec.strip() or len(parts) > 3 or any(not p for p in parts):
        raise InvalidParameter(
            f'"{spec}": unknown operating system or architecture: invalid argument'
        )
    if len(parts) == 1:
        os_, arch, variant = "linux", parts[0], ""
    elif len(parts) == 2:
        os_, arch, variant = parts[0], parts[1], ""
    else:
        os_, arch, variant = parts
    if os_.lower() not in ("linux", "windows", "darwin", "freebsd"):
        raise InvalidParameter(
            f'"{spec}": unknown operating system or architecture: invalid argument'
        )
    return _normalize(os_, arch, variant)


def from_json(d: dict[str, Any] | None) -> Platform | None:
    """A platform from a manifest descriptor's or config's fields."""
    if not d or not d.get("os") or not d.get("architecture"):
        return None
    return _normalize(str(d["os"]), str(d["architecture"]), str(d.get("variant") or ""))


def host_platform() -> Platform:
    """The platform the engine runs containers for."""
    variant = ""
    arch = _ARCH_ALIASES.get(_platform.machine().lower(), _platform.machine().lower())
    if arch == "arm":
        variant = "v7"
    return Platform("linux", arch, variant)


def matches(want: Platform, have: Platform) -> bool:
    """Whether an image of ``have`` satisfies a request for ``want``."""
    if want.os != have.os or want.architecture != have.architecture:
        return False
    return not want.variant or want.variant == have.variant


def select(entries: list[dict[str, Any]], want: Platform) -> dict[str, Any] | None:
    """The best index entry for ``want``: exact variant first, then any variant.

    Entries without a platform (attestations, unknown artifacts) never match.
    """
    best: dict[str, Any] | None = None
    best_score = -1
    for entry in entries:
        have = from_json(entry.get("platform"))
        if have is None or not matches(want, have):
            continue
        # An exact variant beats "any"; the first of equals wins (index order).
        score = 2 if have.variant == want.variant else 1
        if score > best_score:
            best, best_score = entry, score
    return best
