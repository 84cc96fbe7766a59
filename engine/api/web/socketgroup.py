"""The group that owns the engine's sockets (``portsided -G``, dockerd's ``--group``).

Members of that group may use the engine without root: the socket is ``0660 root:GROUP``.
As with dockerd, the default group (``portside``) is used when it exists and silently
skipped when it does not (the socket stays root's alone); a group asked for by name that
does not exist is an error.
"""

from __future__ import annotations

import grp
import logging

DEFAULT_GROUP = "portside"

log = logging.getLogger(__name__)


class UnknownGroup(Exception):
    """``-G`` names a group this system does not have."""


def socket_gid(group: str | None) -> int | None:
    """The group id for ``group`` (a name or a number); None: leave the socket root's.

    ``None`` means "not asked for": the default group if the system has one.
    An empty string turns group ownership off.
    """
    if group == "":
        return None
    name = DEFAULT_GROUP if group is None else group
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        pass
    if name.isdigit():
        return int(name)
    if group is None:
        log.debug("no %r group: the API socket stays root's", DEFAULT_GROUP)
        return None
    raise UnknownGroup(f"group {name!r} not found: create it (groupadd {name}) or pick another")
