"""The accelerator choice: candidates per platform, and the verdict's shape."""

from __future__ import annotations

from pathlib import Path

from portside.vm.qemu import accel
from portside.vm.qemu.accel import AccelVerdict, choose_accel, hardware_accel, kvm_usable


def test_hardware_accelerator_per_platform() -> None:
    assert hardware_accel("darwin") == "hvf"
    assert hardware_accel("win32") == "whpx"
    assert hardware_accel("linux") == "kvm"
    assert hardware_accel("freebsd13") is None


def test_kvm_usable_says_why_not(tmp_path: Path) -> None:
    why = kvm_usable(str(tmp_path / "kvm"))
    assert why is not None and "No such file" in why


async def test_tcg_needs_no_probe(tmp_path: Path) -> None:
    verdict = await choose_accel("tcg", tmp_path / "no-kernel")
    assert verdict == AccelVerdict("tcg", ())


async def test_a_qemu_that_cannot_run_is_reported(tmp_path: Path) -> None:
    why = await accel.probe("tcg", tmp_path / "no-kernel", binary=str(tmp_path / "no-qemu"))
    assert why is not None and why.startswith("cannot run")


async def test_a_qemu_that_exits_is_reported_with_its_message(tmp_path: Path) -> None:
    # A kernel file that does not exist: QEMU exits at once and says why.
    why = await accel.probe("tcg", tmp_path / "no-kernel", timeout=30)
    assert why is not None and why.startswith("QEMU exited with code 1")
    assert "no-kernel" in why
