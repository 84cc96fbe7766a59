"""The distribution service: pull, push, login, registry inspect and search.

It owns the registry HTTP transport (pools, token cache), the layer↔blob metadata
(:mod:`.blobmap`) and the engine-wide limits on concurrent transfers, and works on
the image service's stores through the interface agreed in INTERFACES.md.

The HTTP side (httpx and the modules built on it: client, pull, push, search) is
imported on the first registry operation, not at engine start: an engine that never
talks to a registry never loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..config import DaemonConfig
from ..errors import EngineError, InvalidParameter, NotFound
from ..images.reference import DEFAULT_DOMAIN, Reference, parse_reference
from ..images.service import ImageService
from ..store.db import Database
from ..system.events import EventBus
from . import platforms, progress
from .auth import AuthConfig, basic_header, fetch_token
from .blobmap import BlobMap
from .errors import RegistryError, from_response, login_error, pull_error
from .manifests import MAX_CONFIG_SIZE, ImageManifest, IndexManifest, parse_manifest
from .progress import Sink
from .registries import DOCKER_REGISTRY, INDEX_SERVER, RegistryConfig

if TYPE_CHECKING:
    from .client import Repository, Transport

log = logging.getLogger(__name__)

_INFLIGHT_SCHEMA = """
CREATE TABLE IF NOT EXISTS dist_inflight (
    digest TEXT PRIMARY KEY
);
"""


class DistributionService:
    """Registry operations for the API (``POST /images/create`` with ``fromImage``,
    ``/images/{name}/push``, ``/auth``, ``/distribution/{name}/json``, search)."""

    def __init__(
        self, config: DaemonConfig, db: Database, events: EventBus, images: ImageService
    ) -> None:
        self.config = config
        self.db = db
        self.events = events
        self.images = images
        self.registries = RegistryConfig(config)
        self._transport: Transport | None = None
        self.blobmap = BlobMap(db)
        db.ensure_schema(_INFLIGHT_SCHEMA)
        self.download_slots = asyncio.Semaphore(max(1, config.max_concurrent_downloads))
        self.upload_slots = asyncio.Semaphore(max(1, config.max_concurrent_uploads))
        self._layer_locks: dict[str, asyncio.Lock] = {}
        self._claims: Counter[str] = Counter()
        self._pins: Counter[str] = Counter()

    async def start(self) -> None:
        """Drop blobs a killed pull stored but never attached to a layer."""
        for row in self.db.query("SELECT digest FROM dist_inflight"):
            await self._drop_orphan_blob(row[0])
        self.db.tidy("DELETE FROM dist_inflight")

    async def shutdown(self) -> None:
        """Close the registry connections."""
        if self._transport is not None:
            await self._transport.aclose()

    @property
    def transport(self) -> Transport:
        """The registry HTTP transport, made (and httpx imported) on first use."""
        if self._transport is None:
            from .client import Transport

            self._transport = Transport(self.registries)
        return self._transport

    # -- helpers shared by pull and push -------------------------------------------------
    @contextlib.asynccontextmanager
    async def layer_lock(self, diff_id: str) -> AsyncIterator[None]:
        """One download per layer at a time, engine-wide (concurrent pulls share)."""
        lock = self._layer_locks.setdefault(diff_id, asyncio.Lock())
        self._claims[diff_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._claims[diff_id] -= 1
            if self._claims[diff_id] <= 0:
                del self._claims[diff_id]
                if not lock.locked():
                    self._layer_locks.pop(diff_id, None)

    @contextlib.contextmanager
    def pinned(self, diff_ids: list[str]) -> Any:
        """Keep these layers from being rolled back by another failing pull while a
        pull that found them present still has to register its image."""
        self._pins.update(diff_ids)
        try:
            yield
        finally:
            self._pins.subtract(diff_ids)
            for d in diff_ids:
                if self._pins[d] <= 0:
                    del self._pins[d]

    def blob_inflight(self, digest: str, active: bool) -> None:
        """Journal a blob being written by a pull (so a crash's leftovers are found)."""
        if active:
            self.db.execute("INSERT OR IGNORE INTO dist_inflight (digest) VALUES (?)", (digest,))
        else:
            self.db.execute("DELETE FROM dist_inflight WHERE digest = ?", (digest,))

    async def _drop_orphan_blob(self, digest: str) -> None:
        content, layers = self.images.content, self.images.layers
        recorded = {rec[0] for d in layers.ids() if (rec := layers.blob_for(d))}
        if digest not in recorded and content.has(digest):
            log.info("removing blob %s left by an interrupted pull", digest)
            await content.delete(digest)

    async def release_unused(self, layers: list[str], blobs: list[str]) -> None:
        """Undo a failed pull: remove its new layers and blobs nobody else uses."""
        for diff_id in layers:
            # Asked afresh for each layer: a load, import or commit may take a hold on one
            # while an earlier removal is awaited.
            used = self.images.referenced_layers()
            if diff_id not in used and diff_id not in self._claims and diff_id not in self._pins:
                await self.images.layers.remove(diff_id)
        for digest in blobs:
            await self._drop_orphan_blob(digest)
            self.blob_inflight(digest, False)

    def registry_key(self, repo: Repository) -> str:
        """Registry identity for blob bookkeeping (mirrors count as docker.io)."""
        host = repo.ep.host
        return DEFAULT_DOMAIN if repo.ep.mirror or host == DOCKER_REGISTRY else host

    # -- pull ----------------------------------------------------------------------------
    async def pull(
        self,
        from_image: str,
        tag: str,
        platform: str,
        auth: AuthConfig,
        sink: Sink,
    ) -> list[Any]:
        """``POST /images/create?fromImage=…``: pull one tag/digest, or every tag."""
        if not from_image:
            raise InvalidParameter("fromImage is required")
        ref = parse_reference(from_image)
        if tag:
            ref = ref.with_digest(tag) if ":" in tag else ref.with_tag(tag)
        plat = platforms.parse_platform(platform) if platform else None
        if ref.tag or ref.digest:
            return [await self._pull_one(ref, plat, auth, sink)]
        from .client import first_session

        # A bare name pulls every tag of the repository, as dockerd does.
        repo = await first_session(self.transport, ref.domain, ref.path, auth, ("pull",))
        try:
            tags = await repo.list_tags()
        except RegistryError as e:
            raise pull_error(e, ref.familiar_name(), ref.familiar()) from None
        if not tags:
            raise NotFound(f"repository {ref.familiar_name()} has no tags")
        return [await self._pull_one(ref.with_tag(t), plat, auth, sink) for t in sorted(tags)]

    async def _pull_one(
        self, ref: Reference, plat: platforms.Platform | None, auth: AuthConfig, sink: Sink
    ) -> Any:
        from .pull import Puller

        old_id, _ = self.images.lookup(ref.string())
        puller = Puller(self, auth, sink, plat)
        image = await puller.pull(ref)
        shown = ref.familiar()
        if old_id == image.id and not puller.downloaded:
            await sink(progress.status(f"Status: Image is up to date for {shown}"))
        else:
            await sink(progress.status(f"Status: Downloaded newer image for {shown}"))
        self._event("pull", ref, image)
        return image

    def _event(self, action: str, ref: Reference, image: Any) -> None:
        attrs = dict((image.config.get("config") or {}).get("Labels") or {})
        attrs["name"] = ref.familiar_name()
        self.events.publish("image", action, ref.familiar(), attrs)

    # -- push ----------------------------------------------------------------------------
    async def push(self, name: str, tag: str, auth: AuthConfig, sink: Sink) -> None:
        """``POST /images/{name}/push?tag=``: one tag, or every tag of the repository."""
        from .push import Pusher, not_found

        ref = parse_reference(name)
        if tag:
            ref = ref.with_tag(tag)
        if ref.digest:
            raise InvalidParameter("cannot push a digest reference")
        if ref.tag:
            targets = [ref]
        else:
            targets = sorted(
                (
                    parse_reference(r)
                    for r in self.images.catalog.refs
                    if parse_reference(r).name == ref.name and parse_reference(r).tag
                ),
                key=lambda r: r.tag or "",
            )
        images = []
        for t in targets:
            image_id, _ = self.images.lookup(t.string())
            if image_id is None:
                raise not_found(t.familiar_name())
            images.append(self.images.image(image_id))
        if not targets:
            raise not_found(ref.familiar_name())
        await sink(progress.status(f"The push refers to repository [{ref.name}]"))
        for t, image in zip(targets, images, strict=True):
            try:
                digest, _ = await Pusher(self, auth, sink).push(t, image)
            except RegistryError as e:
                raise _push_error(e) from None
            await self.images.add_repo_digest(image.id, f"{t.name}@{digest}")
            self._event("push", t, image)

    # -- login ---------------------------------------------------------------------------
    async def login(self, body: dict[str, Any]) -> dict[str, str]:
        """``POST /auth``: check credentials against the registry."""
        import httpx

        from .client import describe_transport_error

        auth = AuthConfig.from_dict(body)
        domain = _login_domain(auth.serveraddress)
        last: EngineError | None = None
        for ep in await self.transport.endpoints(domain, push=True):
            url = ep.base + "/v2/"
            try:
                challenges = await self.transport.ping(ep, fresh=True)
            except httpx.TransportError as e:
                last = RegistryError(describe_transport_error("GET", url, e))
                continue
            self.transport.remember(domain, ep)
            client = self.transport.client(ep)
            identity = ""
            headers: dict[str, str] = {}
            bearer = next((c for c in challenges or [] if c.scheme == "bearer"), None)
            basic = next((c for c in challenges or [] if c.scheme == "basic"), None)
            try:
                if bearer is not None:
                    token, _, identity = await fetch_token(client, bearer, [], auth)
                    headers["Authorization"] = "Bearer " + token
                elif basic is not None:
                    if auth.empty:
                        raise RegistryError("no basic auth credentials", "", 401)
                    headers["Authorization"] = basic_header(auth)
                if challenges:
                    resp = await client.get(url, headers=headers)
                    if resp.status_code != 200:
                        raise from_response(
                            resp.status_code, resp.content, resp.headers.get("www-authenticate", "")
                        )
            except RegistryError as e:
                raise login_error(url, e) from None
            except httpx.TransportError as e:
                raise RegistryError(describe_transport_error("GET", url, e)) from None
            return {"Status": "Login Succeeded", "IdentityToken": identity}
        raise last or RegistryError(f"cannot reach registry {domain}")

    # -- inspect and search --------------------------------------------------------------
    async def inspect(self, name: str, auth: AuthConfig) -> dict[str, Any]:
        """``GET /distribution/{name}/json``: the descriptor and its platforms."""
        from .client import first_session

        ref = parse_reference(name).with_default_tag()
        repo = await first_session(self.transport, ref.domain, ref.path, auth, ("pull",))
        try:
            raw, media_type, digest = await repo.get_manifest(ref.digest or ref.tag or "latest")
            m = parse_manifest(raw, media_type, digest)
            plats: list[dict[str, Any]] = []
            if isinstance(m, IndexManifest):
                for d in m.manifests:
                    if d.platform:
                        plats.append(_platform_json(d.platform))
            elif isinstance(m, ImageManifest):
                cfg = json.loads(
                    await repo.get_blob(m.config.digest, m.config.size, MAX_CONFIG_SIZE)
                )
                plats.append(_platform_json(cfg))
        except RegistryError as e:
            raise pull_error(e, ref.familiar_name(), ref.familiar()) from None
        return {
            "Descriptor": {"mediaType": media_type, "digest": digest, "size": len(raw)},
            "Platforms": plats,
        }

    async def search(
        self, term: str, limit: int | None, filters: dict[str, list[str]], auth: AuthConfig
    ) -> list[dict[str, Any]]:
        """``GET /images/search``."""
        from .search import search as search_index

        return await search_index(self.transport, term, limit, filters, auth)


def _platform_json(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "architecture": str(d.get("architecture") or ""),
        "os": str(d.get("os") or ""),
    }
    for key in ("os.version", "os.features", "variant"):
        if d.get(key):
            out[key] = d[key]
    return out


def _login_domain(server: str) -> str:
    """``127.0.0.1:5000``, ``http://host:5000/v2/`` or Hub's index URL → a domain."""
    server = server.strip()
    if not server or server.rstrip("/") == INDEX_SERVER.rstrip("/"):
        return DEFAULT_DOMAIN
    if "://" in server:
        server = urlsplit(server).netloc
    server = server.split("/")[0].lower()
    if server in ("index.docker.io", "registry-1.docker.io", "docker.io"):
        return DEFAULT_DOMAIN
    if not server:
        raise InvalidParameter("invalid registry address")
    return server


def _push_error(e: RegistryError) -> EngineError:
    return e
