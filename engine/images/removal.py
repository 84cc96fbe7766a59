"""``docker rmi`` and ``docker image prune`` with Docker's reference and conflict rules.

Deleting by name removes that reference first and deletes the image only when no
reference is left. Deleting by id removes all references when they belong to one
repository. Conflicts, checked in moby's order: images built on this one and a running
container are hard (even ``force`` fails); other references and a stopped container
are soft (``force`` overrides). Deleting by name only untags an image with children. A forced
delete of an image a stopped container still uses hides the image instead of freeing
its layers, because the container's root filesystem is built on them; the layers
are freed by :func:`collect_hidden` once no container uses the image.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..conventions import bool_filter, check_filters, labels_accept
from ..errors import Conflict
from ..system.crashpoint import crash_point
from .reference import Reference, parse_reference
from .views import filter_time

if TYPE_CHECKING:
    from .service import ImageService

PRUNE_FILTERS = {"dangling", "until", "label", "label!"}


@dataclass
class _Conflict:
    message: str
    hard: bool
    used: bool


def _short(id_: str) -> str:
    return id_.removeprefix("sha256:")[:12]


def _is_single_reference(refs: list[Reference]) -> bool:
    """One tag (plus digests of the same repository), or a single reference."""
    if len(refs) <= 1:
        return len(refs) == 1
    single: Reference | None = None
    digest_repos: set[str] = set()
    for r in refs:
        if r.digest:
            digest_repos.add(r.name)
        elif single is None:
            single = r
        else:
            return False
    single = single or refs[0]
    return len(digest_repos) == 1 and single.name in digest_repos


def _check(svc: ImageService, image_id: str, hard: bool, soft_refs: bool, soft_stopped: bool):
    if hard and image_id in svc.has_children():
        return _Conflict("image has dependent child images", True, False)
    if hard:
        running = svc.users(image_id, running_only=True)
        if running:
            return _Conflict(
                f"image is being used by running container {_short(running[0])}", True, True
            )
    if soft_refs and svc.catalog.refs_of(image_id):
        return _Conflict("image is referenced in multiple repositories", False, False)
    if soft_stopped:
        busy = set(svc.users(image_id, running_only=True))
        stopped = [c for c in svc.users(image_id) if c not in busy]
        if stopped:
            return _Conflict(
                f"image is being used by stopped container {_short(stopped[0])}", False, True
            )
    return None


def _raise(image_id: str, c: _Conflict) -> None:
    how = "cannot be forced" if c.hard else "must be forced"
    raise Conflict(f"conflict: unable to delete {_short(image_id)} ({how}) - {c.message}")


def _untag(svc: ImageService, ref: Reference, image_id: str, records: list[dict]) -> None:
    svc.catalog.remove_ref(ref.string())
    records.append({"Untagged": ref.familiar()})
    svc.publish("untag", image_id, image_id)


async def delete_image(
    svc: ImageService, name: str, *, force: bool, prune: bool
) -> list[dict[str, Any]]:
    """Docker's ImageDelete: returns the ``Untagged``/``Deleted`` records."""
    async with svc.lock:
        image_id, parsed = svc.lookup(name)
        if image_id is None:
            await svc.resolve(name)  # raises Docker's NotFound
            raise AssertionError("unreachable")
        records: list[dict[str, Any]] = []
        refs = [parse_reference(r) for r in svc.catalog.refs_of(image_id)]
        quiet = False
        if parsed is not None:
            key = parsed if parsed.digest else parsed.with_default_tag()
            if not force and _is_single_reference(refs):
                users = svc.users(image_id)
                if users:
                    raise Conflict(
                        f'conflict: unable to remove repository reference "{name}" '
                        f"(must force) - container {_short(users[0])} is using its "
                        f"referenced image {_short(image_id)}"
                    )
            _untag(svc, key, image_id, records)
            remaining = [parse_reference(r) for r in svc.catalog.refs_of(image_id)]
            if not key.digest and not any(r.name == key.name and not r.digest for r in remaining):
                # The last tag of a repository takes that repository's digests along.
                for r in [r for r in remaining if r.digest and r.name == key.name]:
                    _untag(svc, r, image_id, records)
            if svc.catalog.refs_of(image_id):
                return records
            quiet = True
        elif _is_single_reference(refs):
            c = _check(svc, image_id, hard=True, soft_refs=False, soft_stopped=not force)
            if c:
                _raise(image_id, c)
            for r in refs:
                _untag(svc, r, image_id, records)
        parent = svc.parent_of(image_id)
        await _delete_helper(svc, image_id, records, force=force, quiet=quiet)
        if prune and image_id not in svc.catalog.rows:
            await _delete_parents(svc, parent, records)
        return records


async def _delete_parents(svc: ImageService, parent: str, records: list[dict]) -> int:
    """dockerd: deleting a built image also deletes the untagged step images below it
    that nothing else needs (no tag, no other child, no container)."""
    reclaimed = 0
    while parent and parent in svc.catalog.rows:
        if svc.catalog.refs_of(parent) or svc.users(parent) or parent in svc.has_children():
            break
        above = svc.parent_of(parent)
        try:
            reclaimed += await _delete_helper(svc, parent, records, force=False, quiet=False)
        except Conflict:
            break
        parent = above
    return reclaimed


async def _delete_helper(
    svc: ImageService, image_id: str, records: list[dict], *, force: bool, quiet: bool
) -> int:
    c = _check(svc, image_id, hard=True, soft_refs=not force, soft_stopped=not force)
    if c:
        dangling = not svc.catalog.refs_of(image_id) and image_id not in svc.has_children()
        if quiet and (not dangling or c.used):
            return 0  # the untag already happened; the image stays, like Docker
        _raise(image_id, c)
    img = svc.image(image_id)
    for r in list(img.refs):
        _untag(svc, parse_reference(r), image_id, records)
    reclaimed = 0
    if svc.users(image_id):
        svc.catalog.hide(image_id)  # a stopped container still needs its layers
    else:
        svc.catalog.remove_image(image_id)
        crash_point("rmi")
        removed = await _free_layers(svc, img.diff_ids)
        reclaimed = sum(removed.values())
        await svc.content.delete(image_id)
        records.append({"Deleted": image_id})
        # Top-most layer first, as dockerd lists a released chain.
        chains = reversed(list(_chain_ids(img.diff_ids)))
        records.extend({"Deleted": cid} for cid in chains if cid in removed)
        svc.publish("delete", image_id, image_id)
        return reclaimed
    records.append({"Deleted": image_id})
    svc.publish("delete", image_id, image_id)
    return reclaimed


def _chain_ids(diff_ids: list[str]) -> dict[str, str]:
    """chain id -> diff id, as Docker names layers in ``Deleted`` records."""
    out: dict[str, str] = {}
    chain = ""
    for d in diff_ids:
        chain = d if not chain else "sha256:" + hashlib.sha256(f"{chain} {d}".encode()).hexdigest()
        out[chain] = d
    return out


async def _free_layers(svc: ImageService, diff_ids: list[str]) -> dict[str, int]:
    """Remove the image's layers no other image uses or a pull/load holds, top-most
    first (as Docker releases a chain); returns chain id -> size.

    Whether a layer is used is asked again right before each removal: removing one
    waits on the disk, and meanwhile a pull may have taken a hold on another layer and
    found it present. Between that check and ``LayerStore.remove`` renaming the layer
    away and forgetting it there is no await, so a hold taken later finds it missing.
    """
    freed: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for d in dict.fromkeys(reversed(diff_ids)):
        if d not in svc.referenced_layers():
            sizes[d] = await svc.layers.remove(d)
    for chain, d in _chain_ids(diff_ids).items():
        if d in sizes:
            freed[chain] = sizes.pop(d)
    return freed


async def collect_hidden(svc: ImageService) -> int:
    """Delete hidden (force-removed) images that no container uses any more."""
    reclaimed = 0
    async with svc.lock:
        for image_id, row in list(svc.catalog.rows.items()):
            if row["hidden"] and not svc.users(image_id):
                img = svc.image(image_id)
                svc.catalog.remove_image(image_id)
                reclaimed += sum((await _free_layers(svc, img.diff_ids)).values())
                await svc.content.delete(image_id)
    return reclaimed


async def prune_images(svc: ImageService, filters: dict[str, list[str]]) -> dict[str, Any]:
    """``POST /images/prune``: unused (by default only dangling) images."""
    check_filters(filters, PRUNE_FILTERS)
    dangling = bool_filter(filters, "dangling") is not False
    until = min(filter_time(v) for v in filters["until"]) if "until" in filters else None
    reclaimed = await collect_hidden(svc)
    records: list[dict[str, Any]] = []
    async with svc.lock:
        # Only images no other was built on are candidates (moby's "top" images); their
        # untagged step images go with them.
        intermediate = svc.has_children()
        for img in svc.images():
            if img.id not in svc.catalog.rows:
                continue  # went with a child deleted earlier in this loop
            if img.id in intermediate or (dangling and img.refs):
                continue
            if until is not None and img.created_unix >= until:
                continue
            if not labels_accept(filters, img.labels):
                continue
            if svc.users(img.id):
                continue
            for r in list(img.refs):
                _untag(svc, parse_reference(r), img.id, records)
            parent = svc.parent_of(img.id)
            reclaimed += await _delete_helper(svc, img.id, records, force=False, quiet=False)
            if img.id not in svc.catalog.rows:
                reclaimed += await _delete_parents(svc, parent, records)
    svc.events.publish("image", "prune", "", {"reclaimed": str(reclaimed)})
    return {"ImagesDeleted": records or None, "SpaceReclaimed": reclaimed}
