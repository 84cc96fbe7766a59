"""BuildService: ``POST /build`` from the uploaded context to a tagged image.

Each build gets a private directory under ``<data-root>/build/tmp`` (the context, ADD
downloads, read-only views of images for ``COPY --from``), removed when the build ends
however it ends; a start after a crash removes what is left there, and the containers
of RUN steps that were running (they carry the ``com.portside.build`` label).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..containers.files import rootfs
from ..errors import EngineError
from ..images.reference import parse_reference
from ..store.db import Database
from ..system.crashpoint import crash_point
from . import context as ctx
from . import remote
from .cache import BuildCache
from .executor import BuildRun
from .options import BuildOptions
from .output import Progress, Sink
from .steps.run import BUILD_LABEL

if TYPE_CHECKING:
    from ..config import DaemonConfig
    from ..containers.service import ContainerService
    from ..distribution.service import DistributionService
    from ..images.service import ImageService

log = logging.getLogger(__name__)


class BuildService:
    """Builds images from Dockerfiles (the classic builder)."""

    def __init__(
        self,
        config: DaemonConfig,
        db: Database,
        images: ImageService,
        containers: ContainerService,
        distribution: DistributionService | None,
    ) -> None:
        self.images = images
        self.containers = containers
        self.distribution = distribution
        self.cache = BuildCache(db)
        self.tmp = config.data_root / "build" / "tmp"

    async def start(self) -> None:
        """Load the cache; remove what a crashed build left (temp dirs, containers)."""
        self.cache.load()
        self.images.set_parent_links(lambda: self.cache.parents)
        self.tmp.mkdir(parents=True, exist_ok=True)
        leftovers = list(self.tmp.iterdir())
        for d in leftovers:
            for view in d.glob("view-*/root"):
                rootfs.unmount(view)
        if leftovers:
            await asyncio.get_running_loop().run_in_executor(None, _remove_all, leftovers)
        kept = self.cache.kept_containers()
        for c in self.containers.all():
            if BUILD_LABEL in (c.config.get("Labels") or {}) and c.id not in kept:
                try:
                    await self.containers.remove(c.id, force=True)
                except EngineError as e:
                    log.warning("removing build container %s failed: %s", c.id[:12], e.message)
        self.cache.forget_missing(self._exists)

    def _exists(self, image_id: str) -> bool:
        try:
            self.images.image(image_id)
        except EngineError:
            return False
        return True

    async def build(
        self,
        options: BuildOptions,
        chunks: AsyncIterator[bytes],
        sink: Sink,
        auth: dict[str, Any] | None = None,
    ) -> str:
        """Receive the context, run the Dockerfile, tag; returns the image id."""
        workdir = self.tmp / uuid.uuid4().hex
        workdir.mkdir()
        progress = Progress(sink, options.quiet)
        run = BuildRun(
            options=options,
            workdir=workdir,
            context=None,
            images=self.images,
            containers=self.containers,
            distribution=self.distribution,
            cache=self.cache,
            auth=auth,
        )
        loop = asyncio.get_running_loop()
        try:
            if options.remote:
                fetched = await remote.fetch(options.remote, workdir)
                run.context = fetched.context
                if fetched.dockerfile is not None:
                    name, data = "Dockerfile", fetched.dockerfile
                else:
                    name, data = ctx.read_dockerfile(run.context, options.dockerfile)
            else:
                run.context = await ctx.receive(chunks, workdir)
                name, data = ctx.read_dockerfile(run.context, options.dockerfile)
            dockerfile = ctx.parse_dockerfile(data)
            ctx.apply_dockerignore(run.context, name)
            crash_point("build-context")
            image_id = await run.execute(dockerfile, progress)
            if options.squash:
                from .squash import squash

                image_id = await squash(run, image_id)
            await progress.aux_id(image_id)
            await progress.line(f"Successfully built {image_id[7:19]}")
            for tag in options.tags:
                ref = parse_reference(tag)
                await self.images.tag(image_id, ref.name, ref.tag)
                self.images.publish("tag", image_id, ref.familiar())
                await progress.line(f"Successfully tagged {ref.familiar()}")
            await progress.quiet_result(image_id)
            return image_id
        finally:
            for m in run.mounts:
                with contextlib.suppress(EngineError):
                    rootfs.unmount(m)
            await asyncio.shield(loop.run_in_executor(None, _remove_all, [workdir]))

    # -- cache reporting -----------------------------------------------------------------
    def df(self) -> list[dict[str, Any]]:
        """``system df``'s ``BuildCache``: one record per cached step."""
        out = []
        for row in self.cache.entries():
            try:
                image = self.images.image(row["image"])
            except EngineError:
                continue
            parent = self.cache.parents.get(row["image"], "")
            own = 0
            if image.diff_ids and (
                not parent
                or not self._exists(parent)
                or len(self.images.image(parent).diff_ids) < len(image.diff_ids)
            ):
                own = self.images.layers.size(image.diff_ids[-1])
            out.append(
                {
                    "ID": row["image"][7:19],
                    "Parent": parent[7:19] if parent else "",
                    "Parents": [parent[7:19]] if parent else [],
                    "Type": "regular",
                    "Description": row["description"],
                    "InUse": bool(self.containers.in_use(row["image"])),
                    "Shared": bool(image.repo_tags),
                    "Size": own,
                    "CreatedAt": _rfc3339(row["created"]),
                    "LastUsedAt": _rfc3339(row["last_used"]),
                    "UsageCount": row["usage"],
                }
            )
        return out

    async def prune(self, all_: bool = False) -> dict[str, Any]:
        """``POST /build/prune``: forget the cache and delete the untagged images only it
        kept (not those a container or a tagged image still needs)."""
        report = self.df()
        self.cache.clear()
        freed = 0
        deleted: list[str] = []
        keep: set[str] = set()
        for img in self.images.images():
            if img.repo_tags or self.containers.in_use(img.id):
                chain = img.id
                while chain:
                    keep.add(chain)
                    chain = self.cache.parents.get(chain, "")
        # Children first: an image with a child cannot be deleted (a hard conflict);
        # links are recorded as steps commit, so the newest come last.
        candidates = [i for i in reversed(list(self.cache.parents)) if i not in keep]
        for image_id in candidates:
            if not self._exists(image_id):
                continue
            try:
                records = await self.images.delete(image_id, force=False, noprune=True)
            except EngineError as e:
                log.debug("build prune kept %s: %s", image_id[:19], e.message)
                continue
            deleted += [r["Deleted"] for r in records if "Deleted" in r]
        freed = sum(e["Size"] for e in report if f"sha256:{e['ID']}" not in keep)
        self.cache.forget_missing(self._exists)
        return {"CachesDeleted": [d[7:19] for d in deleted] or None, "SpaceReclaimed": freed}


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _remove_all(paths: list[Path]) -> None:
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(p)
