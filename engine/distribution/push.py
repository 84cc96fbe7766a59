"""``docker push``: layers (HEAD, mount or upload), config, then the manifest.

Each layer is pushed as the compressed blob it was pulled as when the content store
has it. A layer that came in uncompressed (``docker load``, ``commit``) is rebuilt
from its tar-split, gzip-compressed with isal on the fly and sent in chunks; the
resulting digest is recorded so the next push of that layer can ask the registry
about it without compressing again. Progress lines match dockerd's pusher.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, NotFound
from ..images.reference import Reference
from . import progress
from .auth import AuthConfig
from .client import Repository, first_session
from .manifests import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
)
from .progress import Sink, short_id

if TYPE_CHECKING:
    from .service import DistributionService

log = logging.getLogger(__name__)

CHUNK = 16 << 20  # PATCH size for chunked uploads; smaller blobs go in one PUT
_COMPRESSED = (DOCKER_LAYER_GZIP, OCI_LAYER_GZIP, OCI_LAYER_ZSTD)


@dataclass
class PushedLayer:
    """The manifest entry of one pushed layer."""

    digest: str
    size: int
    media_type: str


class Pusher:
    """One push of one image under one reference."""

    def __init__(self, svc: DistributionService, auth: AuthConfig, sink: Sink) -> None:
        self.svc = svc
        self.images = svc.images
        self.auth = auth
        self.sink = sink

    async def push(self, ref: Reference, image: Any) -> tuple[str, int]:
        """Push ``image`` as ``ref`` (a tagged reference); returns (digest, size)."""
        repo = await first_session(
            self.svc.transport, ref.domain, ref.path, self.auth, ("pull", "push"), push=True
        )
        diff_ids: list[str] = list(image.diff_ids)
        ids = [short_id(d) for d in diff_ids]
        # dockerd lists layers top-most first.
        for i in reversed(range(len(diff_ids))):
            await self.sink(progress.update(ids[i], "Preparing"))
        results: dict[int, PushedLayer] = {}
        tasks = {}
        done_ids: set[str] = set()
        for i, diff_id in reversed(list(enumerate(diff_ids))):
            if diff_id in done_ids:
                continue
            done_ids.add(diff_id)
            tasks[i] = asyncio.create_task(self._layer(repo, diff_id, ids[i]))
        try:
            pending = set(tasks.values())
            while pending:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                for t in finished:
                    failure = None if t.cancelled() else t.exception()
                    if failure is not None:
                        raise failure
        finally:
            for t in tasks.values():
                t.cancel()
            for t in tasks.values():
                with contextlib.suppress(BaseException):
                    await t
        by_diff = {diff_ids[i]: t.result() for i, t in tasks.items()}
        for i, diff_id in enumerate(diff_ids):
            results[i] = by_diff[diff_id]
        config_bytes = await self.images.content.read(image.id)
        await self._ensure_blob(repo, image.id, config_bytes)
        oci = any(r.media_type.startswith("application/vnd.oci.") for r in results.values())
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                "size": len(config_bytes),
                "digest": image.id,
            },
            "layers": [
                {"mediaType": r.media_type, "size": r.size, "digest": r.digest}
                for r in (results[i] for i in range(len(diff_ids)))
            ],
        }
        body = json.dumps(manifest, indent=3).encode()
        tag = ref.tag or "latest"
        digest = await repo.put_manifest(tag, body, manifest["mediaType"])
        await self.sink(progress.status(f"{tag}: digest: {digest} size: {len(body)}"))
        await self.sink(progress.aux({"Tag": tag, "Digest": digest, "Size": len(body)}))
        return digest, len(body)

    async def _ensure_blob(self, repo: Repository, digest: str, data: bytes) -> None:
        if await repo.blob_exists(digest) is not None:
            return
        location = await repo.start_upload()
        await repo.finish_upload(location, digest, data)

    # -- layers --------------------------------------------------------------------------
    async def _layer(self, repo: Repository, diff_id: str, id_: str) -> PushedLayer:
        sem = self.svc.upload_slots
        if sem.locked():
            await self.sink(progress.update(id_, "Waiting"))
        async with sem:
            return await self._push_layer(repo, diff_id, id_)

    def _candidates(self, diff_id: str) -> list[PushedLayer]:
        """Compressed blobs known for this layer (pulled, or compressed earlier)."""
        out: list[PushedLayer] = []
        rec = self.images.layers.blob_for(diff_id)
        content = self.images.content
        if rec and rec[1] in _COMPRESSED and content.has(rec[0]):
            out.append(PushedLayer(rec[0], content.size(rec[0]), _docker_type(rec[1])))
        for kb in self.svc.blobmap.blobs_for(diff_id):
            if kb.media_type in _COMPRESSED and all(c.digest != kb.digest for c in out):
                out.append(PushedLayer(kb.digest, kb.size, _docker_type(kb.media_type)))
        return out

    async def _push_layer(self, repo: Repository, diff_id: str, id_: str) -> PushedLayer:
        registry = self.svc.registry_key(repo)
        bm = self.svc.blobmap
        candidates = self._candidates(diff_id)
        # 1. Does the target repository have it already?
        for c in candidates:
            if await repo.blob_exists(c.digest) is not None:
                bm.seen_in(c.digest, registry, repo.path)
                await self.sink(progress.update(id_, "Layer already exists"))
                return c
            bm.forget(c.digest, registry, repo.path)
        # 2. Can it be mounted from a sibling repository of the same registry?
        for c in candidates:
            for other in bm.repos_with(c.digest, registry):
                if other == repo.path:
                    continue
                # A session of its own: the token must also cover pulling from `other`.
                mounter = Repository(repo.transport, repo.ep, repo.path, repo.auth, repo.actions)
                mounter.extra_scopes = [f"repository:{other}:pull"]
                try:
                    location = await mounter.mount_blob(c.digest, other)
                except EngineError as e:
                    log.info("mount of %s from %s failed: %s", c.digest, other, e.message)
                    continue
                if location is None:
                    bm.seen_in(c.digest, registry, repo.path)
                    await self.sink(progress.update(id_, f"Mounted from {other}"))
                    return c
        # 3. Upload: the stored compressed blob, or the layer compressed now.
        content = self.images.content
        local = next((c for c in candidates if content.has(c.digest)), None)
        if local is not None:
            pushed = await self._upload(
                repo, id_, _read_file(content.path(local.digest)), local.size, local.media_type
            )
        else:
            layers = self.images.layers
            chunks = _gzip(layers.tar_chunks(diff_id))
            # The bar's total is the tar's size, as dockerd shows for layers it compresses.
            pushed = await self._upload(
                repo, id_, chunks, layers.tar_size(diff_id), DOCKER_LAYER_GZIP
            )
            bm.add(diff_id, pushed.digest, DOCKER_LAYER_GZIP, pushed.size)
        bm.seen_in(pushed.digest, registry, repo.path)
        await self.sink(progress.update(id_, "Pushed"))
        return pushed

    async def _upload(
        self,
        repo: Repository,
        id_: str,
        chunks: AsyncIterator[bytes],
        total: int,
        media_type: str,
    ) -> PushedLayer:
        """Upload a stream: one PUT when it fits in a chunk, else PATCHes then PUT."""
        meter = progress.Meter(self.sink, id_, "Pushing", total)
        h = hashlib.sha256()
        location = await repo.start_upload()
        offset = 0
        buf = bytearray()
        async for data in chunks:
            buf += data
            h.update(data)
            while len(buf) >= CHUNK:
                piece = bytes(buf[:CHUNK])
                del buf[:CHUNK]
                location = await repo.upload_chunk(location, piece, offset)
                offset += len(piece)
                await meter.add(len(piece))
        digest = "sha256:" + h.hexdigest()
        size = offset + len(buf)
        if offset == 0:
            await repo.finish_upload(location, digest, bytes(buf))  # monolithic
        else:
            if buf:
                location = await repo.upload_chunk(location, bytes(buf), offset)
            await repo.finish_upload(location, digest)
        await meter.add(len(buf))
        await meter.flush()
        return PushedLayer(digest, size, media_type)


def _docker_type(media_type: str) -> str:
    """Docker's spelling of a gzip layer (zstd has no Docker spelling)."""
    return DOCKER_LAYER_GZIP if media_type == OCI_LAYER_GZIP else media_type


async def _read_file(path: Any, chunk: int = 1 << 20) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    f = await loop.run_in_executor(None, open, path, "rb")
    try:
        while data := await loop.run_in_executor(None, f.read, chunk):
            yield data
    finally:
        f.close()


async def _gzip(tar: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """gzip a tar stream with isal (level 2: near zlib -6 size at many times the speed).

    The output is deterministic (no name, mtime 0), so the same layer compresses to
    the same digest again and a second push finds it in the registry.
    """
    try:
        from isal import isal_zlib as z
    except ImportError:  # pragma: no cover
        import zlib as z  # type: ignore[no-redef]  # the stdlib module has the same API
    loop = asyncio.get_running_loop()
    comp = z.compressobj(2, z.DEFLATED, 31)
    async for data in tar:
        out = await loop.run_in_executor(None, comp.compress, data)
        if out:
            yield out
    yield comp.flush()


def not_found(ref: str) -> NotFound:
    """dockerd's message when the image to push does not exist locally."""
    return NotFound(f"An image does not exist locally with the tag: {ref}")
