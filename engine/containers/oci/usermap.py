"""Resolve Docker's ``user[:group]`` against a rootfs's /etc/passwd and /etc/group.

The rules are runc's libcontainer/user.GetExecUser (which moby uses): numeric ids
need no files, names must be found, an explicit group replaces the primary group and
suppresses supplementary groups, an implicit one keeps the user's memberships. The
files are read *inside* the rootfs: symlinks in the image are followed as the
container would see them, never out of the rootfs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import InvalidParameter

MIN_ID = 0
MAX_ID = 2**31 - 1
_MAX_SYMLINKS = 40
_RANGE_ERROR = "uids and gids must be in range 0-2147483647"


@dataclass
class ResolvedUser:
    """The numeric identity a container process runs as."""

    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"
    name: str = ""


@dataclass
class _PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str


@dataclass
class _GroupEntry:
    name: str
    gid: int
    members: list[str]


def secure_join(root: Path, path: str) -> Path:
    """``root``/``path`` with every symlink resolved as if ``root`` were ``/``.

    Like Go's securejoin: ``..`` and absolute link targets can never leave ``root``.
    Missing components are kept literally (the result may not exist).
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        try:
            is_link = candidate.is_symlink()
        except OSError:
            is_link = False
        if not is_link:
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_SYMLINKS:
            raise InvalidParameter(f"too many levels of symbolic links resolving {path}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return root.joinpath(*resolved)


def _read_lines(root: Path, path: str) -> list[str] | None:
    """The lines of a file inside the rootfs, or None if it is missing/unreadable."""
    target = secure_join(root, path)
    try:
        with open(target, "rb") as f:
            data = f.read(16 * 1024 * 1024)
    except OSError:
        return None
    lines = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line:
            lines.append(line)
    return lines


def _atoi(s: str) -> int:
    """Go-ish Atoi as libcontainer's parser uses it: bad numbers read as 0."""
    try:
        return int(s, 10)
    except ValueError:
        return 0


def _parse_passwd(lines: list[str]) -> list[_PasswdEntry]:
    out = []
    for line in lines:
        f = line.split(":")
        f += [""] * (7 - len(f))
        out.append(_PasswdEntry(name=f[0], uid=_atoi(f[2]), gid=_atoi(f[3]), home=f[5]))
    return out


def _parse_group(lines: list[str]) -> list[_GroupEntry]:
    out = []
    for line in lines:
        f = line.split(":")
        f += [""] * (4 - len(f))
        members = [m for m in f[3].split(",") if m]
        out.append(_GroupEntry(name=f[0], gid=_atoi(f[2]), members=members))
    return out


def _numeric(s: str) -> int | None:
    # Go's strconv.Atoi accepts an optional sign and decimal digits only.
    body = s[1:] if s[:1] in "+-" else s
    if not body or not body.isdigit() or not body.isascii():
        return None
    return int(s, 10)


def _check_range(n: int) -> int:
    if n < MIN_ID or n > MAX_ID:
        raise InvalidParameter(_RANGE_ERROR)
    return n


def resolve_user(rootfs: Path, user: str, group_add: Iterable[str] = ()) -> ResolvedUser:
    """Resolve ``user`` ("", "name", "uid", "name:group", "uid:gid", ...) like runc's
    libcontainer/user.GetExecUser does, plus HostConfig.GroupAdd groups.

    ``additional_gids`` is moby's list: the primary gid, then the user's supplementary
    groups (implicit form only), then GroupAdd. Numeric ids work without passwd/group
    files. Unknown names raise ``InvalidParameter`` with Docker's wording
    (``unable to find user xyz: no matching entries in passwd file``).
    """
    user_arg, _, group_arg = (user or "").partition(":")
    # Anything after a second ':' is ignored, as libcontainer's parseLine does.
    group_arg = group_arg.split(":", 1)[0]
    uid_num = _numeric(user_arg)
    gid_num = _numeric(group_arg)

    result = ResolvedUser(uid=0, gid=0, home="/")
    passwd = _read_lines(rootfs, "/etc/passwd")
    group = _read_lines(rootfs, "/etc/group")

    matched_name = ""
    entries = _parse_passwd(passwd) if passwd is not None else []
    match: _PasswdEntry | None = None
    for e in entries:
        if user_arg == "":
            ok = e.uid == result.uid
        elif uid_num is not None:
            ok = e.uid == uid_num
        else:
            ok = e.name == user_arg
        if ok:
            match = e
            break
    if match is not None:
        matched_name = match.name
        result.uid, result.gid, result.home, result.name = (
            match.uid,
            match.gid,
            match.home,
            match.name,
        )
    elif user_arg:
        if uid_num is None:
            raise InvalidParameter(
                f"unable to find user {user_arg}: no matching entries in passwd file"
            )
        result.uid = _check_range(uid_num)

    sgids: list[int] = []
    groups = _parse_group(group) if group is not None else []
    if group_arg or matched_name:
        if group_arg:
            found: _GroupEntry | None = None
            for g in groups:
                if (gid_num is not None and g.gid == gid_num) or (
                    gid_num is None and g.name == group_arg
                ):
                    found = g
                    break
            if found is not None:
                result.gid = found.gid
            elif gid_num is None:
                raise InvalidParameter(
                    f"unable to find group {group_arg}: no matching entries in group file"
                )
            else:
                result.gid = _check_range(gid_num)
        else:
            # Supplementary groups only make sense in the implicit form.
            sgids = [g.gid for g in groups if matched_name in g.members]

    added: list[int] = []
    for ag in group_add:
        found_gid: int | None = None
        for g in groups:
            if (g.name == ag or str(g.gid) == ag) and g.gid not in added:
                found_gid = g.gid
                break
        if found_gid is None:
            n = _numeric(ag)
            if n is None:
                raise InvalidParameter(
                    f"Unable to find group {ag}: no matching entries in group file"
                )
            found_gid = _check_range(n)
        if found_gid not in added:
            added.append(found_gid)

    result.additional_gids = [result.gid, *sgids, *added]
    return result
