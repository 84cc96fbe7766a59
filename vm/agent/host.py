"""The host agent: boots one machine and keeps it reachable until told to stop.

It owns QEMU (a child process, through ``Machine``), the SSH link to the guest, the
forwarded engine socket and the published-port forwarders, and it is the only writer of the
machine's state file. The CLI and the app never touch QEMU or SSH themselves: they read the
state file and talk to the control socket, so a machine outlives the terminal or window
that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..config import MachineConfig
from ..control import (
    ALREADY_RUNNING_EXIT,
    FAILED,
    RUNNING,
    STARTING,
    STOPPED,
    STOPPING,
    MachineState,
    PortEntry,
    read_state,
)
from ..image import Bundle, BundleError, default_bundle_dir
from ..keys import public_line
from ..link import LinkError, PortForwarder, SocketForwarder, SshLink, SshTarget
from ..paths import MachineDirs
from ..qemu import Machine, MachineError, ReadyInfo
from ..seed import GUEST_ENGINE_SOCKET
from .stale import claim_lock, clear_stale
from .watchdog import spawn as spawn_watchdog

log = logging.getLogger("portside.vm.agent")

STATE_INTERVAL = 1.0
STOP_TIMEOUT = 60.0
RECONNECT_PAUSE = 10.0
MAX_STEPS = 100


def describe_exit(code: int) -> str:
    """``killed by SIGKILL`` / ``exited with status 1`` for QEMU's exit code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


MachineFactory = Callable[[MachineConfig, MachineDirs], Awaitable[Machine]]


async def qemu_machine(config: MachineConfig, dirs: MachineDirs) -> Machine:
    """The real machine: QEMU booting the configured (or default) guest bundle."""
    bundle_dir = Path(config.bundle) if config.bundle else default_bundle_dir()
    bundle = await asyncio.to_thread(Bundle.load, bundle_dir)
    return Machine(config, dirs, bundle)


class HostAgent:
    """One running machine: start, supervise (reconnect the link), stop.

    ``make_machine`` builds what boots the guest (QEMU normally); ``guest_engine_socket`` is
    where the engine listens inside it. Both are parameters so the agent's supervision can
    be exercised against a guest that boots in a second (a real sshd and a real engine).
    """

    def __init__(
        self,
        dirs: MachineDirs,
        *,
        start_timeout: float = 900.0,
        make_machine: MachineFactory = qemu_machine,
        guest_engine_socket: str = GUEST_ENGINE_SOCKET,
    ) -> None:
        self.dirs = dirs
        self.start_timeout = start_timeout
        self.make_machine = make_machine
        self.guest_engine_socket = guest_engine_socket
        self.state = MachineState(
            name=dirs.name, docker_socket=str(dirs.docker_socket), agent_pid=os.getpid()
        )
        self.machine: Machine | None = None
        self.link: SshLink | None = None
        self.socket_forwarder: SocketForwarder | None = None
        self.ports: PortForwarder | None = None
        self._ports_task: asyncio.Task[None] | None = None
        self._stop_requested = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self._lock_fd: int | None = None
        self._watchdog_fd: int | None = None

    # -- state ---------------------------------------------------------------------------
    def _save(self) -> None:
        try:
            self.state.save(self.dirs.state)
        except OSError as e:
            log.warning("cannot write %s: %s", self.dirs.state, e)

    def _set(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.state, key, value)
        self._save()

    def _progress(self, text: str, **changes: Any) -> None:
        """A new step, saved in one write with ``changes`` (readers of the state file
        never see a state without the step that announced it)."""
        log.info("%s", text)
        self.state.steps = [*self.state.steps, text][-MAX_STEPS:]
        self._set(progress=text, **changes)

    def _refresh_ports(self) -> None:
        ports = self.ports
        forwarded = (
            [
                PortEntry(p.proto, p.host_address, p.host_port, p.container_id)
                for p in ports.forwarded
            ]
            if ports is not None
            else []
        )
        problems = list(ports.problems) if ports is not None else []
        link = self.link
        connected = link is not None and link.connected
        if not connected and self.state.state == RUNNING:
            problems.insert(0, "lost the connection to the machine; reconnecting")
        if (forwarded, problems, connected) != (
            self.state.forwarded,
            self.state.problems,
            self.state.link_connected,
        ):
            self._set(forwarded=forwarded, problems=problems, link_connected=connected)

    # -- control socket ------------------------------------------------------------------
    async def _serve_control(self) -> None:
        path = self.dirs.agent_socket
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._client, path=str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(json.dumps(self._answer(line)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            return {"error": 'a request is one JSON object per line: {"op": "status"|"stop"}'}
        if op == "status":
            self._refresh_ports()
            return {"ok": True, "state": self.state.to_dict()}
        if op == "stop":
            self.request_stop()
            return {"ok": True}
        return {"error": f"unknown op {op!r}"}

    def request_stop(self) -> None:
        self._stop_requested.set()

    # -- life cycle ----------------------------------------------------------------------
    async def run(self) -> int:
        """Bring the machine up, keep it up until asked to stop; the process's exit code."""
        self._lock_fd = claim_lock(self.dirs)
        if self._lock_fd is None:
            log.error("another host agent already runs machine %s", self.dirs.name)
            return ALREADY_RUNNING_EXIT
        # What a dead predecessor left is read before this agent's state replaces it, and
        # cleared after: readers see "starting" (this agent) from the moment it holds the lock.
        leftover_qemu = read_state(self.dirs).qemu_pid
        self.dirs.pid_file.write_text(f"{os.getpid()}\n")
        self.state.started_at = time.time()
        self._set(state=STARTING)
        self._progress("starting the host agent")
        if await clear_stale(self.dirs, leftover_qemu):
            self._progress("stopped the QEMU a previous agent left running")
        code = 1
        try:
            await self._serve_control()
            code = await self._run_machine()
        finally:
            await self._teardown()
            if self.state.state not in (STOPPED, FAILED):
                self._set(state=FAILED, last_error=self.state.last_error or "the agent stopped")
        return code

    async def _run_machine(self) -> int:
        boot = asyncio.ensure_future(self._boot())
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({boot, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not boot.done():
            boot.cancel()
            await asyncio.gather(boot, return_exceptions=True)
            self._set(state=STOPPING, progress="stopping: start cancelled")
            await self._stop_machine()
            self._set(state=STOPPED, progress="stopped")
            return 0
        try:
            boot.result()
        except (MachineError, BundleError, LinkError, OSError) as e:
            log.error("start failed: %s", e)
            return await self._start_failed(str(e))
        except Exception as e:
            # A defect, not a user error: keep the traceback in the agent's log.
            log.exception("start failed")
            return await self._start_failed(f"{type(e).__name__}: {e}")
        return await self._supervise()

    async def _start_failed(self, reason: str) -> int:
        await self._kill_machine()
        self._progress("start failed", state=FAILED, last_error=reason)
        return 1

    async def _boot(self) -> None:
        config = MachineConfig.load(self.dirs.config)
        self._progress("checking the guest bundle")
        machine = await self.make_machine(config, self.dirs)
        self.machine = machine
        guard = asyncio.ensure_future(self._guard(machine))
        try:
            ready: ReadyInfo = await machine.start(
                timeout=self.start_timeout, progress=self._progress
            )
        except BaseException:
            guard.cancel()
            await asyncio.gather(guard, return_exceptions=True)
            raise
        # QEMU runs: its watchdog must be in place before anything else happens.
        await guard
        self._set(
            qemu_pid=machine.pid or 0,
            accel=ready.accel.chosen,
            accel_tried=[list(t) for t in ready.accel.tried],
            engine_version=ready.engine_version,
            ssh_port=ready.ssh_port,
        )
        self._progress(f"connecting to the guest over SSH (127.0.0.1:{ready.ssh_port})")
        target = SshTarget(
            host="127.0.0.1",
            port=ready.ssh_port,
            user="root",
            key_file=self.dirs.client_key,
            pinned_host_key=public_line(self.dirs.host_key),
        )
        self.link = SshLink(target)
        await self.link.connect()
        self._progress(f"forwarding the engine socket to {self.dirs.docker_socket}")
        self.socket_forwarder = SocketForwarder(
            self.link, self.dirs.docker_socket, self.guest_engine_socket, mode=0o600
        )
        await self.socket_forwarder.start()
        self.ports = PortForwarder(self.link, self.guest_engine_socket, config.ports_address)
        self._ports_task = asyncio.ensure_future(self.ports.run())
        self._progress("running", state=RUNNING, link_connected=True, last_error="")
        log.info("machine %s is running (engine %s)", self.dirs.name, ready.engine_version)

    async def _guard(self, machine: Machine) -> None:
        """As soon as QEMU has a pid: record it and start its watchdog (QEMU must not
        outlive this agent even if it is killed mid-boot)."""
        # Machine has no "spawned" event; its pid appears early in start().
        while machine.pid is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        pid = machine.pid
        self._watchdog_fd = await asyncio.to_thread(spawn_watchdog, pid, self.dirs.root)
        self._set(qemu_pid=pid)

    async def _supervise(self) -> int:
        """Wait for stop, QEMU's death or the link's; reconnect the link when it drops."""
        machine = self.machine
        assert machine is not None and self.link is not None
        exited = asyncio.ensure_future(machine.wait_exit())
        stop = asyncio.ensure_future(self._stop_requested.wait())
        refresher = asyncio.ensure_future(self._refresh_loop())
        try:
            while True:
                link_down = asyncio.ensure_future(self._link_down())
                done, _ = await asyncio.wait(
                    {exited, stop, link_down}, return_when=asyncio.FIRST_COMPLETED
                )
                if exited in done:
                    link_down.cancel()
                    if exited.result() == 0:
                        # The guest powered itself off (`poweroff` inside it): a stop.
                        log.info("the guest powered off")
                        self._set(state=STOPPED, progress="the guest powered off")
                        return 0
                    reason = f"QEMU {describe_exit(exited.result())}"
                    log.error("the machine went away: %s", reason)
                    self._set(state=FAILED, last_error=reason, progress="failed")
                    return 1
                if stop in done:
                    link_down.cancel()
                    self._set(state=STOPPING, progress="stopping")
                    await self._stop_machine()
                    self._set(state=STOPPED, progress="stopped")
                    return 0
                self._refresh_ports()
                await self._reconnect(exited, stop)
        finally:
            for task in (exited, stop, refresher):
                task.cancel()
            await asyncio.gather(exited, stop, refresher, return_exceptions=True)

    async def _link_down(self) -> None:
        assert self.link is not None
        await self.link.wait_closed()

    async def _reconnect(self, *give_up_on: asyncio.Future[Any]) -> None:
        """Reconnect with backoff (unless QEMU dies or a stop comes first), then reconcile."""
        assert self.link is not None
        log.warning("lost the SSH link to the machine; reconnecting")
        again = asyncio.ensure_future(self.link.reconnect())
        done, _ = await asyncio.wait({again, *give_up_on}, return_when=asyncio.FIRST_COMPLETED)
        if again not in done:
            again.cancel()
            await asyncio.gather(again, return_exceptions=True)
            return
        try:
            again.result()
        except LinkError as e:
            # A changed host key does not heal by retrying fast: say so, retry slowly.
            log.warning("reconnect failed: %s", e)
            self._set(last_error=f"cannot reconnect to the machine: {e}")
            await asyncio.wait(give_up_on, timeout=RECONNECT_PAUSE)
            return
        log.info("SSH link is back")
        if self.ports is not None:
            try:
                await self.ports.reconcile()
            except LinkError as e:
                log.warning("port reconcile after reconnect failed: %s", e)
        self._refresh_ports()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(STATE_INTERVAL)
            self._refresh_ports()

    async def _close_forwarders(self) -> None:
        ports, self.ports = self.ports, None
        if ports is not None:
            with contextlib.suppress(Exception):
                await ports.close()
        if self._ports_task is not None:
            self._ports_task.cancel()
            await asyncio.gather(self._ports_task, return_exceptions=True)
            self._ports_task = None
        sockets, self.socket_forwarder = self.socket_forwarder, None
        if sockets is not None:
            with contextlib.suppress(Exception):
                await sockets.close()
        link, self.link = self.link, None
        if link is not None:
            with contextlib.suppress(Exception):
                await link.close()

    async def _stop_machine(self) -> None:
        """Graceful: forwarders first (no new work reaches the guest), then a guest poweroff."""
        await self._close_forwarders()
        machine = self.machine
        if machine is not None and machine.running:
            self._progress("powering off the guest")
            try:
                await machine.stop(timeout=STOP_TIMEOUT)
            except MachineError as e:
                log.warning("graceful stop failed (%s); killing QEMU", e)
                await machine.kill()
        self._set(qemu_pid=0)

    async def _kill_machine(self) -> None:
        await self._close_forwarders()
        machine = self.machine
        if machine is not None and machine.running:
            with contextlib.suppress(Exception):
                await machine.kill()
        self._set(qemu_pid=0)

    async def _teardown(self) -> None:
        """Leave no socket or pid file behind, whatever happened."""
        await self._close_forwarders()
        machine = self.machine
        if machine is not None and machine.running:
            # Only reached on an unexpected error: never leave QEMU behind us.
            with contextlib.suppress(Exception):
                await machine.stop(timeout=STOP_TIMEOUT)
            if machine.running:
                with contextlib.suppress(Exception):
                    await machine.kill()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for path in (self.dirs.agent_socket, self.dirs.docker_socket, self.dirs.pid_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self.state.forwarded = []
        self.state.link_connected = False
        self.state.qemu_pid = 0
        self._save()
        if self._watchdog_fd is not None:
            os.close(self._watchdog_fd)
            self._watchdog_fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def install_signal_handlers(agent: HostAgent) -> None:
    """SIGTERM/SIGINT/SIGHUP mean "stop the machine gracefully"."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, agent.request_stop)
