"""The SSH link to a machine or remote host: pinned host key, streamlocal to the engine
socket, the host-side ``docker.sock`` and the published-port forwarders.

Modules: ``ssh`` (the kept-alive connection), ``hostkeys`` (pin and known_hosts policy),
``streamlocal`` (the paramiko Transport that opens ``direct-streamlocal@openssh.com``),
``pump`` (socket ↔ channel with half-close), ``sockets`` (the unix-socket forwarder),
``ports`` (published ports, following the engine's events), ``enginehttp`` (HTTP to the
engine over a channel), ``errors``.
"""

from .errors import AuthenticationFailed, HostKeyMismatch, LinkError, UnknownHostKey
from .hostkeys import (
    HostKeyPolicy,
    HostKeyQuestion,
    KnownHostsPolicy,
    PinnedHostKey,
    UnknownHostKeyHook,
    accept_fingerprint,
    fingerprint,
)
from .ports import ForwardedPort, PortForwarder
from .sockets import SocketForwarder
from .ssh import LinkState, SshLink, SshTarget

__all__ = [
    "AuthenticationFailed",
    "ForwardedPort",
    "HostKeyMismatch",
    "HostKeyPolicy",
    "HostKeyQuestion",
    "KnownHostsPolicy",
    "LinkError",
    "LinkState",
    "PinnedHostKey",
    "PortForwarder",
    "SocketForwarder",
    "SshLink",
    "SshTarget",
    "UnknownHostKey",
    "UnknownHostKeyHook",
    "accept_fingerprint",
    "fingerprint",
]
