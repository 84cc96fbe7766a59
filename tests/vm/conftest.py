"""The booted machine shared by every ``vm`` test of a session.

A boot under TCG takes most of a minute, so one machine is booted per test session and
reused (``support/vm_machine.py``). QEMU is killed at the end of the session even when the
boot or a test failed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from portside.vm.config import Share
from portside.vm.image import Bundle
from support.vm_bundle import cached_bundle
from support.vm_machine import BOOT_TIMEOUT, BootedMachine, boot_machine

# The first test to ask for the bundle or the machine pays for a bundle build (minutes,
# once per source change) and a boot under TCG; the suite's per-test timeout is too short.
VM_SETUP_TIMEOUT = int(BOOT_TIMEOUT) + 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "vm_bundle" in fixtures or "booted_machine" in fixtures:
            item.add_marker(pytest.mark.timeout(VM_SETUP_TIMEOUT))


@pytest.fixture(scope="session")
def vm_bundle() -> Bundle:
    """The guest bundle for the current sources (built on first use, then cached)."""
    return cached_bundle()


@pytest.fixture(scope="session")
def booted_machine(
    vm_bundle: Bundle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BootedMachine]:
    """One machine booted to READY for the whole session (restricted user network), with
    one shared host folder (9p) mounted at the same path in the guest."""
    root = tmp_path_factory.mktemp("vm") / "m"
    shared = tmp_path_factory.mktemp("vm-share")
    booted = boot_machine(root, vm_bundle, shares=(Share(host_path=str(shared)),))
    try:
        yield booted
    finally:
        booted.shutdown()
