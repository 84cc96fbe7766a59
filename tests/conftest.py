"""Fixtures shared by every test: real engines, the docker CLI, test images."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engine import PortsideEngine
from support.images import busybox_archive


def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the engine needs root (containers, mounts, cgroups)")


@pytest.fixture(scope="session")
def busybox_tar() -> Path:
    """The busybox image as a docker-archive, built offline from busybox-static."""
    return busybox_archive()


@pytest.fixture
def engine() -> Iterator[PortsideEngine]:
    """A fresh engine for one test, removed with everything it made."""
    _needs_root()
    e = PortsideEngine()
    try:
        e.start()
        yield e
    finally:
        e.cleanup()


@pytest.fixture
def engine_with_busybox(engine: PortsideEngine, busybox_tar: Path) -> PortsideEngine:
    """A fresh engine with ``busybox:latest`` loaded through ``docker load``."""
    engine.docker("load", "-i", str(busybox_tar))
    return engine


@pytest.fixture(scope="module")
def shared_engine(busybox_tar: Path) -> Iterator[PortsideEngine]:
    """One engine for a module whose tests do not disturb each other (faster)."""
    _needs_root()
    e = PortsideEngine()
    try:
        e.start()
        e.docker("load", "-i", str(busybox_tar))
        yield e
    finally:
        e.cleanup()


@pytest.fixture(scope="session")
def docker_cli() -> str:
    """Path of the real docker CLI."""
    path = shutil.which("docker")
    if not path:
        pytest.fail("the docker CLI is not installed (apt-get install docker.io)")
    return path
