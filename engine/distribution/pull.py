"""``docker pull``: manifest → platform → config → layers (concurrently) → image.

The flow and every progress line follow dockerd's v2 puller. Layers stream straight
from the registry into the content store and the layer store (see
:mod:`.pipeline`); nothing is registered until every layer has verified. A failed or
interrupted pull removes the blobs and layers it created (unless another pull or an
image uses them), so it never leaves half an image behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, InvalidParameter, NotFound
from ..images.reference import Reference
from ..store.blobs import DigestMismatch
from ..system.crashpoint import crash_point
from . import platforms, progress
from .auth import AuthConfig
from .client import Repository, fallback_ok, sessions
from .errors import DigestError, RegistryError, pull_error
from .manifests import (
    MAX_CONFIG_SIZE,
    SCHEMA1_TYPES,
    Descriptor,
    ImageManifest,
    IndexManifest,
    is_foreign,
    parse_config,
    parse_manifest,
    schema1_message,
)
from .pipeline import run_layer_pipeline
from .platforms import Platform
from .progress import Sink, short_id

if TYPE_CHECKING:
    from .service import DistributionService

log = logging.getLogger(__name__)


@dataclass
class Resolved:
    """A manifest chosen for this host, with its config."""

    top_digest: str  # what the tag points to (an index, or the manifest itself)
    manifest: ImageManifest
    config_bytes: bytes
    config: dict[str, Any]


@dataclass
class _Created:
    """What this pull added to the stores (to undo on failure)."""

    blobs: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)


class Puller:
    """One pull of one reference; progress goes to ``sink``."""

    def __init__(
        self,
        svc: DistributionService,
        auth: AuthConfig,
        sink: Sink,
        platform: Platform | None = None,
    ) -> None:
        self.svc = svc
        self.images = svc.images
        self.auth = auth
        self.sink = sink
        self.platform = platform
        self.created = _Created()
        self.downloaded = False

    # -- entry points --------------------------------------------------------------------
    async def pull(self, ref: Reference) -> Any:
        """Pull ``ref`` (tag or digest) and return the registered Image."""
        errors: list[EngineError] = []
        async for repo in sessions(self.svc.transport, ref.domain, ref.path, self.auth, ("pull",)):
            try:
                return await self._pull_from(repo, ref)
            except RegistryError as e:
                err = pull_error(e, ref.familiar_name(), ref.familiar())
                if not repo.ep.mirror or not fallback_ok(e):
                    raise err from None
                log.info("mirror %s failed for %s: %s", repo.ep.base, ref, e.message)
                errors.append(err)
        raise errors[-1] if errors else NotFound(f"no registry serves {ref.familiar()}")

    async def resolve(self, repo: Repository, ref: Reference) -> Resolved:
        """Fetch and check the manifest (choosing a platform) and the config."""
        want = self.platform or platforms.host_platform()
        tag_or_digest = ref.digest or ref.tag or "latest"
        raw, media_type, digest = await repo.get_manifest(tag_or_digest)
        top = digest
        if media_type in SCHEMA1_TYPES:
            raise InvalidParameter(schema1_message(ref.string()))
        m = parse_manifest(raw, media_type, digest)
        if isinstance(m, IndexManifest):
            entry = platforms.select([d.to_json() for d in m.manifests], want)
            if entry is None:
                raise NotFound(f"no matching manifest for {want} in the manifest list entries")
            raw, media_type, digest = await repo.get_manifest(entry["digest"])
            if media_type in SCHEMA1_TYPES:
                raise InvalidParameter(schema1_message(ref.string()))
            m = parse_manifest(raw, media_type, digest)
            if not isinstance(m, ImageManifest):
                raise InvalidParameter(f"manifest {digest} in the index is not an image")
        config_bytes = await self._config_bytes(repo, m.config)
        config = parse_config(config_bytes, m.config.digest)
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(m.layers):
            raise InvalidParameter(
                f"manifest {digest} has {len(m.layers)} layers but its config lists "
                f"{len(diff_ids)} diff_ids"
            )
        have = platforms.from_json(config)
        if have and have.os != "linux":
            raise InvalidParameter(
                f'image operating system "{have.os}" cannot be used on this platform'
            )
        if self.platform and (have is None or not platforms.matches(self.platform, have)):
            raise NotFound(
                f"image with reference {ref.string()} was found but does not match the "
                f"specified platform: wanted {self.platform}, actual: {have or 'nil'}"
            )
        return Resolved(top, m, config_bytes, config)

    async def _config_bytes(self, repo: Repository, desc: Descriptor) -> bytes:
        content = self.images.content
        if content.has(desc.digest):
            return await content.read(desc.digest)
        return await repo.get_blob(desc.digest, desc.size, MAX_CONFIG_SIZE)

    # -- the pull ------------------------------------------------------------------------
    async def _pull_from(self, repo: Repository, ref: Reference) -> Any:
        res = await self.resolve(repo, ref)
        await self.sink(progress.status(f"Pulling from {ref.path}", ref.digest or ref.tag or ""))
        diff_ids = list(res.config["rootfs"]["diff_ids"])
        try:
            # Pins keep another failing pull's rollback off these layers; the hold keeps
            # rmi/prune off them: a layer found "Already exists" belongs to no image
            # until ours is registered. Both are taken before any layers.has() check.
            with self.svc.pinned(diff_ids), self.images.hold_layers(diff_ids):
                await self._layers(repo, res)
                image = await self._register(ref, res)
        except BaseException:
            await self._rollback()  # outside our own pins/hold, which protect our layers
            raise
        await self.sink(progress.status(f"Digest: {res.top_digest}"))
        return image

    async def _layers(self, repo: Repository, res: Resolved) -> None:
        diff_ids: list[str] = res.config["rootfs"]["diff_ids"]
        layers = self.images.layers
        todo: list[tuple[Descriptor, str]] = []
        seen: set[str] = set()
        for desc, diff_id in zip(res.manifest.layers, diff_ids, strict=True):
            if is_foreign(desc):
                raise InvalidParameter(
                    f"layer {desc.digest} is a foreign (non-distributable) layer; "
                    "only Windows images use those"
                )
            if diff_id in seen:
                continue  # the same layer twice (empty layers): fetch it once
            seen.add(diff_id)
            if layers.has(diff_id):
                await self.sink(progress.update(short_id(desc.digest), "Already exists"))
                self._remember(repo, desc, diff_id)
            else:
                await self.sink(progress.update(short_id(desc.digest), "Pulling fs layer"))
                todo.append((desc, diff_id))
        if not todo:
            return
        tasks = [asyncio.create_task(self._layer(repo, d, i)) for d, i in todo]
        try:
            # The first failure wins; the other downloads are cancelled (and clean up).
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                failure = None if t.cancelled() else t.exception()
                if failure is not None:
                    raise failure
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(BaseException):
                    await t

    async def _layer(self, repo: Repository, desc: Descriptor, diff_id: str) -> None:
        id_ = short_id(desc.digest)
        sem = self.svc.download_slots
        if sem.locked():
            await self.sink(progress.update(id_, "Waiting"))
        # The layer lock first: a pull waiting for another pull's download of the same
        # layer must not hold a download slot meanwhile.
        async with self.svc.layer_lock(diff_id), sem:
            if self.images.layers.has(diff_id):  # another pull got it meanwhile
                await self.sink(progress.update(id_, "Already exists"))
                self._remember(repo, desc, diff_id)
                return
            await self._fetch(repo, desc, diff_id, id_)
            await self.sink(progress.update(id_, "Pull complete"))

    async def _fetch(self, repo: Repository, desc: Descriptor, diff_id: str, id_: str) -> None:
        content, layers = self.images.content, self.images.layers
        meter = progress.Meter(self.sink, id_, "Downloading", desc.size)

        async def downloaded() -> None:
            await meter.flush()
            await self.sink(progress.update(id_, "Verifying Checksum"))
            await self.sink(progress.update(id_, "Download complete"))
            await self.sink(progress.update(id_, "Extracting", desc.size, desc.size))

        async def unpack(chunks: AsyncIterator[bytes]) -> int:
            try:
                return await layers.unpack(diff_id, chunks)
            except DigestMismatch as e:
                raise DigestError(
                    f"failed to register layer: layer {desc.digest} does not match the "
                    f"diff_id {diff_id} in the image config: {e.message}"
                ) from None

        async def ingest(chunks: AsyncIterator[bytes]) -> str:
            try:
                return await content.ingest(chunks, desc.digest, desc.size)
            except DigestMismatch as e:
                log.warning("blob %s failed verification: %s", desc.digest, e.message)
                raise DigestError(
                    f"filesystem layer verification failed for digest {desc.digest}"
                ) from None

        had_blob = content.has(desc.digest)
        try:
            if had_blob:
                # The blob survived (e.g. the image was removed, the blob kept):
                # unpack from disk, no download.
                await run_layer_pipeline(
                    _read_file(content.path(desc.digest)),
                    ingest=None,
                    unpack=unpack,
                    on_bytes=meter.add,
                    on_downloaded=downloaded,
                )
            else:
                self.svc.blob_inflight(desc.digest, True)
                async with repo.open_blob(desc.digest) as resp:
                    await run_layer_pipeline(
                        resp.aiter_raw(1 << 20),
                        ingest=ingest,
                        unpack=unpack,
                        on_bytes=meter.add,
                        on_downloaded=downloaded,
                    )
                self.downloaded = True
        except BaseException:
            # Under the layer lock, so whatever exists now that did not before is ours,
            # even when the failure came after a store had committed its part.
            if layers.has(diff_id):
                self.created.layers.append(diff_id)
            if not had_blob and content.has(desc.digest):
                self.created.blobs.append(desc.digest)  # rollback deletes and unjournals
            elif not had_blob:
                self.svc.blob_inflight(desc.digest, False)
            raise
        self.created.layers.append(diff_id)
        layers.record_blob(diff_id, desc.digest, desc.media_type)
        self.svc.blob_inflight(desc.digest, False)
        crash_point("pull-layer")
        self._remember(repo, desc, diff_id)

    def _remember(self, repo: Repository, desc: Descriptor, diff_id: str) -> None:
        layers, content = self.images.layers, self.images.content
        if layers.blob_for(diff_id) is None and content.has(desc.digest):
            # A crash between storing the blob and recording it: attach it now.
            layers.record_blob(diff_id, desc.digest, desc.media_type)
            self.svc.blob_inflight(desc.digest, False)
        bm = self.svc.blobmap
        bm.add(diff_id, desc.digest, desc.media_type, desc.size)
        bm.seen_in(desc.digest, self.svc.registry_key(repo), repo.path)

    async def _register(self, ref: Reference, res: Resolved) -> Any:
        repo_tags = [ref.string()] if ref.tag and not ref.digest else []
        repo_digests = [f"{ref.name}@{res.top_digest}"]
        return await self.images.register_image(res.config_bytes, repo_tags, repo_digests)

    async def _rollback(self) -> None:
        """Remove what this pull added, unless an image or another pull needs it."""
        try:
            await self.svc.release_unused(self.created.layers, self.created.blobs)
        except Exception:  # never mask the pull's own error
            log.exception("cleaning up after a failed pull")


async def _read_file(path: Any, chunk: int = 1 << 20) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    f = await loop.run_in_executor(None, open, path, "rb")
    try:
        while True:
            data = await loop.run_in_executor(None, f.read, chunk)
            if not data:
                return
            yield data
    finally:
        f.close()
