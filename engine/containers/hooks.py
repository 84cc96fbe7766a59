"""The container hook contract: how volumes, networks, exec, health and log rotation
take part in a container's life without the container service knowing them.

The engine (``engine.py``) builds one ordered list of hooks; the container service calls
each method on every hook in that order (and nothing else). A hook subclasses
:class:`ContainerHook` and overrides the methods it needs; the others do nothing.
Every method is awaited on the event loop, so blocking work goes to an executor.

Order matters where hooks build on each other: volumes first (their mounts must be in
the spec before anything reads the rootfs), then networks (the namespace part of the
spec), then exec sessions, the console size, healthchecks and log rotation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from .model import Container


class ContainerHook(Protocol):
    """One participant in the container lifecycle. All methods are optional."""

    async def on_create(self, c: Container) -> None:
        """Runs at ``docker create``, after the record is stored and before the
        ``create`` event. May validate, allocate what outlives starts (named and
        anonymous volumes) and fill the record (``c.mounts``, ``c.extra``); the record
        is saved afterwards. An exception fails the create: the container is removed
        again (``on_remove`` runs, anonymous volumes included) and the client gets the
        exception's answer."""
        return None

    async def prepare(self, c: Container, spec: dict[str, Any]) -> None:
        """Runs at every start (and before an attach to a never-started container),
        after the overlay is mounted and ``/etc`` files are written, before the OCI
        spec is saved and conmon runs ``runtime create``. May edit ``spec`` (mounts,
        namespaces, console size) and set up host state (mounts, veths). An exception
        fails the start: the runtime container is cleaned up, ``on_stop`` runs on every
        hook, and the client gets the exception's answer."""
        return None

    async def on_start(self, c: Container) -> None:
        """Runs once the process runs (after ``runtime start`` and the ``start``
        event). May fill ``NetworkSettings`` (published ports) and start watchers; the
        record is saved afterwards. An exception reaches the client, the container
        keeps running."""
        return None

    async def on_stop(self, c: Container) -> None:
        """Runs after the container's process exited (or a start failed), the rootfs is
        unmounted and the state says exited; before the ``die`` event and restart
        policies. Releases what ``prepare`` set up; must be idempotent (a failed start
        and a later exit may both call it). An exception propagates to whoever noticed
        the exit."""
        return None

    async def on_remove(self, c: Container) -> None:
        """Runs at ``docker rm`` (and when a create is undone) after the container's
        files are gone and before its record is deleted. Drops everything kept for the
        container; ``c.extra["remove_volumes"]`` says whether ``rm -v`` was asked. An
        exception leaves the container ``Dead`` (removable again, never startable)."""
        return None

    async def on_restore(self, c: Container) -> None:
        """Runs at engine start for a container found still running (live restore),
        after its exit watcher is set up. Re-adopts host state (mount counts,
        namespaces, healthchecks); must not recreate what still exists. An exception
        is logged and ends this container's restore (the later hooks do not run); the
        engine starts anyway."""
        return None


async def run_on_create(hooks: Iterable[ContainerHook], c: Container) -> None:
    """:meth:`ContainerHook.on_create` on every hook, in order."""
    for h in hooks:
        await h.on_create(c)


async def run_prepare(hooks: Iterable[ContainerHook], c: Container, spec: dict[str, Any]) -> None:
    """:meth:`ContainerHook.prepare` on every hook, in order."""
    for h in hooks:
        await h.prepare(c, spec)


async def run_on_start(hooks: Iterable[ContainerHook], c: Container) -> None:
    """:meth:`ContainerHook.on_start` on every hook, in order."""
    for h in hooks:
        await h.on_start(c)


async def run_on_stop(hooks: Iterable[ContainerHook], c: Container) -> None:
    """:meth:`ContainerHook.on_stop` on every hook, in order."""
    for h in hooks:
        await h.on_stop(c)


async def run_on_remove(hooks: Iterable[ContainerHook], c: Container) -> None:
    """:meth:`ContainerHook.on_remove` on every hook, in order."""
    for h in hooks:
        await h.on_remove(c)


async def run_on_restore(hooks: Iterable[ContainerHook], c: Container) -> None:
    """:meth:`ContainerHook.on_restore` on every hook, in order."""
    for h in hooks:
        await h.on_restore(c)
