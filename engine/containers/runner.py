"""Bringing one container up in the runtime and tearing it down again.

``create`` = mount the overlay, write /etc files, build the OCI spec (hooks may edit
it), launch conmon (which runs ``<runtime> create``). ``cleanup`` = runtime delete +
unmount. The service decides *when*; this module knows *how*.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import DaemonConfig
from ..errors import Conflict, EngineError, NotFound, SystemError_
from ..runtime import cgroups, conmon, live_update
from ..runtime.detect import RuntimeInfo
from ..runtime.oci import OciRuntime
from .files import etcfiles, rootfs
from .hooks import ContainerHook, run_prepare
from .model import Container, Paths
from .oci.spec import SpecInput, build_spec
from .stdio.logdrivers import log_policy

log = logging.getLogger(__name__)


def cgroups_path(cid: str) -> str:
    """cgroupsPath for the runtime: ``/portside/<id>`` (cgroupfs, v1 and v2)."""
    return f"/portside/{cid}"


class Runner:
    """Runtime-facing operations for containers of one engine."""

    def __init__(
        self, config: DaemonConfig, info: RuntimeInfo, images: Any, hooks: list[ContainerHook]
    ) -> None:
        self.config = config
        self.info = info
        self.images = images
        self.hooks = hooks
        self.root = config.data_root / "containers"
        # One state root for every runtime: container ids are unique, and each container
        # is only ever handled by the runtime that created it.
        self.runtime_root = config.exec_root / "runtime"
        self.oci = OciRuntime(info.name, info.path, self.runtime_root)  # the engine's default
        self._ocis: dict[str, OciRuntime] = {info.name: self.oci}
        # set by the service: container lookup for "container:<ref>" namespace modes
        self.lookup: Callable[[str], Container | None] | None = None

    def runtime_of(self, c: Container) -> str:
        """The runtime that runs ``c``: the one recorded at create (HostConfig.Runtime),
        else — a container from before runtimes were recorded — the engine's default."""
        return str(c.host_config.get("Runtime") or self.info.name)

    def oci_for(self, c: Container) -> OciRuntime:
        """The runtime CLI for ``c``. A runtime the host can no longer create containers
        with (crun after a cgroup change) still stops, inspects and deletes its own."""
        name = self.runtime_of(c)
        oci = self._ocis.get(name)
        if oci is None:
            path = self.info.usable.get(name) or shutil.which(name)
            if not path:
                raise SystemError_(f"the {name} runtime of container {c.id[:12]} is not installed")
            oci = self._ocis[name] = OciRuntime(name, os.path.realpath(path), self.runtime_root)
        return oci

    def paths(self, cid: str) -> Paths:
        """Where the container's files live."""
        return Paths(self.root / cid)

    def make_dirs(self, cid: str) -> Paths:
        """Create the container's directories (at create time)."""
        p = self.paths(cid)
        for d in (p.root, p.bundle, p.rootfs, p.upper, p.work, p.exit_dir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(p.root, 0o710)
        return p

    async def mount(self, c: Container) -> None:
        """Mount the container's overlay rootfs (no-op when mounted)."""
        p = self.paths(c.id)
        image = await self.images.resolve(c.image_id)
        layers = [Path(d) for d in self.images.layer_dirs(image)]
        await rootfs.mount_overlay(layers, p.upper, p.work, p.rootfs)

    def layer_dirs_of(self, image: Any) -> list[Path]:
        """The image's layer dirs (for GraphDriver.LowerDir)."""
        return [Path(d) for d in self.images.layer_dirs(image)]

    def spec_input(self, c: Container) -> SpecInput:
        """The SpecInput for ``c`` (hooks may change the spec afterwards)."""
        p = self.paths(c.id)
        cfg, hc = c.config, c.host_config
        return SpecInput(
            id=c.id,
            rootfs=p.rootfs,
            args=[c.path, *c.args],
            name=c.name,
            hostname=cfg.get("Hostname") or c.id[:12],
            domainname=cfg.get("Domainname") or "",
            env=list(cfg.get("Env") or []),
            working_dir=cfg.get("WorkingDir") or "",
            user=cfg.get("User") or "",
            tty=bool(cfg.get("Tty")),
            open_stdin=bool(cfg.get("OpenStdin")),
            host_config=hc,
            hosts_file=p.hosts,
            resolv_file=p.resolv,
            hostname_file=p.hostname,
            cgroups_path=cgroups_path(c.id),
            init_path=None,
            stop_signal=cfg.get("StopSignal"),
            netns_path=self._ns_of(hc.get("NetworkMode"), "net"),
            ipc_ns_path=self._ns_of(hc.get("IpcMode"), "ipc"),
            pid_ns_path=self._ns_of(hc.get("PidMode"), "pid"),
        )

    def _ns_of(self, mode: str | None, kind: str) -> str | None:
        """``/proc/<pid>/ns/<kind>`` of the container named by a ``container:<ref>`` mode."""
        if not mode or not mode.startswith("container:") or self.lookup is None:
            return None
        ref = mode.split(":", 1)[1]
        other = self.lookup(ref)
        if other is None:
            raise NotFound(f"No such container: {ref}")
        if not other.running or not other.state.pid:
            raise Conflict(f"cannot join {kind} namespace of a non running container: {ref}")
        return f"/proc/{other.state.pid}/ns/{kind}"

    async def create(self, c: Container) -> None:
        """Make the runtime container (not started): sets pid and conmon_pid on ``c``."""
        p = self.paths(c.id)
        policy = log_policy(c.host_config.get("LogConfig"))  # dockerd checks values at start
        await self.mount(c)
        try:
            hc = c.host_config
            etcfiles.write_etc_files(
                p.hostname,
                p.hosts,
                p.resolv,
                hostname=c.config.get("Hostname") or c.id[:12],
                host_network=hc.get("NetworkMode") == "host",
                dns=hc.get("Dns") or self.config.dns,
                dns_search=hc.get("DnsSearch"),
                dns_options=hc.get("DnsOptions"),
                extra_hosts=hc.get("ExtraHosts"),
            )
            spec = build_spec(self.spec_input(c))
            await run_prepare(self.hooks, c, spec)
            (p.bundle / "config.json").write_text(json.dumps(spec))
            for stale in ("oom", "attach", "ctl", "winsz"):
                (p.bundle / stale).unlink(missing_ok=True)
            oci = self.oci_for(c)
            # A stale runtime state (e.g. after a host crash) would make create fail.
            await oci.delete(c.id)
            pid, conmon_pid = await conmon.launch(
                self.info.conmon_path or "conmon",
                conmon.ConmonLaunch(
                    cid=c.id,
                    name=c.name,
                    bundle=p.bundle,
                    log_path=p.log,
                    exit_dir=p.exit_dir,
                    runtime_path=oci.path,
                    runtime_root=self.runtime_root,
                    pidfile=p.pidfile,
                    conmon_pidfile=p.conmon_pidfile,
                    terminal=bool(c.config.get("Tty")),
                    stdin=bool(c.config.get("OpenStdin")),
                    # A TTY keeps its terminal when an attached client goes away
                    # (conmon would otherwise close the pty master).
                    leave_stdin_open=not c.config.get("StdinOnce") or bool(c.config.get("Tty")),
                    log_level=self.config.log_level,
                    command=c.path,
                    log_driver="k8s-file" if policy.readable else "none",
                    log_size_max=policy.max_size,
                ),
            )
        except BaseException:
            rootfs.unmount(p.rootfs)
            raise
        c.state.pid = pid
        c.conmon_pid = conmon_pid
        c.runtime_created = True

    async def update(self, c: Container, resources: dict[str, Any]) -> None:
        """Apply OCI ``linux.resources`` to the running container ``c``."""
        await live_update.update(self.oci_for(c), c.id, cgroups_path(c.id), resources)

    async def cleanup(self, c: Container) -> None:
        """Delete the runtime container and unmount the rootfs (after exit)."""
        try:
            await self.oci_for(c).delete(c.id)
        except EngineError as e:
            log.warning("runtime delete of %s failed: %s", c.id[:12], e.message)
        cgroups.remove_leftovers(cgroups_path(c.id))
        rootfs.unmount(self.paths(c.id).rootfs)
        c.runtime_created = False
        c.conmon_pid = 0
        c.state.pid = 0

    def oom_killed(self, cid: str) -> bool:
        """conmon leaves an ``oom`` file in its cwd (the bundle) on an OOM kill."""
        return (self.paths(cid).bundle / "oom").exists()
