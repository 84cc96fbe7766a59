"""Dockerfile parsing, faithful to BuildKit's parser as dockerd's classic builder uses it.

Pure Python: no I/O, no asyncio. ``parse`` reads the bytes of a Dockerfile into stages of
instructions whose words are not yet variable-expanded (``shell_lex.ShellLex`` expands
them, with the environment the executor keeps). Errors are ``DockerfileParseError`` whose
text is dockerd's.
"""

from __future__ import annotations

from .ast import MAX_DOCKERFILE, MAX_LINE, parse_ast
from .errors import DockerfileParseError, ExpansionTooLarge
from .instructions import build
from .model import Dockerfile, Heredoc, Instruction, Stage

__all__ = [
    "MAX_DOCKERFILE",
    "MAX_LINE",
    "Dockerfile",
    "DockerfileParseError",
    "ExpansionTooLarge",
    "Heredoc",
    "Instruction",
    "Stage",
    "parse",
]


def parse(data: bytes) -> Dockerfile:
    """Parse a Dockerfile (at most 4 MiB, lines at most 65535 bytes) in linear time."""
    return build(parse_ast(data))
