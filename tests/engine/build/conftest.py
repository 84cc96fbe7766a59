"""A private dockerd whose classic builder (driven by the real docker CLI) is the
reference for the parser, the lexer and ``.dockerignore``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.dockerd import Dockerd, running_dockerd


@pytest.fixture(scope="module")
def dockerd(busybox_tar: Path) -> Iterator[Dockerd]:
    """A dockerd with busybox loaded, to compare builds with."""
    yield from running_dockerd(busybox_tar)
