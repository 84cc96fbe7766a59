"""The QEMU command line, built without running QEMU."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from portside.vm.qemu import QemuSpec, ShareSpec, argv
from portside.vm.seed import FW_CFG_NAME, READY_PORT_NAME


def spec(**kw: Any) -> QemuSpec:
    base = QemuSpec(
        kernel=Path("/b/kernel"),
        initrd=Path("/b/initrd"),
        disk=Path("/m/disk.qcow2"),
        qmp_socket=Path("/m/qmp.sock"),
        ready_socket=Path("/m/ready.sock"),
        serial_log=Path("/m/console.log"),
        seed=Path("/m/seed.json"),
        ssh_port=2222,
    )
    return dataclasses.replace(base, **kw)


def value_after(args: list[str], flag: str) -> list[str]:
    """Every value given to ``flag``."""
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def devices(args: list[str]) -> list[str]:
    return value_after(args, "-device")


def test_no_defaults_and_no_display() -> None:
    a = argv(spec())
    assert a[0] == "qemu-system-x86_64"
    assert "-nodefaults" in a and "-no-user-config" in a
    assert value_after(a, "-display") == ["none"]


def test_tcg_bounds_the_translation_cache_and_uses_cpu_max() -> None:
    a = argv(spec(accel="tcg"))
    assert value_after(a, "-accel") == ["tcg,thread=multi,tb-size=128"]
    assert value_after(a, "-cpu") == ["max"]
    assert value_after(argv(spec(accel="tcg", tb_size_mib=64)), "-accel") == [
        "tcg,thread=multi,tb-size=64"
    ]


def test_kvm_uses_the_host_cpu() -> None:
    a = argv(spec(accel="kvm"))
    assert value_after(a, "-accel") == ["kvm"]
    assert value_after(a, "-cpu") == ["host"]


def test_unknown_accel_or_machine_is_refused() -> None:
    with pytest.raises(ValueError, match="accelerator"):
        argv(spec(accel="xen"))
    with pytest.raises(ValueError, match="machine type"):
        argv(spec(machine="pc-i440fx"))


def test_cpus_and_memory() -> None:
    a = argv(spec(cpus=4, memory_mib=3072))
    assert value_after(a, "-smp") == ["4"]
    assert value_after(a, "-m") == ["3072M"]


def test_direct_kernel_boot_on_the_serial_console() -> None:
    a = argv(spec())
    assert value_after(a, "-kernel") == ["/b/kernel"]
    assert value_after(a, "-initrd") == ["/b/initrd"]
    (append,) = value_after(a, "-append")
    words = append.split()
    assert "console=ttyS0" in words and "root=/dev/vda" in words
    assert "net.ifnames=0" in words  # the guest's network unit configures eth0
    extra = argv(spec(extra_append=("systemd.log_level=debug",)))
    assert value_after(extra, "-append")[0].endswith("systemd.log_level=debug")


def test_disk_is_virtio_blk_with_discard() -> None:
    a = argv(spec())
    (drive,) = value_after(a, "-drive")
    opts = drive.split(",")
    assert "file=/m/disk.qcow2" in opts and "format=qcow2" in opts
    assert "discard=unmap" in opts and "detect-zeroes=unmap" in opts
    assert "virtio-blk-pci,drive=disk0" in devices(a)


def test_paths_with_commas_are_escaped() -> None:
    a = argv(spec(disk=Path("/m,x/disk.qcow2"), seed=Path("/m,x/seed.json")))
    assert "file=/m,,x/disk.qcow2" in value_after(a, "-drive")[0]
    assert value_after(a, "-fw_cfg") == [f"name={FW_CFG_NAME},file=/m,,x/seed.json"]


@pytest.mark.parametrize("restrict,flag", [(True, "restrict=on"), (False, "restrict=off")])
def test_user_network_forwards_ssh_on_loopback(restrict: bool, flag: str) -> None:
    a = argv(spec(restrict_network=restrict, ssh_port=40022))
    (netdev,) = value_after(a, "-netdev")
    assert netdev.startswith("user,id=net0,")
    assert flag in netdev.split(",")
    assert "hostfwd=tcp:127.0.0.1:40022-:22" in netdev.split(",")
    assert "virtio-net-pci,netdev=net0" in devices(a)


def test_qmp_on_a_unix_socket() -> None:
    a = argv(spec())
    chardevs = value_after(a, "-chardev")
    assert "socket,id=qmp0,path=/m/qmp.sock,server=on,wait=off" in chardevs
    assert value_after(a, "-mon") == ["chardev=qmp0,mode=control"]


def test_console_goes_to_the_serial_log() -> None:
    a = argv(spec())
    assert "file,id=console0,path=/m/console.log" in value_after(a, "-chardev")
    assert value_after(a, "-serial") == ["chardev:console0"]


def test_ready_port_is_a_named_virtio_serial_port() -> None:
    a = argv(spec())
    assert "socket,id=ready0,path=/m/ready.sock,server=on,wait=off" in value_after(a, "-chardev")
    assert "virtio-serial-pci" in devices(a)
    assert f"virtserialport,chardev=ready0,name={READY_PORT_NAME}" in devices(a)


def test_seed_in_fw_cfg() -> None:
    assert value_after(argv(spec()), "-fw_cfg") == [f"name={FW_CFG_NAME},file=/m/seed.json"]


def test_balloon_returns_free_pages() -> None:
    assert "virtio-balloon-pci,free-page-reporting=on" in devices(argv(spec()))


def test_entropy_device() -> None:
    a = argv(spec())
    assert "rng-random,id=rng0,filename=/dev/urandom" in value_after(a, "-object")
    assert "virtio-rng-pci,rng=rng0" in devices(a)


def test_no_shares_no_9p() -> None:
    a = argv(spec())
    assert "-fsdev" not in a
    assert not [d for d in devices(a) if "9p" in d]


def test_each_share_is_a_9p_device_with_its_tag() -> None:
    a = argv(
        spec(
            shares=(
                ShareSpec(tag="share0", host_path="/home/u"),
                ShareSpec(tag="share1", host_path="/srv/ro", read_only=True),
            )
        )
    )
    fsdevs = value_after(a, "-fsdev")
    assert fsdevs == [
        "local,id=fsdev0,path=/home/u,security_model=none",
        "local,id=fsdev1,path=/srv/ro,security_model=none,readonly=on",
    ]
    assert "virtio-9p-pci,fsdev=fsdev0,mount_tag=share0" in devices(a)
    assert "virtio-9p-pci,fsdev=fsdev1,mount_tag=share1" in devices(a)


def test_microvm_uses_virtio_mmio_devices() -> None:
    a = argv(spec(machine="microvm", shares=(ShareSpec(tag="s", host_path="/h"),)))
    assert value_after(a, "-machine")[0].startswith("microvm,")
    devs = devices(a)
    assert "virtio-blk-device,drive=disk0" in devs
    assert "virtio-net-device,netdev=net0" in devs
    assert "virtio-9p-device,fsdev=fsdev0,mount_tag=s" in devs
    assert not [d for d in devs if "-pci" in d]


def test_q35_is_the_default_machine() -> None:
    assert value_after(argv(spec()), "-machine")[0].startswith("q35")


def test_argv_is_pure_and_repeatable() -> None:
    s = spec(shares=(ShareSpec(tag="share0", host_path="/nonexistent/path"),))
    assert argv(s) == argv(s)
    assert all(isinstance(x, str) for x in argv(s))
