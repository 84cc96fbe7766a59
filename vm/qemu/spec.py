"""The QEMU command line of a machine, built from a plain description (no I/O).

Why these devices: direct kernel boot (no bootloader, no EFI: seconds saved under
emulation); virtio everywhere; ``-nodefaults`` so QEMU adds nothing we did not ask for (no
VGA, no default NIC, no floppy); a balloon with free-page reporting so memory the guest
frees goes back to the host; the readiness port as a virtio-serial channel; the seed in
``fw_cfg``; 9p shares with a large ``msize`` (the default 8 KiB makes file I/O crawl).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..seed import FW_CFG_NAME, READY_PORT_NAME

NINEP_MSIZE = 512000
TCG_TB_SIZE_MIB = 128
DEFAULT_APPEND = (
    "console=ttyS0",
    "root=/dev/vda",
    "rw",
    "net.ifnames=0",
    "quiet",
    "panic=-1",
    "systemd.show_status=error",
)


@dataclass(frozen=True)
class ShareSpec:
    """One ``-virtfs`` share: host folder and the 9p mount tag the guest mounts."""

    tag: str
    host_path: str
    read_only: bool = False


@dataclass(frozen=True)
class QemuSpec:
    """Everything ``argv`` needs; every path is the caller's."""

    kernel: Path
    initrd: Path
    disk: Path
    qmp_socket: Path
    ready_socket: Path
    serial_log: Path
    seed: Path
    ssh_port: int
    accel: str = "tcg"  # "kvm" | "hvf" | "whpx" | "tcg"
    machine: str = "q35"  # "q35" | "microvm"
    cpus: int = 2
    memory_mib: int = 2048
    restrict_network: bool = False
    shares: tuple[ShareSpec, ...] = ()
    append: tuple[str, ...] = DEFAULT_APPEND
    extra_append: tuple[str, ...] = field(default_factory=tuple)
    binary: str = "qemu-system-x86_64"
    tb_size_mib: int = TCG_TB_SIZE_MIB


def _device(spec: QemuSpec, kind: str) -> str:
    """``virtio-blk-pci`` on q35, ``virtio-blk-device`` (virtio-mmio) on microvm."""
    return f"virtio-{kind}-device" if spec.machine == "microvm" else f"virtio-{kind}-pci"


def accel_args(accel: str, tb_size_mib: int = TCG_TB_SIZE_MIB) -> list[str]:
    """``-accel`` and ``-cpu`` for one accelerator.

    Under TCG the translation cache is bounded (``tb-size``): its default grows to a
    gigabyte of host memory. ``-cpu max`` gives the guest every feature TCG can emulate.
    """
    if accel == "tcg":
        return ["-accel", f"tcg,thread=multi,tb-size={tb_size_mib}", "-cpu", "max"]
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    if accel in ("hvf", "whpx"):
        return ["-accel", accel, "-cpu", "host" if accel == "hvf" else "max"]
    raise ValueError(f"unknown accelerator {accel!r}")


def _escape(value: str) -> str:
    """QEMU option values double their commas."""
    return value.replace(",", ",,")


def argv(spec: QemuSpec) -> list[str]:
    """The full command line for ``spec``."""
    if spec.machine not in ("q35", "microvm"):
        raise ValueError(f"unknown machine type {spec.machine!r}")
    if spec.machine == "microvm":
        machine = "microvm,rtc=on,pit=off,pic=off,isa-serial=on"
    else:
        machine = "q35,vmport=off,hpet=off"
    args = [
        spec.binary,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-machine",
        machine,
        *accel_args(spec.accel, spec.tb_size_mib),
        "-smp",
        str(spec.cpus),
        "-m",
        f"{spec.memory_mib}M",
        "-kernel",
        str(spec.kernel),
        "-initrd",
        str(spec.initrd),
        "-append",
        " ".join((*spec.append, *spec.extra_append)),
        # Disk: the machine's overlay; freed blocks are punched out of it.
        "-drive",
        f"if=none,id=disk0,file={_escape(str(spec.disk))},format=qcow2,"
        "discard=unmap,detect-zeroes=unmap,cache=writeback,aio=threads",
        "-device",
        f"{_device(spec, 'blk')},drive=disk0",
        # Network: QEMU user networking; only SSH comes in, on loopback.
        "-netdev",
        f"user,id=net0,restrict={'on' if spec.restrict_network else 'off'},"
        f"hostfwd=tcp:127.0.0.1:{spec.ssh_port}-:22",
        "-device",
        f"{_device(spec, 'net')},netdev=net0",
        # Control: QMP on a unix socket.
        "-chardev",
        f"socket,id=qmp0,path={_escape(str(spec.qmp_socket))},server=on,wait=off",
        "-mon",
        "chardev=qmp0,mode=control",
        # Console: the kernel's and systemd's messages, to a file.
        "-chardev",
        f"file,id=console0,path={_escape(str(spec.serial_log))}",
        "-serial",
        "chardev:console0",
        # Readiness: a virtio-serial port the guest writes READY/FAILED lines to.
        "-device",
        _device(spec, "serial"),
        "-chardev",
        f"socket,id=ready0,path={_escape(str(spec.ready_socket))},server=on,wait=off",
        "-device",
        f"virtserialport,chardev=ready0,name={READY_PORT_NAME}",
        # Seed for first-boot provisioning.
        "-fw_cfg",
        f"name={FW_CFG_NAME},file={_escape(str(spec.seed))}",
        # Memory the guest frees goes back to the host.
        "-device",
        f"{_device(spec, 'balloon')},free-page-reporting=on",
        # Entropy: the guest's sshd and Python need it early.
        "-object",
        "rng-random,id=rng0,filename=/dev/urandom",
        "-device",
        f"{_device(spec, 'rng')},rng=rng0",
    ]
    for i, share in enumerate(spec.shares):
        fsdev = f"fsdev{i}"
        args += [
            "-fsdev",
            f"local,id={fsdev},path={_escape(share.host_path)},security_model=none"
            + (",readonly=on" if share.read_only else ""),
            "-device",
            f"{'virtio-9p-device' if spec.machine == 'microvm' else 'virtio-9p-pci'},"
            f"fsdev={fsdev},mount_tag={share.tag}",
        ]
    return args
