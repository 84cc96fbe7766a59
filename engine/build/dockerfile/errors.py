"""The errors the Dockerfile parser and the shell lexer raise, worded as dockerd words them."""

from __future__ import annotations


class DockerfileParseError(ValueError):
    """A Dockerfile (or a word in it) that cannot be used; ``str(e)`` is the message a
    client sees, ``line`` the 1-based line it concerns when there is one."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class ExpansionTooLarge(DockerfileParseError):
    """A variable expansion whose result would exceed the size cap: refused early so a
    Dockerfile that doubles a variable on every line fails fast instead of eating memory."""
