"""The image service: the one object other areas and the API use for images.

It owns the content store (blobs), the layer store (unpacked layers), the catalog
(images and references) and delegates the bigger operations to their own modules:
``loader`` (docker load), ``saver`` (docker save), ``importer`` (docker import),
``removal`` (rmi, prune) and ``views`` (the JSON shapes of list/inspect/history).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..config import DaemonConfig
from ..conventions import ZERO_TIME
from ..errors import InvalidParameter, NotFound
from ..store.blobs import ContentStore
from ..store.db import Database
from ..system.crashpoint import crash_point
from ..system.events import EventBus
from .catalog import Image, ImageCatalog
from .changes import apply_changes
from .importer import import_reference
from .layers import LayerStore, PendingLayer
from .reference import DEFAULT_TAG, Reference, check_tag, is_full_id, parse_reference

log = logging.getLogger(__name__)

_HEX_PREFIX = re.compile(r"^(?:sha256:)?([0-9a-f]{1,64})$")

UsageChecker = Callable[..., list[str]]


class ImageService:
    """Images: load, import, save, list, inspect, tag, delete, prune."""

    def __init__(self, config: DaemonConfig, db: Database, events: EventBus) -> None:
        self.config = config
        self.db = db
        self.events = events
        self.content = ContentStore(config.data_root / "blobs")
        self.layers = LayerStore(config.data_root / "layers", db, self.content)
        self.catalog = ImageCatalog(db)
        self.lock = asyncio.Lock()  # serialises changes to images, refs and layers
        self._usage: UsageChecker | None = None
        self._usage_running_kw = False
        self._parent_links: Callable[[], Mapping[str, str]] = dict
        self._holds: Counter[str] = Counter()
        self._gc_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the stores and drop layers and blobs that no image references (an
        interrupted pull, load, commit or rmi leaves such; nothing can be using them at
        start-up: no pull or load is running yet)."""
        self.content.start()
        self.layers.start()
        self.catalog.load()
        for diff_id in self.layers.ids() - self.referenced_layers():
            log.info("removing unreferenced layer %s", diff_id)
            await self.layers.remove(diff_id)
        kept = set(self.catalog.rows)
        kept.update(rec[0] for d in self.layers.ids() if (rec := self.layers.blob_for(d)))
        for digest in self.content.digests() - kept:
            log.info("removing unreferenced blob %s", digest)
            await self.content.delete(digest)
        self._gc_task = asyncio.create_task(self._collect_after_container_removal())

    async def shutdown(self) -> None:
        """Stop the background collector; every change is already committed."""
        if self._gc_task is not None:
            self._gc_task.cancel()
            try:
                await self._gc_task
            except asyncio.CancelledError:
                pass

    async def _collect_after_container_removal(self) -> None:
        """Free force-removed images once their last container is destroyed.

        Watching the event bus keeps the containers service unaware of this bookkeeping.
        """

        def destroyed(e: Any) -> bool:
            return e.type == "container" and e.action == "destroy"

        async for _ in self.events.stream(accept=destroyed):
            if not any(r["hidden"] for r in self.catalog.rows.values()):
                continue
            await asyncio.sleep(0.1)  # let the container service finish forgetting it
            try:
                reclaimed = await self.collect_garbage()
            except Exception:
                log.exception("collecting removed images failed")
            else:
                if reclaimed:
                    log.info("freed %d bytes of force-removed images", reclaimed)

    # -- reading -----------------------------------------------------------------------
    def count(self) -> int:
        """Number of (visible) images."""
        return len(self.catalog.visible())

    def image(self, image_id: str) -> Image:
        """The Image with this exact id (hidden ones included)."""
        row = self.catalog.rows.get(image_id)
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        config = row["config"]
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        refs = self.catalog.refs_of(image_id)
        tags: list[str] = []
        digests: list[str] = []
        for r in refs:
            ref = parse_reference(r)
            (digests if ref.digest else tags).append(ref.familiar())
        size = sum(self.layers.size(d) for d in set(diff_ids) if self.layers.has(d))
        return Image(
            id=image_id,
            config=config,
            repo_tags=tags,
            repo_digests=digests,
            diff_ids=diff_ids,
            created=str(config.get("created") or ""),
            size=size,
            added=row["added"],
            last_tag_time=row["last_tag_time"] or ZERO_TIME,
            hidden=bool(row["hidden"]),
            refs=refs,
        )

    def images(self) -> list[Image]:
        """Every visible image."""
        return [self.image(i) for i in self.catalog.visible()]

    def lookup(self, ref: str) -> tuple[str | None, Reference | None]:
        """``(image id or None, parsed name reference or None)`` for ``ref``.

        Order as Docker: a full id, then a name (``:latest`` implied), then an id prefix.
        """
        ref = ref.strip()
        if is_full_id(ref):
            full = ref if ref.startswith("sha256:") else "sha256:" + ref
            return (full if full in self.catalog.rows else None), None
        parsed: Reference | None = None
        try:
            parsed = parse_reference(ref)
        except InvalidParameter:
            parsed = None
        if parsed is not None:
            key = parsed.with_default_tag().string()
            if key in self.catalog.refs:
                return self.catalog.refs[key], parsed
        m = _HEX_PREFIX.match(ref)
        if m:
            hits = [i for i in self.catalog.visible() if i[7:].startswith(m[1])]
            if len(hits) == 1:
                return hits[0], None
        return None, parsed

    async def resolve(self, ref: str) -> Image:
        """The image ``ref`` names (name[:tag], name@digest, full or short id)."""
        image_id, parsed = self.lookup(ref)
        if image_id is None:
            shown = parsed.with_default_tag().familiar() if parsed else ref
            raise NotFound(f"No such image: {shown}")
        return self.image(image_id)

    def layer_dirs(self, image: Image) -> list[Path]:
        """The image's layer ``diff`` dirs, TOP-MOST FIRST (overlay lowerdir order).

        A diff-id repeated in one image (empty layers often are) is kept only at its
        top-most position: the lower copy is identical and fully covered by it, and
        overlayfs refuses the same lowerdir twice.
        """
        out: list[Path] = []
        seen: set[str] = set()
        for diff_id in reversed(image.diff_ids):
            if diff_id not in seen:
                seen.add(diff_id)
                out.append(self.layers.dir(diff_id))
        return out

    def referenced_layers(self) -> set[str]:
        """Diff-ids used by any image (hidden ones too) or held by a running load,
        import, commit or pull (see :meth:`hold_layers`)."""
        used: set[str] = set(self._holds)
        for row in self.catalog.rows.values():
            used.update((row["config"].get("rootfs") or {}).get("diff_ids") or [])
        return used

    @contextmanager
    def hold_layers(self, diff_ids: Iterable[str]) -> Iterator[None]:
        """Keep these layers from being freed by a concurrent rmi/prune while an image
        that will reference them is being registered."""
        ids = list(diff_ids)
        self._holds.update(ids)
        try:
            yield
        finally:
            self._holds.subtract(ids)
            for d in ids:
                if self._holds[d] <= 0:
                    del self._holds[d]

    # -- parents (images built step by step) ---------------------------------------------
    def set_parent_links(self, fn: Callable[[], Mapping[str, str]]) -> None:
        """``fn()`` → child id → parent id for images the builder made; an untagged
        image with a child is then "intermediate" (listed only with ``all``)."""
        self._parent_links = fn

    def parent_of(self, image_id: str) -> str:
        """The image this one was built on ("" when unknown or gone)."""
        parent = self._parent_links().get(image_id, "")
        return parent if parent in self.catalog.rows else ""

    def has_children(self) -> set[str]:
        """Ids of images some existing built image names as its parent."""
        rows = self.catalog.rows
        return {p for c, p in self._parent_links().items() if c in rows}

    # -- container usage ---------------------------------------------------------------
    def set_usage_checker(self, fn: UsageChecker) -> None:
        """``fn(image_id[, running_only=True])`` → ids of containers using the image."""
        self._usage = fn
        try:
            self._usage_running_kw = "running_only" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            self._usage_running_kw = False

    def users(self, image_id: str, running_only: bool = False) -> list[str]:
        """Containers using the image (only running ones when asked)."""
        if self._usage is None:
            return []
        if running_only:
            if not self._usage_running_kw:
                return []
            return list(self._usage(image_id, running_only=True))
        return list(self._usage(image_id))

    # -- writing -----------------------------------------------------------------------
    def publish(self, action: str, image_id: str, name: str | None = None) -> None:
        """An ``image`` event with Docker's attributes (name and the image's labels)."""
        attrs: dict[str, str] = {}
        row = self.catalog.rows.get(image_id)
        if row is not None:
            attrs.update((row["config"].get("config") or {}).get("Labels") or {})
        attrs["name"] = name or image_id
        self.events.publish("image", action, image_id, attrs)

    # -- building images from a container or a builder ---------------------------------
    @staticmethod
    def target_reference(repo: str | None, tag: str | None) -> Reference | None:
        """The name a committed or imported image gets from ``repo``/``tag`` (None:
        untagged), with Docker's 400s."""
        return import_reference(repo, tag)

    @staticmethod
    def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
        """``config`` (an image's ``config`` object) with Dockerfile-style change lines
        (``CMD``, ``ENV``, ``LABEL``...) applied, as ``commit``/``import --change``."""
        return apply_changes(config, changes)

    async def extract_layer(self, tar_chunks: AsyncIterator[bytes]) -> PendingLayer:
        """Unpack an uncompressed layer tar into a pending layer (not yet visible):
        :meth:`keep_layer` it, under :meth:`hold_layers`, before registering an image
        that uses it."""
        return await self.layers.extract(tar_chunks, compression="none")

    def keep_layer(self, pending: PendingLayer) -> bool:
        """Move a pending layer into the store; False when it was stored already."""
        return self.layers.commit(pending)

    async def register_image(
        self,
        config_bytes: bytes,
        repo_tags: Iterable[str],
        repo_digests: Iterable[str] = (),
        *,
        event: str | None = None,
    ) -> Image:
        """Store a config, record the image and point the tags at it.

        Every layer in ``rootfs.diff_ids`` must already be in the layer store. A tag
        taken from another image leaves that image dangling. Publishes ``event`` (for
        example ``load`` or ``import``) when given; tags set here publish nothing, as
        with Docker's load and pull.
        """
        image, _ = await self.register(config_bytes, repo_tags, repo_digests)
        if event:
            self.publish(event, image.id, image.id)
        return image

    async def register(
        self,
        config_bytes: bytes,
        repo_tags: Iterable[str],
        repo_digests: Iterable[str] = (),
        touch: bool = False,
    ) -> tuple[Image, list[tuple[str, str]]]:
        """:meth:`register_image` that also returns ``(tag, previous image id)`` moves."""
        config = parse_config(config_bytes)
        tags = [parse_reference(t).with_default_tag() for t in repo_tags]
        digests = [parse_reference(d) for d in repo_digests]
        for d in digests:
            if not d.digest:
                raise InvalidParameter(f"repo digest {d.familiar()} has no digest")
        for diff_id in config["rootfs"]["diff_ids"]:
            if not self.layers.has(diff_id):
                raise InvalidParameter(f"image config references missing layer {diff_id}")
        image_id = await self.content.write(config_bytes)
        crash_point("image-register")
        moved: list[tuple[str, str]] = []
        async with self.lock:
            with self.db.transaction():
                self.catalog.add_image(image_id, config)
                for ref in [*tags, *digests]:
                    previous = self.catalog.set_ref(ref.string(), image_id, touch)
                    if previous:
                        moved.append((ref.familiar(), previous))
        return self.image(image_id), moved

    async def add_repo_digest(self, image_id: str, repo_digest: str) -> None:
        """Record ``name@sha256:…`` (the manifest digest after a pull or push)."""
        ref = parse_reference(repo_digest)
        if not ref.digest:
            raise InvalidParameter(f"{repo_digest} is not a digest reference")
        self.image(image_id)
        async with self.lock:
            self.catalog.set_ref(ref.string(), image_id)

    async def tag(self, source: str, repo: str, tag: str | None) -> Image:
        """``docker tag``: point ``repo[:tag]`` at the image ``source`` names."""
        image = await self.resolve(source)
        if not repo:
            raise InvalidParameter("repository name must have at least one component")
        ref = parse_reference(repo)
        if ref.digest:
            raise InvalidParameter("refusing to create a tag with a digest reference")
        ref = ref.with_tag(check_tag(tag)) if tag else ref.with_default_tag()
        if ref.familiar_name() == "sha256":
            raise InvalidParameter(
                "refusing to create an ambiguous tag using digest algorithm as name"
            )
        async with self.lock:
            self.catalog.set_ref(ref.string(), image.id, touch=True)
        self.publish("tag", image.id, ref.familiar())
        return self.image(image.id)

    # -- the bigger operations live in their own modules --------------------------------
    async def delete(self, ref: str, force: bool = False, noprune: bool = False) -> list[dict]:
        """``docker rmi``: Untagged/Deleted records, Docker's 409 rules."""
        from .removal import delete_image

        return await delete_image(self, ref, force=force, prune=not noprune)

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """``docker image prune``."""
        from .removal import prune_images

        return await prune_images(self, filters)

    async def collect_garbage(self) -> int:
        """Delete force-removed images no container uses any more; call after a
        container is removed. Returns bytes reclaimed."""
        from .removal import collect_hidden

        return await collect_hidden(self)

    async def load(self, chunks: AsyncIterator[bytes]) -> list[str]:
        """``docker load``: the lines to print (``Loaded image: …``)."""
        from .loader import load_archive

        return await load_archive(self, chunks)

    async def save(self, names: list[str]) -> AsyncIterator[bytes]:
        """``docker save``: resolves every name first, then returns the tar stream."""
        from .saver import prepare_save

        return await prepare_save(self, names)

    async def import_image(
        self,
        chunks: AsyncIterator[bytes],
        repo: str | None = None,
        tag: str | None = None,
        message: str | None = None,
        changes: list[str] | None = None,
        platform: str | None = None,
    ) -> Image:
        """``docker import`` of a rootfs tar (optionally compressed)."""
        from .importer import import_rootfs

        return await import_rootfs(self, chunks, repo, tag, message, changes or [], platform)

    async def df(self) -> list[dict[str, Any]]:
        """Images as ``/system/df`` lists them (with container counts and shared size)."""
        from .views import summaries

        return summaries(self, self.images(), shared_size=True, containers=True)


def parse_config(config_bytes: bytes) -> dict[str, Any]:
    """Decode and sanity-check an image config."""
    try:
        config = json.loads(config_bytes)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidParameter(f"invalid image config: {e}") from e
    if not isinstance(config, dict):
        raise InvalidParameter("invalid image config: not a JSON object")
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise InvalidParameter("invalid image config: rootfs.diff_ids is missing")
    for d in rootfs["diff_ids"]:
        if not isinstance(d, str) or not re.match(r"^sha256:[0-9a-f]{64}$", d):
            raise InvalidParameter(f"invalid image config: bad diff_id {d!r}")
    if config.get("config") is not None and not isinstance(config.get("config"), dict):
        raise InvalidParameter("invalid image config: config is not an object")
    return config


__all__ = ["DEFAULT_TAG", "Image", "ImageService", "parse_config"]
