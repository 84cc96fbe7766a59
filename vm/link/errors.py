"""The link's errors. Every message is written for the user: it says which host, what
went wrong and, for host keys, both fingerprints in the form ``ssh-keygen -l`` prints."""

from __future__ import annotations


class LinkError(Exception):
    """The link could not do what was asked; the message is for the user."""


class HostKeyMismatch(LinkError):
    """The host offered a key other than the pinned or known one: refused, never retried."""


class UnknownHostKey(LinkError):
    """No pin and no known_hosts entry for the host, and nobody accepted its key.

    ``fingerprint`` lets the caller ask the user and connect again with the key accepted
    (see ``hostkeys.accept_fingerprint``)."""

    def __init__(self, message: str, *, host: str, fingerprint: str, public_line: str) -> None:
        super().__init__(message)
        self.host = host
        self.fingerprint = fingerprint
        self.public_line = public_line


class AuthenticationFailed(LinkError):
    """The host refused every key offered; retrying will not help."""
