"""Resolve Docker's ``user[:group]`` against a rootfs's /etc/passwd and /etc/group."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ResolvedUser:
    """The numeric identity a container process runs as."""

    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"
    name: str = ""


def resolve_user(rootfs: Path, user: str, group_add: Iterable[str] = ()) -> ResolvedUser:
    """Resolve ``user`` ("", "name", "uid", "name:group", "uid:gid", ...) like runc's
    libcontainer/user.GetExecUser does, plus HostConfig.GroupAdd groups.

    Numeric ids work without passwd/group files. Unknown names raise ``InvalidParameter``
    with Docker's wording (``unable to find user xyz: no matching entries in passwd file``).
    The files are read through the rootfs without following symlinks out of it.
    """
    raise NotImplementedError
