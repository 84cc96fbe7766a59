"""The accelerator choice: candidates per platform, and the verdict's shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from portside.vm.image import Bundle
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


@pytest.mark.vm
async def test_tcg_boots_the_bundle_kernel_past_its_banner(vm_bundle: Bundle) -> None:
    assert await accel.probe("tcg", vm_bundle.kernel, timeout=120) is None


@pytest.mark.vm
async def test_auto_tries_kvm_here_and_remembers_the_verdict(
    vm_bundle: Bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "accel.json"
    monkeypatch.setattr(accel, "_verdicts", {})
    verdict = await choose_accel("auto", vm_bundle.kernel, cache=cache)
    # /dev/kvm exists on this host but cannot run a guest: KVM fails its check, TCG is used.
    assert verdict.chosen == "tcg"
    assert [a for a, _ in verdict.tried] == ["kvm"]
    # A new process (empty memory) takes the verdict from the cache without probing again.
    monkeypatch.setattr(accel, "_verdicts", {})

    async def no_probe(*_a: object, **_k: object) -> str | None:
        raise AssertionError("probed again")

    monkeypatch.setattr(accel, "probe", no_probe)
    assert await choose_accel("auto", vm_bundle.kernel, cache=cache) == verdict
    # A different request is not answered from the cache.
    with pytest.raises(AssertionError, match="probed again"):
        await choose_accel("kvm", vm_bundle.kernel, cache=cache)
