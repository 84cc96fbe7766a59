"""One machine's QEMU process: prepare its files, boot, wait for READY, stop.

Readiness comes from the guest itself: its ready unit writes ``READY <engine version>``
on a virtio-serial port once the engine answers ``/_ping`` (or ``FAILED <unit>: <why>``).
No polling over SSH, no guessing from the console.
"""

# The public signatures take timeouts (VM-CONTRACTS.md); callers need not wrap them.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import MachineConfig
from ..image import Bundle
from ..keys import ensure_keys, public_line
from ..paths import MachineDirs
from ..seed import Seed, SeedShare
from .accel import AccelUnavailable, AccelVerdict, choose_accel
from .qmp import QmpClient, QmpError
from .spec import QemuSpec, ShareSpec, argv

Progress = Callable[[str], None]
CONSOLE_TAIL_LINES = 40
QEMU_BINARY = "qemu-system-x86_64"
QEMU_IMG = "qemu-img"


class MachineError(Exception):
    """The machine could not be started or stopped; the message is for the user."""


class _SshPortTaken(MachineError):
    """QEMU could not listen on the SSH port (someone took it after we picked it)."""


SSH_PORT_ATTEMPTS = 3


@dataclass(frozen=True)
class ReadyInfo:
    """What ``start`` learned: the guest engine's version, the accelerator, the SSH port."""

    engine_version: str
    accel: AccelVerdict
    ssh_port: int


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def console_tail(path: Path, lines: int = CONSOLE_TAIL_LINES) -> str:
    try:
        data = path.read_bytes()[-65536:]
    except OSError:
        return "(no console output)"
    text = data.decode(errors="replace").replace("\r", "")
    return "\n".join(text.splitlines()[-lines:]) or "(no console output)"


async def _run(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise MachineError(f"{args[0]} {args[1]} failed: {err.decode(errors='replace').strip()}")
    return out.decode()


def tied_to_parent(cmd: list[str]) -> list[str]:
    """On Linux, QEMU gets SIGTERM when the process that started it dies (``setpriv
    --pdeathsig``, which then execs QEMU: the pid stays QEMU's). A killed agent or test
    run then leaves no machine eating CPU; SIGTERM lets QEMU flush its disk first."""
    if sys.platform.startswith("linux") and shutil.which("setpriv"):
        return ["setpriv", "--pdeathsig", "TERM", "--", *cmd]
    return cmd


def share_tag(index: int) -> str:
    return f"share{index}"


def make_seed(config: MachineConfig, dirs: MachineDirs) -> Seed:
    return Seed(
        hostname=config.name,
        authorized_key=public_line(dirs.client_key),
        host_key=dirs.host_key.read_text(),
        shares=tuple(
            SeedShare(tag=share_tag(i), mount_point=s.mount_point, read_only=s.read_only)
            for i, s in enumerate(config.shares)
        ),
        engine_config=dict(config.engine_config),
    )


class Machine:
    """The QEMU process of one machine, a child of the calling process."""

    def __init__(self, config: MachineConfig, dirs: MachineDirs, bundle: Bundle) -> None:
        self.config = config
        self.dirs = dirs
        self.bundle = bundle
        self._proc: asyncio.subprocess.Process | None = None
        self._qmp: QmpClient | None = None
        self._ready_writer: asyncio.StreamWriter | None = None
        self._ssh_port = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def ssh_port(self) -> int:
        return self._ssh_port

    # -- preparation ------------------------------------------------------------------

    @property
    def _disk_stamp(self) -> Path:
        return self.dirs.root / "disk.bundle"

    async def prepare_disk(self) -> None:
        """The machine's qcow2 overlay on the read-only bundle disk, at least
        ``config.disk_gib`` big (the guest grows its filesystem to fit at boot)."""
        disk = self.dirs.disk
        want = self.config.disk_gib << 30
        if not disk.exists():
            await _run(
                QEMU_IMG,
                "create",
                "-q",
                "-f",
                "qcow2",
                "-F",
                "qcow2",
                "-b",
                str(self.bundle.disk.resolve()),
                str(disk),
                f"{self.config.disk_gib}G",
            )
            self._disk_stamp.write_text(self.bundle.version + "\n")
            return
        made_from = self._disk_stamp.read_text().strip() if self._disk_stamp.exists() else ""
        if made_from != self.bundle.version:
            raise MachineError(
                f"the disk of machine {self.config.name!r} was made from VM bundle "
                f"{made_from or 'unknown'}, not {self.bundle.version}: its base changed under it. "
                "Remove the machine and create it again."
            )
        info = json.loads(await _run(QEMU_IMG, "info", "--output=json", "-U", str(disk)))
        if int(info["virtual-size"]) < want:
            await _run(QEMU_IMG, "resize", "-q", str(disk), f"{self.config.disk_gib}G")

    def write_seed(self) -> None:
        seed = make_seed(self.config, self.dirs)
        tmp = self.dirs.seed.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(seed.to_json())
        os.replace(tmp, self.dirs.seed)

    def spec(self, accel: str) -> QemuSpec:
        return QemuSpec(
            kernel=self.bundle.kernel,
            initrd=self.bundle.initrd,
            disk=self.dirs.disk,
            qmp_socket=self.dirs.qmp_socket,
            ready_socket=self.dirs.ready_socket,
            serial_log=self.dirs.serial_log,
            seed=self.dirs.seed,
            ssh_port=self._ssh_port,
            accel=accel,
            cpus=self.config.cpus,
            memory_mib=self.config.memory_mib,
            restrict_network=self.config.restrict_network,
            shares=tuple(
                ShareSpec(tag=share_tag(i), host_path=s.host_path, read_only=s.read_only)
                for i, s in enumerate(self.config.shares)
            ),
            binary=QEMU_BINARY,
        )

    def _prepare_files(self) -> str | None:
        """Directory and keys; returns a shared folder that does not exist, if any."""
        self.dirs.root.mkdir(parents=True, exist_ok=True)
        for share in self.config.shares:
            if not Path(share.host_path).is_dir():
                return share.host_path
        ensure_keys(self.dirs)
        return None

    # -- start ------------------------------------------------------------------------

    async def start(self, *, timeout: float = 600.0, progress: Progress | None = None) -> ReadyInfo:
        """Boot and return once the guest engine is ready; ``MachineError`` otherwise, and
        then no QEMU process is left."""
        say: Progress = progress or (lambda _m: None)
        if self.running:
            raise MachineError(f"machine {self.config.name!r} is already running")
        missing = await asyncio.to_thread(self._prepare_files)
        if missing:
            raise MachineError(f"shared folder {missing} does not exist")
        say("preparing the disk")
        await self.prepare_disk()
        self.write_seed()
        self._ssh_port = self.config.ssh_port or free_port()
        say("choosing the accelerator")
        try:
            verdict = await choose_accel(
                self.config.accel,
                self.bundle.kernel,
                binary=QEMU_BINARY,
                cache=self.dirs.root / "accel.json",
            )
        except AccelUnavailable as e:
            raise MachineError(str(e)) from e
        say(f"booting with {verdict.chosen}")
        for stale in (self.dirs.qmp_socket, self.dirs.ready_socket):
            stale.unlink(missing_ok=True)
        try:
            version = await asyncio.wait_for(self._boot_on_a_free_port(verdict), timeout)
        except TimeoutError:
            await self.kill()
            raise MachineError(
                f"machine {self.config.name!r} was not ready after {timeout:g} s "
                f"(accelerator {verdict.chosen}). Last console lines:\n"
                + console_tail(self.dirs.serial_log)
            ) from None
        except BaseException:
            await self.kill()
            raise
        say(f"engine {version} ready")
        return ReadyInfo(engine_version=version, accel=verdict, ssh_port=self._ssh_port)

    async def _boot_on_a_free_port(self, verdict: AccelVerdict) -> str:
        """Boot; a port picked by us and taken by another program before QEMU bound it
        gets replaced (a port the user chose is theirs: that is an error)."""
        for attempt in range(SSH_PORT_ATTEMPTS):
            try:
                return await self._boot(verdict)
            except _SshPortTaken:
                if self.config.ssh_port or attempt == SSH_PORT_ATTEMPTS - 1:
                    raise
                await self.kill()
                self._ssh_port = free_port()
        raise AssertionError("unreachable")

    async def _boot(self, verdict: AccelVerdict) -> str:
        errlog = self.dirs.root / "qemu.log"
        with errlog.open("wb") as err:
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *tied_to_parent(argv(self.spec(verdict.chosen))),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=err,
                    stderr=err,
                )
            except OSError as e:
                raise MachineError(f"cannot run {QEMU_BINARY}: {e.strerror}") from e
        proc = self._proc
        exited = asyncio.create_task(proc.wait())
        ready = asyncio.create_task(self._connect_and_wait_ready())
        try:
            done, _ = await asyncio.wait({exited, ready}, return_when=asyncio.FIRST_COMPLETED)
            if ready in done:
                problem = ready.exception()
                if problem is None:
                    return ready.result()
                if isinstance(problem, MachineError) and not exited.done():
                    raise problem
                # The QMP or readiness socket broke: most likely QEMU is exiting; say why.
                done, _ = await asyncio.wait({exited}, timeout=5)
                if not done:
                    raise MachineError(f"lost QEMU's control sockets: {problem}") from problem
            message = errlog.read_text(errors="replace")
            if "host forwarding rule" in message:
                raise _SshPortTaken(
                    f"cannot forward SSH from 127.0.0.1:{self._ssh_port}: the port is in use"
                )
            raise MachineError(
                f"QEMU exited with code {proc.returncode} before the guest was ready: "
                + (errlog.read_text(errors="replace").strip()[-2000:] or "no message")
                + "\nLast console lines:\n"
                + console_tail(self.dirs.serial_log)
            )
        finally:
            for task in (exited, ready):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task

    async def _connect_and_wait_ready(self) -> str:
        qmp = QmpClient()
        await qmp.connect(self.dirs.qmp_socket, timeout=30.0)
        self._qmp = qmp
        reader, writer = await self._open_ready_socket()
        self._ready_writer = writer
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionResetError("the guest's readiness port closed before READY")
            text = line.decode(errors="replace").strip()
            if text.startswith("READY"):
                return text.partition(" ")[2] or "unknown"
            if text.startswith("FAILED"):
                raise MachineError(
                    f"machine {self.config.name!r} failed to start: {text.partition(' ')[2]}"
                    "\nLast console lines:\n" + console_tail(self.dirs.serial_log)
                )

    async def _open_ready_socket(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        for _ in range(600):
            try:
                return await asyncio.open_unix_connection(str(self.dirs.ready_socket))
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.sleep(0.05)
        raise MachineError(f"QEMU never opened {self.dirs.ready_socket}")

    # -- stop -------------------------------------------------------------------------

    async def stop(self, timeout: float = 60.0) -> None:
        """Power off through ACPI (the guest shuts down cleanly, its filesystem trimmed
        and synced), then ``quit``, then kill: the process is gone when this returns."""
        if not self.running:
            await self._close_channels()
            return
        if self._qmp is not None:
            with contextlib.suppress(QmpError, OSError, TimeoutError):
                await self._qmp.execute("system_powerdown", timeout=5.0)
                if await self._wait_exit_for(timeout):
                    await self._close_channels()
                    return
            with contextlib.suppress(QmpError, OSError, TimeoutError):
                await self._qmp.execute("quit", timeout=5.0)
                if await self._wait_exit_for(5.0):
                    await self._close_channels()
                    return
        await self.kill()

    async def _wait_exit_for(self, timeout: float) -> bool:
        assert self._proc is not None
        try:
            await asyncio.wait_for(self._proc.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def kill(self) -> None:
        """Kill QEMU at once (no guest shutdown) and reap it."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
        await self._close_channels()

    async def _close_channels(self) -> None:
        if self._qmp is not None:
            await self._qmp.close()
            self._qmp = None
        if self._ready_writer is not None:
            self._ready_writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._ready_writer.wait_closed()
            self._ready_writer = None
        for path in (self.dirs.qmp_socket, self.dirs.ready_socket):
            if not self.running:
                path.unlink(missing_ok=True)

    async def wait_exit(self) -> int:
        """QEMU's exit code, once it exits (stopped, killed from outside, crashed)."""
        if self._proc is None:
            raise MachineError("the machine was never started")
        code = await self._proc.wait()
        await self._close_channels()
        return code

    @property
    def qmp(self) -> QmpClient | None:
        """The QMP connection while running (for ``query-status`` and the like)."""
        return self._qmp
