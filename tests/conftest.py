"""Fixtures shared by every test: real engines, the docker CLI, test images.

Tests marked ``runtime_matrix`` run once per OCI runtime of the matrix
(``support.runtimes``): their engines are started with ``--runtime crun`` or
``--runtime runc`` and the test ids end in ``[crun]``/``[runc]``. Every other test gets an
engine that chooses its runtime itself — the default path users get.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engine import PortsideEngine
from support.images import busybox_archive
from support.runtimes import RuntimeMatrix, runtime_matrix

MATRIX: RuntimeMatrix = runtime_matrix()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "runtime_matrix: run the test's engines once per OCI runtime (crun, runc)"
    )


def pytest_report_header(config: pytest.Config) -> str:
    return MATRIX.header()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # -q (dev.sh, CI) hides the header: say again, before the counts, what ran where.
    terminalreporter.write_line(MATRIX.header())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "runtime" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "runtime_matrix"
    ):
        # Module scope: a module's shared engine is started once per runtime.
        metafunc.parametrize(
            "runtime", MATRIX.runtimes, indirect=True, ids=MATRIX.runtimes, scope="module"
        )


@pytest.fixture(scope="module")
def runtime(request: pytest.FixtureRequest) -> str | None:
    """The OCI runtime the test's engines must use; None lets the engine choose."""
    name: str | None = getattr(request, "param", None)
    if name is not None and name in MATRIX.problems:
        pytest.fail(f"the {name} leg cannot run on this host: {MATRIX.problems[name]}")
    return name


def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the engine needs root (containers, mounts, cgroups)")


# The first test to ask for the guest bundle or a booted machine pays for a bundle build
# (minutes, once per source change) and a boot under TCG; the per-test timeout is too short.
VM_SETUP_TIMEOUT = 1800


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "vm_bundle" in fixtures or "booted_machine" in fixtures:
            item.add_marker(pytest.mark.timeout(VM_SETUP_TIMEOUT))


@pytest.fixture(scope="session")
def vm_bundle():  # type: ignore[no-untyped-def]
    """The Portside Machine guest bundle for the current sources (built as root on first
    use, then cached under /var/cache/portside-tests)."""
    from support.vm_bundle import cached_bundle

    _needs_root()
    return cached_bundle()


@pytest.fixture(scope="session")
def busybox_tar() -> Path:
    """The busybox image as a docker-archive, built offline from busybox-static."""
    return busybox_archive()


@pytest.fixture
def engine(runtime: str | None) -> Iterator[PortsideEngine]:
    """A fresh engine for one test, removed with everything it made."""
    _needs_root()
    e = PortsideEngine(runtime=runtime)
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
def shared_engine(busybox_tar: Path, runtime: str | None) -> Iterator[PortsideEngine]:
    """One engine for a module whose tests do not disturb each other (faster)."""
    _needs_root()
    e = PortsideEngine(runtime=runtime)
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
