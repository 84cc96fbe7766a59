"""``SocketForwarder``: a host unix socket whose connections reach a socket in the guest.

The machine's ``docker.sock`` is this: each client connection becomes one
``direct-streamlocal@openssh.com`` channel to the guest engine's socket, so no guest TCP
port is exposed for the engine at all.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import stat
from pathlib import Path

import paramiko

from .errors import LinkError
from .pump import Acceptor
from .ssh import SshLink

log = logging.getLogger(__name__)

BACKLOG = 128


def socket_answers(path: Path) -> bool:
    """Whether some process accepts connections on the unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError as e:
            # Refused (nobody listens: a stale file) or gone. A full backlog (EAGAIN) or a
            # timeout means someone is there.
            return e.errno not in (errno.ECONNREFUSED, errno.ENOENT)
        return True


def bind_unix(path: Path, mode: int) -> socket.socket:
    """A listening unix socket at ``path`` with ``mode``, replacing a stale socket file.

    The socket is bound under a temporary name, given its mode and renamed over ``path``,
    so no client ever connects to it with looser permissions, and a stale file is
    replaced in one step. A socket that a live process answers on is never replaced, and
    a path that is not a socket is never touched.
    """
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISSOCK(st.st_mode):
            raise LinkError(f"{path} exists and is not a socket; not replacing it")
        if socket_answers(path):
            raise LinkError(f"{path} is in use: another process answers on it")
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(temp))
        os.chmod(temp, mode)
        os.rename(temp, path)
        sock.listen(BACKLOG)
    except OSError as e:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise LinkError(f"cannot listen on {path}: {e.strerror or e}") from e
    return sock


class SocketForwarder:
    """Listens on ``listen_path`` (mode ``mode``); each accepted connection is pumped to
    and from one streamlocal channel to ``remote_path``, with half-close both ways.

    A client that connects while the link is reconnecting waits up to ``link_grace``
    seconds for it rather than failing at once (a guest reboot or a keepalive blip should
    not fail a ``docker`` command that happened to start then)."""

    def __init__(
        self,
        link: SshLink,
        listen_path: Path,
        remote_path: str,
        mode: int = 0o600,
        *,
        link_grace: float = 5.0,
    ) -> None:
        self.link = link
        self.listen_path = listen_path
        self.remote_path = remote_path
        self.mode = mode
        self.link_grace = link_grace
        self._acceptor: Acceptor | None = None
        self._identity: tuple[int, int] | None = None

    async def start(self) -> None:
        if self._acceptor is not None:
            return
        listener = bind_unix(self.listen_path, self.mode)
        st = self.listen_path.lstat()
        self._identity = (st.st_dev, st.st_ino)
        self._acceptor = Acceptor(listener, self._open, f"fwd-{self.listen_path.name}")
        self._acceptor.start()
        log.info(
            "forwarding %s to %s on %s", self.listen_path, self.remote_path, self.link.target.where
        )

    async def _open(self) -> paramiko.Channel:
        await self.link.ready(self.link_grace)
        return await self.link.open_unix(self.remote_path)

    @property
    def connections(self) -> int:
        """Client connections being forwarded right now."""
        return self._acceptor.connections if self._acceptor else 0

    async def close(self) -> None:
        """Stop listening, end forwarded connections and remove the socket file — only if
        it is still ours (another forwarder may have taken the path over since)."""
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is None:
            return
        await acceptor.close()
        try:
            st = self.listen_path.lstat()
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) == self._identity:
            with contextlib.suppress(FileNotFoundError):
                self.listen_path.unlink()
