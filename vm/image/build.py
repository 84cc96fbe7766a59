"""Build a guest bundle: Debian root filesystem, the engine in a venv, kernel and initrd.

Steps (each reported through ``progress``):

1. a wheelhouse of this project and its engine dependencies (``pip wheel``/``pip
   download`` on the host: bookworm's httpx is too old and isal is not packaged);
2. ``debootstrap --variant=minbase`` with the packages of ``resources/guest/packages.txt``;
3. a venv at ``/opt/portside`` installed from the wheelhouse only (``--no-index``);
4. the guest files (units, scripts, sshd settings), units enabled and slow ones masked;
5. kernel modules cut to the allowlist, our own initramfs, docs/locales/apt lists removed;
6. ``mkfs.ext4 -d`` into a raw image, converted to a compressed qcow2;
7. ``manifest.json``; the finished directory replaces ``out`` atomically.

Needs root (debootstrap, chroot) and Debian's mirror; nothing else from the network but
PyPI for the wheels.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from . import inputs
from .bundle import Bundle, BundleError, write_manifest
from .initramfs import build_initramfs
from .kmods import prune

Progress = Callable[[str], None]

VENV = "/opt/portside"
ENGINE_DIST = "portside-engine"
GUEST_PYTHON = "3.11"  # bookworm's python3
# Units that cost boot time and do nothing useful in a machine without users or a console.
MASKED_UNITS = (
    "getty@tty1.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "systemd-networkd.service",
    "systemd-networkd.socket",
    "systemd-networkd-wait-online.service",
    "systemd-logind.service",
    "systemd-pstore.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "systemd-firstboot.service",
    "getty-static.service",
    "dev-hugepages.mount",
    "sys-kernel-config.mount",
    # Their modules are not in the guest (or built in): each would cost a process.
    "modprobe@configfs.service",
    "modprobe@dm_mod.service",
    "modprobe@drm.service",
    "modprobe@efi_pstore.service",
    "modprobe@fuse.service",
    "modprobe@loop.service",
    # Users and groups are made at build time.
    "systemd-sysusers.service",
    # The image is built complete: nothing to update at first boot.
    "ldconfig.service",
    "systemd-hwdb-update.service",
    "systemd-journal-catalog-update.service",
    "systemd-update-done.service",
)
PRUNED_PATHS = (
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/bug",
    "usr/share/i18n",
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/debconf/templates.dat-old",
    "var/log",
    "usr/lib/udev/hwdb.d",
    "usr/lib/udev/hwdb.bin",
    "etc/udev/hwdb.bin",
)


def _run(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise BundleError(f"{' '.join(argv[:4])} … failed ({done.returncode}):\n{tail}")
    return done.stdout


def build_wheelhouse(dest: Path, progress: Progress) -> None:
    """The project's wheel plus binary wheels of its dependencies for the guest's Python."""
    root = inputs.project_root()
    if root is None:
        raise BundleError("building a bundle needs the Portside source tree (pyproject.toml)")
    dest.mkdir(parents=True, exist_ok=True)
    progress("wheelhouse: building the portside-engine wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # The engine-only distribution: the guest runs portsided and never the Qt app, whose
    # dependencies `portside` itself requires (packaging/build_wheels.py, docs/packaging.md).
    _run(
        [
            sys.executable,
            str(root / "packaging" / "build_wheels.py"),
            ENGINE_DIST,
            "--out",
            str(dest),
        ]
    )
    (wheel,) = dest.glob(ENGINE_DIST.replace("-", "_") + "-*.whl")
    progress("wheelhouse: downloading the engine's dependencies")
    _run(
        [
            *pip,
            "download",
            "--dest",
            str(dest),
            "--only-binary=:all:",
            "--python-version",
            GUEST_PYTHON,
            "--implementation",
            "cp",
            "--platform",
            "manylinux_2_28_x86_64",
            "--platform",
            "manylinux_2_17_x86_64",
            "--platform",
            "manylinux2014_x86_64",
            "--platform",
            "linux_x86_64",
            str(wheel),
        ]
    )


def debootstrap(rootfs: Path, mirror: str, deb_cache: Path | None, progress: Progress) -> None:
    """Two stages, so the initramfs settings are in place before any package is configured:
    the kernel's postinst and initramfs-tools' trigger would each spend a minute on an
    initramfs the guest never uses (ours replaces it)."""
    progress(f"debootstrap {inputs.SUITE} (minbase + {len(inputs.packages())} packages)")
    argv = ["debootstrap", "--foreign", "--variant=minbase"]
    argv.append("--include=" + ",".join(inputs.packages()))
    if deb_cache is not None:
        deb_cache.mkdir(parents=True, exist_ok=True)
        argv.append(f"--cache-dir={deb_cache.resolve()}")
    argv += [inputs.SUITE, str(rootfs), mirror]
    env = {"INITRD": "No", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    _run(argv, env=env)
    conf = rootfs / "etc" / "initramfs-tools" / "update-initramfs.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("update_initramfs=no\nbackup_initramfs=no\n")
    progress("debootstrap: configuring packages")
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    _run(["chroot", str(rootfs), "/debootstrap/debootstrap", "--second-stage"], env=env)


def install_engine(rootfs: Path, wheelhouse: Path, progress: Progress) -> None:
    progress(f"engine: venv at {VENV} from the wheelhouse")
    staged = rootfs / "tmp" / "wheels"
    shutil.copytree(wheelhouse, staged)
    env = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    _run(["chroot", str(rootfs), "python3", "-m", "venv", VENV], env=env)
    pip = f"{VENV}/bin/pip"
    _run(
        [
            "chroot",
            str(rootfs),
            pip,
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            "/tmp/wheels",
            ENGINE_DIST,
        ],
        env=env,
    )
    # pip and setuptools are not needed at run time; the wheelhouse is not either.
    _run(["chroot", str(rootfs), pip, "uninstall", "-q", "-y", "pip", "setuptools"], env=env)
    shutil.rmtree(staged)


def _copy_guest_file(rel: str, dest: Path, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes((inputs.guest_files() / rel).read_bytes())
    os.chmod(dest, mode)


def _wanted_by(unit_text: str) -> list[str]:
    section = ""
    targets: list[str] = []
    for line in unit_text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and line.startswith("WantedBy="):
            targets += line.partition("=")[2].split()
    return targets


def configure(rootfs: Path, progress: Progress) -> None:
    progress("guest files: units, provisioning, sshd")
    system = rootfs / "etc" / "systemd" / "system"
    for rel, f in inputs.guest_file_list():
        if rel.startswith("units/"):
            name = rel.removeprefix("units/")
            _copy_guest_file(rel, system / name)
            for target in _wanted_by(f.read_text()):
                wants = system / f"{target}.wants"
                wants.mkdir(parents=True, exist_ok=True)
                link = wants / Path(name).name
                link.unlink(missing_ok=True)
                link.symlink_to(f"/etc/systemd/system/{name}")
        elif rel.startswith("lib/"):
            name = rel.removeprefix("lib/")
            _copy_guest_file(rel, rootfs / "usr/local/lib/portside" / name, 0o755)
    _copy_guest_file("etc/sshd_config", rootfs / "etc/ssh/sshd_config.d/portside.conf")
    _copy_guest_file("etc/fstab", rootfs / "etc/fstab")
    for name in MASKED_UNITS:
        link = system / name
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    getty = system / "getty.target.wants" / "getty@tty1.service"
    getty.unlink(missing_ok=True)
    # Host keys come from the seed: a key baked into the image would be shared by all.
    for key in (rootfs / "etc" / "ssh").glob("ssh_host_*"):
        key.unlink()
    (rootfs / "etc" / "hostname").write_text("portside\n")
    # A fixed id keeps systemd out of its first-boot mode (presets applied to every unit).
    (rootfs / "etc" / "machine-id").write_text(uuid.uuid4().hex + "\n")
    (rootfs / "etc" / "portside").mkdir(exist_ok=True)
    (rootfs / "etc" / "portside" / "daemon.json").write_text("{}\n")


def kernel_version(rootfs: Path) -> str:
    versions = sorted(p.name for p in (rootfs / "lib" / "modules").iterdir())
    if len(versions) != 1:
        raise BundleError(f"expected one kernel in the guest, found {versions}")
    return versions[0]


def slim(rootfs: Path, kver: str, progress: Progress) -> int:
    """Cut modules to the allowlist and drop what a machine never reads; returns the
    number of modules kept."""
    progress("slimming: kernel modules, docs, locales, apt lists")
    moddir = rootfs / "lib" / "modules" / kver
    kept = prune(moddir, inputs.module_allowlist())
    _run(["chroot", str(rootfs), "depmod", "-a", kver])
    for rel in PRUNED_PATHS:
        path = rootfs / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            if rel.startswith("var/"):
                path.mkdir()
        elif path.exists() or path.is_symlink():
            path.unlink()
    docs = rootfs / "usr" / "share" / "doc"
    for f in docs.rglob("*"):
        if f.is_file() and f.name != "copyright":
            f.unlink()
    for f in (rootfs / "boot").iterdir():
        f.unlink()
    for f in (rootfs / "tmp").iterdir():
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    return len(kept)


def make_disk(rootfs: Path, work: Path, dest: Path, progress: Progress) -> None:
    progress("disk: mkfs.ext4 -d, then a compressed qcow2")
    used = int(_run(["du", "-s", "--block-size=1", str(rootfs)]).split()[0])
    files = int(_run(["sh", "-c", f"find {rootfs} -xdev | wc -l"]).strip())
    size = int(used * 1.2) + (256 << 20)
    raw = work / "root.raw"
    with raw.open("wb") as f:
        f.truncate(size)
    _run(
        [
            "mkfs.ext4",
            "-q",
            "-F",
            "-L",
            "portside-root",
            "-m",
            "1",
            "-N",
            str(files * 2 + 16384),
            "-d",
            str(rootfs),
            str(raw),
        ]
    )
    _run(
        [
            "qemu-img",
            "convert",
            "-f",
            "raw",
            "-O",
            "qcow2",
            "-c",
            "-o",
            "compression_type=zstd",
            str(raw),
            str(dest),
        ]
    )
    raw.unlink()


def build_bundle(
    out: Path,
    *,
    progress: Progress | None = None,
    mirror: str = inputs.DEFAULT_MIRROR,
    deb_cache: Path | None = None,
) -> Bundle:
    """Build a bundle into ``out`` (replaced atomically when complete) and return it."""
    say: Progress = progress or (lambda _msg: None)
    if os.geteuid() != 0:
        raise BundleError("building the VM bundle needs root (debootstrap and chroot)")
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    input_hash = inputs.input_hash(mirror)
    with tempfile.TemporaryDirectory(prefix=".bundle-build-", dir=out.parent) as tmp:
        work = Path(tmp)
        build_wheelhouse(work / "wheels", say)
        rootfs = work / "rootfs"
        debootstrap(rootfs, mirror, deb_cache, say)
        install_engine(rootfs, work / "wheels", say)
        configure(rootfs, say)
        kver = kernel_version(rootfs)
        stage = work / "bundle"
        stage.mkdir()
        shutil.copyfile(rootfs / "boot" / f"vmlinuz-{kver}", stage / "kernel")
        kept = slim(rootfs, kver, say)
        say(f"initrd: busybox and {len(inputs.initramfs_modules())} modules ({kept} kept)")
        init = (inputs.guest_files() / "init").read_bytes()
        (stage / "initrd").write_bytes(
            build_initramfs(rootfs, kver, inputs.initramfs_modules(), init)
        )
        make_disk(rootfs, work, stage / "disk.qcow2", say)
        shutil.rmtree(rootfs)
        version = f"{metadata.version('portside')}-{input_hash[:12]}"
        created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_manifest(stage, version=version, created=created, input_hash=input_hash)
        old = work / "old"
        if out.exists():
            out.rename(old)
        stage.rename(out)
    say(f"bundle {version} at {out}")
    return Bundle.load(out)
