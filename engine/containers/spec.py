"""OCI runtime spec (config.json) generation, mirroring moby's defaults.

``build_spec`` is a pure function of a :class:`SpecInput` plus a few read-only facts
about the host (the engine's own rlimits and capability bounding set, the rootfs's
/etc/passwd and /etc/group). It never touches the network or cgroups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
INIT_PATH_IN_CONTAINER = "/sbin/docker-init"


@dataclass
class SpecInput:
    """Everything ``build_spec`` needs about one container.

    ``host_config`` is Docker's HostConfig JSON exactly as the client sent it (keys such
    as ``Memory``, ``NanoCpus``, ``CapAdd``, ``Privileged``, ``Ulimits``, ``SecurityOpt``,
    ``Tmpfs``, ``Devices``, ``NetworkMode``...). Missing keys mean Docker's defaults.
    """

    id: str
    rootfs: Path
    args: list[str]
    name: str = ""
    hostname: str = ""
    domainname: str = ""
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    tty: bool = False
    open_stdin: bool = False
    host_config: dict[str, Any] = field(default_factory=dict)
    # Join this network namespace; None means a new one (none at all for NetworkMode=host).
    netns_path: str | None = None
    hosts_file: Path | None = None
    resolv_file: Path | None = None
    hostname_file: Path | None = None
    # e.g. "/portside/<id>"; empty lets the runtime choose.
    cgroups_path: str = ""
    # OCI mounts (volumes, binds) appended after the defaults; same destination wins.
    extra_mounts: list[dict[str, Any]] = field(default_factory=list)
    # Host path of a static init (tini-static); used when HostConfig.Init is true.
    init_path: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    stop_signal: str | None = None
    # Docker/OCI architecture name ("amd64", "arm64"); None means the host's.
    arch: str | None = None


def build_spec(inp: SpecInput) -> dict[str, Any]:
    """Return the OCI runtime config.json for ``inp`` (ociVersion 1.0.2).

    Raises ``InvalidParameter`` for bad input (unknown user or capability, bad ulimit,
    bad security option, bad device spec).
    """
    raise NotImplementedError


def build_exec_process(
    spec: dict[str, Any],
    rootfs: Path,
    args: list[str],
    *,
    env: list[str] | None = None,
    user: str = "",
    working_dir: str = "",
    tty: bool = False,
    privileged: bool = False,
) -> dict[str, Any]:
    """The OCI ``process`` object for ``runc exec --process`` in a container built from
    ``spec``, as ``docker exec`` does: the container's env with ``env`` appended, its
    user unless ``user`` overrides it, all capabilities when ``privileged``.
    """
    raise NotImplementedError
