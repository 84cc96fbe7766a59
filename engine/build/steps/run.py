"""RUN: the command runs in a container of the current image (the same conmon +
runtime path as ``docker run``), and the container's filesystem changes become a layer
through the upper-dir diff that ``docker commit`` uses."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ...containers.files.upperdiff import write_layer
from ...errors import EngineError
from ...fs.tarwrite import TreeTar, stream_from_thread
from ...images.layers import PendingLayer
from ...system.crashpoint import crash_point
from ..dockerfile import Instruction
from ..output import Progress
from ..state import StageState

if TYPE_CHECKING:
    from ..executor import BuildRun

log = logging.getLogger(__name__)

BUILD_LABEL = "com.portside.build"


class StepFailed(EngineError):
    """A RUN whose command exited non-zero; ``code`` goes into ``errorDetail``."""

    status = 500

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def command_of(ins: Instruction, state: StageState) -> list[str]:
    """The argv a RUN executes."""
    if ins.json_form:
        return list(ins.args)
    return [*state.shell, ins.args[0] if ins.args else ""]


def created_by(ins: Instruction, state: StageState) -> str:
    """History's text for a RUN: the build args it saw in front (``|1 A=b ...``)."""
    argv = " ".join(command_of(ins, state))
    used = state.used_args()
    return f"|{len(used)} {' '.join(used)} {argv}" if used else argv


async def quietly(aw: Awaitable[Any]) -> None:
    """Run clean-up to its end even when the build is being cancelled."""
    task = asyncio.ensure_future(aw)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise
    except EngineError as e:
        log.warning("build clean-up: %s", e.message)


async def run(
    build: BuildRun, ins: Instruction, state: StageState, progress: Progress
) -> PendingLayer:
    """Execute the RUN; returns the pending layer of its changes."""
    svc = build.containers
    argv = command_of(ins, state)
    cfg = state.config
    body: dict[str, Any] = {
        "Image": state.image_id,
        "Entrypoint": argv[:1],
        "Cmd": argv[1:],
        # The stage's ENV in full: a base without PATH has dockerd's default only here.
        "Env": [*(cfg.get("Env") or []), *state.used_args(), *build.proxy_args()],
        "User": cfg.get("User") or "",
        "WorkingDir": cfg.get("WorkingDir") or "",
        "Labels": {BUILD_LABEL: build.build_id},
        "AttachStdout": True,
        "AttachStderr": True,
        "Healthcheck": {"Test": ["NONE"]},
        "HostConfig": build.options.host_config(),
    }
    created = await svc.create(body)
    cid = created["Id"]
    # dockerd's rules: a step's container goes after it succeeded (unless rm=0); a failed
    # one stays for inspection unless forcerm. A cancelled build removes it.
    keep = False
    try:
        await progress.line(f" ---> Running in {cid[:12]}")
        c = svc.get(cid)
        conn = await svc.attach_output(c)
        exited = svc.wait_for(cid, "next-exit")
        try:
            await svc.start_container(cid)
            crash_point("build-run")
            if conn is not None:
                out = codecs.getincrementaldecoder("utf-8")("replace")
                err = codecs.getincrementaldecoder("utf-8")("replace")
                async for kind, data in conn.output():
                    if kind == 2:
                        await progress.raw(err.decode(data), stderr=True)
                    else:
                        await progress.raw(out.decode(data))
        finally:
            if conn is not None:
                conn.close()
        code = await exited
        if code != 0:
            keep = not build.options.forcerm
            raise StepFailed(
                f"The command '{' '.join(argv)}' returned a non-zero code: {code}", code
            )
        images = build.images
        parent = images.image(state.image_id)
        upper = svc.runner.paths(cid).upper
        layers = images.layer_dirs(parent)

        def work(emit: Any) -> None:
            tar = TreeTar(emit)
            write_layer(tar, upper, layers)
            tar.close()

        pending = await images.layers.extract(stream_from_thread(work), compression="none")
        keep = not build.options.rm and not build.options.forcerm
    finally:
        if keep:
            build.cache.keep_container(cid)
        else:
            await quietly(svc.remove(cid, force=True))
    if not keep:
        await progress.line(f" ---> Removed intermediate container {cid[:12]}")
    return pending
