"""``docker commit``: a container's changes become a new image layer.

The layer is the overlay upper dir as a tar (whiteouts as AUFS ``.wh.`` entries,
see :mod:`.upperdiff`), unpacked and verified by the images area's layer store and
registered on top of the container's image. The new image's config follows Docker:
the request's config (or the container's), then ``changes`` (Dockerfile-style
instructions, parsed by the images area's ``--change`` parser), then anything still
unset taken from the container's config (moby's ``merge``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from typing import TYPE_CHECKING, Any

from ... import __version__
from ...conventions import format_rfc3339
from ...errors import Conflict, EngineError
from ...fs.tarwrite import TreeTar, stream_from_thread
from ...system.crashpoint import crash_point
from ..model import DEAD, PAUSED, REMOVING, RUNNING
from .upperdiff import write_layer

if TYPE_CHECKING:
    from ..service import ContainerService

log = logging.getLogger(__name__)

# How long a failed pause waits to see the container's exit before reporting the failure.
EXIT_GRACE = 2.0


def merge_config(user: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """moby's ``merge(userConf, imageConf)``: fill what ``user`` leaves unset from
    ``base`` (here: the container's config)."""
    out = copy.deepcopy(user)
    if not out.get("User"):
        out["User"] = base.get("User") or ""
    ports = dict(out.get("ExposedPorts") or {})
    for p, v in (base.get("ExposedPorts") or {}).items():
        ports.setdefault(p, v)
    out["ExposedPorts"] = ports or None
    env = list(out.get("Env") or [])
    if not env:
        env = list(base.get("Env") or [])
    else:
        keys = {e.split("=", 1)[0] for e in env}
        env += [e for e in base.get("Env") or [] if e.split("=", 1)[0] not in keys]
    out["Env"] = env
    labels = dict(out.get("Labels") or {})
    for k, v in (base.get("Labels") or {}).items():
        labels.setdefault(k, v)
    out["Labels"] = labels
    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = base.get("Cmd")
        if out.get("Entrypoint") is None:
            out["Entrypoint"] = base.get("Entrypoint")
    if base.get("Healthcheck"):
        hc = out.get("Healthcheck")
        if not hc:
            out["Healthcheck"] = base["Healthcheck"]
        else:
            hc = dict(hc)
            for key in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
                if not hc.get(key):
                    hc[key] = base["Healthcheck"].get(key)
            out["Healthcheck"] = hc
    if not out.get("WorkingDir"):
        out["WorkingDir"] = base.get("WorkingDir") or ""
    volumes = dict(out.get("Volumes") or {})
    volumes.update(base.get("Volumes") or {})
    out["Volumes"] = volumes or None
    if not out.get("StopSignal") and base.get("StopSignal"):
        out["StopSignal"] = base["StopSignal"]
    return out


async def _exited(svc: ContainerService, cid: str) -> bool:
    """Whether the container has stopped (or stops within a moment: its process may be
    gone while conmon has not reaped it and the runtime still calls it running)."""
    try:
        st = await svc.runner.oci.state(cid)
    except EngineError:
        st = {}
    if st is None or st.get("status") == "stopped":
        return True
    try:
        await asyncio.wait_for(svc.exit_event(cid).wait(), EXIT_GRACE)
    except TimeoutError:
        return False
    return True


async def commit_container(
    svc: ContainerService,
    ref: str,
    repo: str | None = None,
    tag: str | None = None,
    comment: str = "",
    author: str = "",
    pause: bool = True,
    changes: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> str:
    """``POST /commit``: the new image's id."""
    c = svc.get(ref)
    if c.state.status == DEAD:
        raise Conflict(f"You cannot commit container {c.name} which is Dead")
    if c.state.status == REMOVING:
        raise Conflict(f"You cannot commit container {c.name} which is being removed")
    target = svc.images.target_reference(repo or None, tag or None)
    images = svc.images
    parent = await images.resolve(c.image_id)
    # The image config is settled before any work: a bad change fails fast.
    base = dict(c.config)
    user_cfg = dict(config) if config else dict(base)
    new_cfg = merge_config(images.apply_changes(user_cfg, list(changes or [])), base)
    paths = svc.runner.paths(c.id)
    layers = images.layer_dirs(parent)

    def work(emit: Any) -> None:
        tar = TreeTar(emit)
        write_layer(tar, paths.upper, layers)
        tar.close()

    paused_here = False
    marker = svc.runner.paths(c.id).commit_pause
    if pause and c.state.status == RUNNING:
        try:
            # Written first: an engine that dies while the container is paused for us
            # finds it at start and unpauses (the user never asked for a pause).
            marker.touch()
            await svc.pause(c.id)
            paused_here = True
            crash_point("commit-paused")
        except EngineError:
            # Its process may have exited a moment ago, before the exit was handled:
            # dockerd pauses only a running container, so a stopped one is committed as is.
            if not await _exited(svc, c.id):
                raise
    try:
        pending = await images.extract_layer(stream_from_thread(work))
    finally:
        if paused_here and c.state.status == PAUSED:
            try:
                await svc.unpause(c.id)
            except EngineError as e:
                log.warning("unpausing %s after commit failed: %s", c.id[:12], e.message)
        marker.unlink(missing_ok=True)
    created = format_rfc3339()
    pcfg = parent.config
    history = list(pcfg.get("history") or [])
    entry: dict[str, Any] = {
        "created": created,
        "created_by": " ".join(base.get("Cmd") or [c.path, *c.args]),
    }
    if author:
        entry["author"] = author
    if comment:
        entry["comment"] = comment
    history.append(entry)
    image_cfg: dict[str, Any] = {
        "architecture": pcfg.get("architecture") or "amd64",
        "author": author,
        "comment": comment,
        "config": new_cfg,
        "container": c.id,
        "container_config": base,
        "created": created,
        "docker_version": __version__,
        "history": history,
        "os": pcfg.get("os") or "linux",
        "rootfs": {"type": "layers", "diff_ids": [*parent.diff_ids, pending.diff_id]},
    }
    if pcfg.get("variant"):
        image_cfg["variant"] = pcfg["variant"]
    if not author:
        del image_cfg["author"]
    config_bytes = json.dumps(image_cfg, separators=(",", ":")).encode()
    with images.hold_layers([*parent.diff_ids, pending.diff_id]):
        images.keep_layer(pending)
        crash_point("commit-layer")
        image, _ = await images.register(
            config_bytes, [target.string()] if target else [], touch=True
        )
    attrs = {"comment": comment, "imageID": image.id}
    if target:
        attrs["imageRef"] = target.familiar()
        images.publish("tag", image.id, target.familiar())
    svc.emit_event(c, "commit", **attrs)
    return image.id
