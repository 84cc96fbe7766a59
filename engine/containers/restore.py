"""Live restore: re-adopt containers after the engine restarts (or crashed).

conmon and the containers kept running without us. For each container whose runtime
container existed, either its conmon is still alive (watch it again, re-read the
runtime state for paused/running) or it exited meanwhile (its exit file holds the
real exit code and time; the normal exit path then applies restart policies and
AutoRemove).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import EngineError
from ..runtime import conmon
from .files import rootfs
from .hooks import run_on_restore
from .model import CREATED, EXITED, PAUSED, REMOVING, RESTARTING, RUNNING, Container

if TYPE_CHECKING:
    from .service import ContainerService

log = logging.getLogger(__name__)


async def restore_all(svc: ContainerService) -> None:
    """Adopt every stored container; never fails the engine start."""
    for c in svc.registry.all():
        try:
            await _restore_one(svc, c)
        except Exception:
            log.exception("restoring container %s failed", c.id[:12])
    for c in svc.registry.all():
        await _undo_commit_pause(svc, c)
        _unmount_if_not_running(svc, c)


async def _undo_commit_pause(svc: ContainerService, c: Container) -> None:
    """Unpause a container a commit had paused when the engine died."""
    marker = svc.runner.paths(c.id).commit_pause
    if not marker.exists():
        return
    if c.state.status == PAUSED:
        log.info("unpausing container %s, paused by a commit the engine did not finish", c.id[:12])
        try:
            await svc.unpause(c.id)
        except EngineError as e:
            log.warning("container %s: %s", c.id[:12], e.message)
            return
    marker.unlink(missing_ok=True)


def _unmount_if_not_running(svc: ContainerService, c: Container) -> None:
    """Unmount the root filesystem of a container that is not running (as dockerd does
    at start): a crash mid-start, mid-commit or mid-copy left it mounted, and nothing
    else would unmount it before the container is started or removed."""
    if c.state.status in (RUNNING, PAUSED):
        return
    target = svc.runner.paths(c.id).rootfs
    try:
        if rootfs.is_mounted(target):
            log.info("unmounting the root filesystem of stopped container %s", c.id[:12])
            rootfs.unmount(target)
    except EngineError as e:
        log.warning("container %s: %s", c.id[:12], e.message)


async def _restore_one(svc: ContainerService, c: Container) -> None:
    runner = svc.runner
    paths = runner.paths(c.id)
    if c.state.status == REMOVING:
        await svc.finish_removal(c)
        return
    if c.state.status == RESTARTING:
        c.state.move_to(EXITED)
        await svc.lifecycle.after_exit(c, 0.0)
        return
    if not c.runtime_created:
        if c.state.status in (RUNNING, PAUSED):
            # The engine died between states; nothing runs for it.
            c.state.move_to(EXITED)
            svc.store.save(c)
        return
    alive = c.conmon_pid > 0 and conmon.is_conmon_for(c.conmon_pid, c.id)
    if alive and c.state.status == CREATED:
        # Runtime-created (an attach before start) but never started: start afresh.
        await runner.cleanup(c)
        svc.store.save(c)
        return
    if alive:
        try:
            st = await runner.oci_for(c).state(c.id)
        except EngineError:
            st = None
        status = (st or {}).get("status")
        if status == "paused":
            c.state.move_to(PAUSED)
        elif status in ("running", "created"):
            c.state.move_to(RUNNING)
        svc.registry.renew_exit_event(c.id)
        svc.store.save(c)
        svc.lifecycle.watch(c)
        await run_on_restore(svc.hooks, c)
        svc.lifecycle.seed_stats(c)
        log.info("re-adopted running container %s (%s)", c.id[:12], c.name)
        return
    info = conmon.read_exit_file(paths.exit_dir, c.id)
    log.info(
        "container %s exited while the engine was down (exit code %s)",
        c.id[:12],
        info[0] if info else "unknown",
    )
    await svc.lifecycle.handle_exit(c.id, info)
