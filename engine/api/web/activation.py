"""Sockets handed over by a service manager (systemd's socket activation).

The ``sd_listen_fds(3)`` protocol, without libsystemd: the manager binds the sockets,
starts the service with them open from descriptor 3 on, and says how many in
``LISTEN_FDS`` — for the process whose id is ``LISTEN_PID`` only, so a child that
inherits the environment never mistakes them for its own. ``portsided -H fd://`` serves
these sockets (dockerd's spelling): the socket exists, with its owner and mode, before
the engine starts, and connections made meanwhile wait in the kernel's backlog.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import MutableMapping

LISTEN_FDS_START = 3
_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class ActivationError(Exception):
    """The inherited descriptors are not what ``fd://`` serves."""


def listen_fds(environ: MutableMapping[str, str] | None = None, unset: bool = True) -> list[int]:
    """The descriptors passed to this process; the variables are removed when ``unset``
    (as ``sd_listen_fds(1)`` does), so processes we start never see them."""
    env = os.environ if environ is None else environ
    pid, count = env.get("LISTEN_PID", ""), env.get("LISTEN_FDS", "")
    if unset:
        for name in _VARIABLES:
            env.pop(name, None)
    if not pid or not count:
        return []
    try:
        if int(pid) != os.getpid():
            return []
        n = int(count)
    except ValueError as e:
        raise ActivationError(f"invalid LISTEN_PID/LISTEN_FDS ({pid!r}, {count!r})") from e
    if n < 0:
        raise ActivationError(f"invalid LISTEN_FDS {count!r}")
    return list(range(LISTEN_FDS_START, LISTEN_FDS_START + n))


def listening_unix_socket(fd: int) -> socket.socket:
    """The inherited ``fd`` as a socket object, if it is a listening unix stream socket."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError as e:
        raise ActivationError(f"inherited descriptor {fd} is not open") from e
    if not stat.S_ISSOCK(mode):
        raise ActivationError(f"inherited descriptor {fd} is not a socket")
    sock = socket.socket(fileno=fd)
    try:
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM or not listening:
            raise ActivationError(
                f"inherited descriptor {fd} is not a listening unix stream socket"
            )
    except BaseException:
        sock.detach()
        raise
    # The manager leaves it inheritable; containers' processes must not inherit it.
    sock.set_inheritable(False)
    sock.setblocking(False)
    return sock


def activated_sockets(environ: MutableMapping[str, str] | None = None) -> list[socket.socket]:
    """Every socket handed to this process; ActivationError when there is none, because
    ``fd://`` without them means the engine was not started by a service manager."""
    fds = listen_fds(environ)
    if not fds:
        # dockerd's wording for the same mistake.
        raise ActivationError(
            "no sockets found via socket activation: make sure the service was started by systemd"
        )
    return [listening_unix_socket(fd) for fd in fds]
