"""``docker import``: a root filesystem tar (plain or compressed) becomes a one-layer image."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..conventions import format_rfc3339
from ..errors import InvalidParameter
from ..system import hostinfo
from .catalog import Image
from .changes import apply_changes
from .reference import Reference, check_tag, parse_reference

if TYPE_CHECKING:
    from .service import ImageService


def parse_platform(platform: str | None) -> tuple[str, str, str]:
    """``os[/arch[/variant]]`` → (os, arch, variant); defaults to this host."""
    if not platform:
        return "linux", hostinfo.go_arch(), ""
    parts = platform.strip().lower().split("/")
    if len(parts) > 3 or not parts[0]:
        raise InvalidParameter(f"invalid platform {platform!r}: expected os[/arch[/variant]]")
    if parts[0] != "linux":
        raise InvalidParameter(f"unsupported platform os {parts[0]!r}: only linux images run here")
    arch = parts[1] if len(parts) > 1 and parts[1] else hostinfo.go_arch()
    return "linux", arch, parts[2] if len(parts) > 2 else ""


def import_reference(repo: str | None, tag: str | None) -> Reference | None:
    """The name the imported image gets (None: untagged)."""
    if not repo:
        if tag:
            raise InvalidParameter("a tag was given without a repository")
        return None
    ref = parse_reference(repo)
    if ref.digest:
        raise InvalidParameter("cannot import to a digest reference")
    return ref.with_tag(check_tag(tag)) if tag else ref.with_default_tag()


async def import_rootfs(
    svc: ImageService,
    chunks: AsyncIterator[bytes],
    repo: str | None,
    tag: str | None,
    message: str | None,
    changes: list[str],
    platform: str | None,
    src: str = "-",
) -> Image:
    """Unpack the tar as a layer and register an image built on it."""
    # Everything that can be checked without the body is checked first.
    ref = import_reference(repo, tag)
    os_, arch, variant = parse_platform(platform)
    container_config: dict[str, Any] = apply_changes({}, changes)
    pending = await svc.layers.extract(chunks, compression="auto")
    created = format_rfc3339()
    comment = message or f"Imported from {src}"
    config: dict[str, Any] = {
        "architecture": arch,
        "comment": comment,
        "config": container_config,
        "created": created,
        "docker_version": __version__,
        "history": [{"created": created, "comment": comment}],
        "os": os_,
        "rootfs": {"type": "layers", "diff_ids": [pending.diff_id]},
    }
    if variant:
        config["variant"] = variant
    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    with svc.hold_layers([pending.diff_id]):
        svc.layers.commit(pending)
        image, _ = await svc.register(config_bytes, [ref.string()] if ref else [], touch=True)
    svc.publish("import", image.id, image.id)
    return image
