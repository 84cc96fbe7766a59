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
from support.vm_machine import BootedMachine, boot_machine

# ``vm_bundle`` and the longer timeout of tests that use it live in tests/conftest.py: the
# app's machine tests need the bundle too.


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
