"""What a build was asked to do: the ``POST /build`` query, checked before any work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameter
from ..images.reference import parse_reference


@dataclass
class BuildOptions:
    """A validated build request (the route turns the query into this)."""

    dockerfile: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    quiet: bool = False
    nocache: bool = False
    cachefrom: list[str] = field(default_factory=list)
    pull: bool = False
    rm: bool = True
    forcerm: bool = False
    memory: int = 0
    memswap: int = 0
    cpushares: int = 0
    cpusetcpus: str = ""
    cpusetmems: str = ""
    cpuperiod: int = 0
    cpuquota: int = 0
    cgroupparent: str = ""
    shmsize: int = 0
    buildargs: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    networkmode: str = "default"
    extrahosts: list[str] = field(default_factory=list)
    ulimits: list[dict[str, Any]] = field(default_factory=list)
    securityopt: list[str] = field(default_factory=list)
    target: str = ""
    platform: str = ""
    squash: bool = False
    outputs: str = ""
    remote: str = ""
    registry_auth: dict[str, Any] = field(default_factory=dict)

    def host_config(self) -> dict[str, Any]:
        """The HostConfig of the containers RUN steps execute in."""
        mode = self.networkmode
        hc: dict[str, Any] = {
            "NetworkMode": "bridge" if mode in ("", "default") else mode,
            "LogConfig": {"Type": "none", "Config": {}},
        }
        for key, value in (
            ("Memory", self.memory),
            ("MemorySwap", self.memswap),
            ("CpuShares", self.cpushares),
            ("CpusetCpus", self.cpusetcpus),
            ("CpusetMems", self.cpusetmems),
            ("CpuPeriod", self.cpuperiod),
            ("CpuQuota", self.cpuquota),
            ("CgroupParent", self.cgroupparent),
            ("ShmSize", self.shmsize),
            ("ExtraHosts", self.extrahosts),
            ("Ulimits", self.ulimits),
            ("SecurityOpt", self.securityopt),
        ):
            if value:
                hc[key] = value
        return hc


def validate_tags(tags: list[str]) -> list[str]:
    """Normalised ``name:tag`` strings; a digest or a bad name is a 400 before any work."""
    out = []
    for t in tags:
        if not t:
            continue
        try:
            ref = parse_reference(t)
        except InvalidParameter:
            raise InvalidParameter(f"invalid reference format: {t}") from None
        if ref.digest:
            raise InvalidParameter(f"invalid reference format: {t}")
        out.append(ref.with_default_tag().string())
    return out


def check_platform(text: str) -> None:
    """Refuse a ``platform`` other than this host's, in dockerd's wording."""
    from ..distribution.platforms import parse_platform
    from ..system import hostinfo

    plat = parse_platform(text)
    if plat.os != "linux" or plat.architecture != hostinfo.go_arch():
        raise InvalidParameter(
            f"image with reference {text} was found but does not match the specified "
            f"platform: wanted {text}, actual: linux/{hostinfo.go_arch()}"
        )
