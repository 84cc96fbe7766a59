"""Runs a parsed Dockerfile: stages in order, one image per step, the cache consulted
before each step until a miss busts the rest of the stage."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import json
import logging
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..containers.files import rootfs
from ..errors import EngineError, InvalidParameter, NotFound
from ..images.layers import PendingLayer
from ..images.reference import parse_reference
from ..system.crashpoint import crash_point
from . import dockerfile as df
from .cache import BuildCache, step_key
from .dockerfile.shell_lex import ShellLex
from .options import BuildOptions, check_platform
from .output import Progress
from .sources import DirSource, Source, TarSource
from .state import StageState, base_config, child_config
from .steps import config as config_steps
from .steps import copy as copy_step
from .steps import run as run_step
from .steps import workdir as workdir_step

if TYPE_CHECKING:
    from ..containers.service import ContainerService
    from ..distribution.service import DistributionService
    from ..images.service import ImageService

log = logging.getLogger(__name__)

PROXY_ARGS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
)


@dataclass
class BuildRun:
    """One build: its options, private directory and the services it uses."""

    options: BuildOptions
    workdir: Path
    context: TarSource | None
    images: ImageService
    containers: ContainerService
    distribution: DistributionService | None
    cache: BuildCache
    auth: Any = None
    build_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    stages: dict[int, StageState] = field(default_factory=dict)
    used_buildargs: set[str] = field(default_factory=set)
    mounts: list[Path] = field(default_factory=list)
    meta: dict[str, str | None] = field(default_factory=dict)
    final_base: str = ""  # the image the last stage built started from (for squash)

    def proxy_args(self) -> list[str]:
        """Predefined proxy args: passed to RUN without an ARG, never persisted."""
        return [
            f"{k}={v}"
            for k, v in self.options.buildargs.items()
            if k in PROXY_ARGS and v is not None
        ]

    # -- the build -----------------------------------------------------------------------
    async def execute(self, dockerfile: df.Dockerfile, progress: Progress) -> str:
        """Build every stage up to the target; returns the final image id."""
        target = len(dockerfile.stages) - 1
        if self.options.target:
            try:
                target = dockerfile.stage_index(self.options.target)
            except df.DockerfileParseError as e:
                raise InvalidParameter(str(e)) from None
        stages = list(dockerfile.stages[: target + 1])
        if self.options.labels:
            stages[-1] = _with_labels(stages[-1], self.options.labels)
        total = len(dockerfile.meta_args) + sum(1 + len(s.instructions) for s in stages)
        lex = ShellLex(dockerfile.escape)
        meta = self.meta
        step = 0
        for ins in dockerfile.meta_args:
            step += 1
            await progress.line(f"Step {step}/{total} : {ins.original}")
            name, default = ins.key_values[0]
            if self.options.buildargs.get(name) is not None:
                meta[name] = self.options.buildargs[name]
            else:
                meta[name] = lex.process_word(default, {}) if default is not None else None
            self.used_buildargs.add(name)
        state: StageState | None = None
        try:
            for stage in stages:
                step += 1
                await progress.line(f"Step {step}/{total} : {stage.from_instruction.original}")
                state = await self._from(stage, meta, lex, progress)
                self.final_base = state.image_id
                triggers = list(state.config.get("OnBuild") or [])
                if triggers:
                    state.config["OnBuild"] = []
                    await progress.line(
                        f"# Executing {len(triggers)} build trigger"
                        + ("s" if len(triggers) > 1 else "")
                    )
                    for trigger in triggers:
                        inner = df.parse(("FROM scratch\n" + trigger).encode()).stages[0]
                        for ins in inner.instructions:
                            await self._step(ins, state, lex, progress)
                await progress.line(f" ---> {_short(state.image_id)}")
                for ins in stage.instructions:
                    step += 1
                    await progress.line(f"Step {step}/{total} : {ins.original}")
                    await self._step(ins, state, lex, progress)
                    await progress.line(f" ---> {_short(state.image_id)}")
                self.stages[stage.index] = state
        finally:
            for m in self.mounts:
                rootfs.unmount(m)
        assert state is not None
        if not state.image_id:
            # FROM scratch with nothing after it: dockerd refuses as well.
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        unused = sorted(
            k
            for k in self.options.buildargs
            if k not in self.used_buildargs and k not in PROXY_ARGS
        )
        if unused:
            await progress.line(
                f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed"
            )
        return state.image_id

    async def _from(
        self, stage: df.Stage, meta: dict[str, str | None], lex: ShellLex, progress: Progress
    ) -> StageState:
        env = {k: v for k, v in meta.items() if v is not None}
        base = lex.process_word(stage.base, env)
        platform = stage.platform
        if platform:
            check_platform(lex.process_word(platform, env))
        for i, st in self.stages.items():
            if base.lower() == (st.name or "") or base == str(i):
                return StageState(st.image_id, copy.deepcopy(st.image_config), name=stage.name)
        if base == "scratch":
            state = StageState("", base_config(None), name=stage.name)
        else:
            image = await self._base_image(base, progress)
            # A base without PATH gets dockerd's default in the config the next step
            # commits (base_config adds it); the stage still starts at the base image.
            state = StageState(image.id, base_config(image.config), name=stage.name)
        return state

    async def _base_image(self, ref: str, progress: Progress) -> Any:
        images = self.images
        try:
            parsed = parse_reference(ref)
        except InvalidParameter:
            raise InvalidParameter(f"invalid reference format: {ref}") from None
        if not self.options.pull:
            image_id, _ = images.lookup(ref)
            if image_id is not None:
                return images.image(image_id)
        if self.distribution is None:
            raise NotFound(f"No such image: {ref}")

        async def sink(obj: dict[str, Any]) -> None:
            await progress.message(obj)

        from ..distribution.auth import AuthConfig

        auth = self.auth_for(parsed.domain) if self.auth else AuthConfig()
        await self.distribution.pull(parsed.with_default_tag().string(), "", "", auth, sink)
        return await images.resolve(parsed.with_default_tag().string())

    def auth_for(self, domain: str) -> Any:
        """Credentials from ``X-Registry-Config`` for the registry ``domain``."""
        from ..distribution.auth import AuthConfig

        assert isinstance(self.auth, dict)
        keys = [domain, f"https://{domain}", f"http://{domain}"]
        if domain == "docker.io":
            keys += ["https://index.docker.io/v1/", "index.docker.io"]
        for k in keys:
            if isinstance(self.auth.get(k), dict):
                return AuthConfig.from_dict(self.auth[k])
        return AuthConfig()

    # -- one step ------------------------------------------------------------------------
    async def _step(
        self, ins: df.Instruction, state: StageState, lex: ShellLex, progress: Progress
    ) -> None:
        kw = ins.keyword
        if ins.heredocs:
            # dockerd's classic builder has no heredocs either (a BuildKit frontend feature).
            raise InvalidParameter(
                f"{kw.upper()} with a heredoc needs BuildKit, which this engine does not serve"
            )
        if kw == "arg":
            self.used_buildargs.add(ins.key_values[0][0])
        if kw in config_steps.CONFIG_ONLY:
            created_by = config_steps.apply(ins, state, lex, self.options.buildargs)
            if kw == "arg":
                name = ins.key_values[0][0]
                if state.args.get(name) is None and self.meta.get(name) is not None:
                    state.args[name] = self.meta[name]
            key = step_key(
                created_by=created_by,
                config=state.image_config.get("config"),
                author=state.image_config.get("author"),
                # WORKDIR's images once had no directory: links made then must not match.
                **({"makes": "directory"} if kw == "workdir" else {}),
            )
            if await self._cached(state, key, progress, created_by):
                return
            layer = await self._workdir_layer(state) if kw == "workdir" else None
            await self._commit(state, created_by, layer, key)
            return
        if kw == "run":
            created_by = run_step.created_by(ins, state)
            key = step_key(created_by=created_by)
            if await self._cached(state, key, progress, created_by):
                return
            if not state.image_id:
                raise InvalidParameter(
                    "RUN needs an image with a shell: the stage is empty (FROM scratch)"
                )
            layer = await run_step.run(self, ins, state, progress)
            await self._commit(state, created_by, layer, key)
            return
        if kw in ("copy", "add"):
            await self._copy(ins, state, lex, progress)
            return
        if kw == "from":
            raise InvalidParameter("FROM is only allowed at the start of a stage")
        raise InvalidParameter(f"unknown instruction: {kw.upper()}")

    async def _workdir_layer(self, state: StageState) -> PendingLayer | None:
        """WORKDIR's new directories as a layer (None when the directory exists)."""
        root = await self._mount_image(state.image_id) if state.image_id else None
        loop = asyncio.get_running_loop()
        entries = await loop.run_in_executor(
            None, workdir_step.plan, root, state.config.get("WorkingDir") or "/"
        )
        return await workdir_step.write_layer(self.images, entries) if entries else None

    async def _copy(
        self, ins: df.Instruction, state: StageState, lex: ShellLex, progress: Progress
    ) -> None:
        add = ins.keyword == "add"
        assert self.context is not None
        source: Source = self.context
        src_from = ins.flags.get("from")
        if isinstance(src_from, str) and src_from:
            if add:
                raise InvalidParameter("ADD does not support the --from flag")
            source = await self._mount_source(
                lex.process_word(src_from, state.expansion_env()), progress
            )
        lower = self.images.layer_dirs(self.images.image(state.image_id)) if state.image_id else []
        chown_root = None
        chown = ins.flags.get("chown")
        if isinstance(chown, str) and chown and not all(p.isdigit() for p in chown.split(":")):
            chown_root = await self._mount_image(state.image_id) if state.image_id else None
        downloads: dict[str, Path] = {}
        if add:
            env = state.expansion_env()
            for word in ins.args[:-1]:
                src = lex.process_word(word, env)
                if src.startswith(("http://", "https://")):
                    dest = self.workdir / f"download-{uuid.uuid4().hex}"
                    mode = self.options.networkmode
                    await copy_step.download(src, dest, mode)
                    downloads[src] = dest
        plan = await copy_step.plan_async(
            ins, state, lex, source, add, lower, chown_root, downloads
        )
        key = step_key(created_by=plan.created_by, digest=plan.digest)
        if await self._cached(state, key, progress, plan.created_by):
            return
        layer = await copy_step.write_layer(self.images, plan)
        await self._commit(state, plan.created_by, layer, key)

    async def _mount_source(self, name: str, progress: Progress) -> Source:
        for i, st in self.stages.items():
            if name.lower() == (st.name or "") or name == str(i):
                return DirSource(await self._mount_image(st.image_id))
        image = await self._base_image(name, progress)
        return DirSource(await self._mount_image(image.id))

    async def _mount_image(self, image_id: str) -> Path:
        """A read-only view of an image's files (an overlay with a throwaway upper)."""
        where = self.workdir / f"view-{uuid.uuid4().hex[:12]}"
        layers = self.images.layer_dirs(self.images.image(image_id)) if image_id else []
        await rootfs.mount_overlay(layers, where / "upper", where / "work", where / "root")
        self.mounts.append(where / "root")
        return where / "root"

    async def _cached(
        self, state: StageState, key: str, progress: Progress, created_by: str
    ) -> bool:
        """Take the step's image from the cache when the stage is not busted: a local
        cache link, else an image of ``cachefrom`` whose history continues this one."""
        if self.options.nocache or state.busted:
            return False
        image_id = self.cache.lookup(state.image_id, key)
        image = None
        if image_id is not None:
            try:
                image = self.images.image(image_id)
            except EngineError:
                image = None
        if image is None:
            restored = await self._from_cache_sources(state, key, created_by)
            if restored is None:
                state.busted = True
                return False
            image = self.images.image(restored)
        else:
            self.cache.used(state.image_id, key)
        await progress.line(" ---> Using cache")
        state.image_id = image.id
        state.image_config = base_config(image.config)
        return True

    async def _from_cache_sources(self, state: StageState, key: str, created_by: str) -> str | None:
        """dockerd's ``cachefrom``: an image (pulled, so without local parents) whose
        history and layers start as the current image's and whose next history entry is
        this step gives the step's image: the current one plus that layer."""
        history = list(state.image_config.get("history") or [])
        diffs = state.diff_ids
        for ref in self.options.cachefrom:
            image_id, _ = self.images.lookup(ref)
            if image_id is None:
                continue
            src = self.images.image(image_id)
            src_history = list(src.config.get("history") or [])
            n = len(history)
            if len(src_history) <= n or src.diff_ids[: len(diffs)] != diffs:
                continue
            if [h.get("created_by") for h in src_history[:n]] != [
                h.get("created_by") for h in history
            ]:
                continue
            entry = src_history[n]
            if entry.get("created_by") != created_by:
                continue
            layer = None
            if not entry.get("empty_layer"):
                if len(src.diff_ids) <= len(diffs):
                    continue
                layer = src.diff_ids[len(diffs)]
            config_bytes = child_config(state, created_by, layer)
            cfg = json.loads(config_bytes)
            cfg["history"][-1]["created"] = entry.get("created") or cfg["created"]
            cfg["created"] = entry.get("created") or cfg["created"]
            config_bytes = json.dumps(cfg, separators=(",", ":")).encode()
            new_id = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
            self.cache.record(state.image_id, key, new_id, created_by)
            with self.images.hold_layers(cfg["rootfs"]["diff_ids"]):
                image, _ = await self.images.register(config_bytes, [])
            return str(image.id)
        return None

    async def _commit(
        self, state: StageState, created_by: str, layer: PendingLayer | None, key: str
    ) -> None:
        images = self.images
        config_bytes = child_config(state, created_by, layer.diff_id if layer else None)
        diff_ids = json.loads(config_bytes)["rootfs"]["diff_ids"]
        # The links go first: a crash before the image exists leaves links to an id
        # that start-up finds missing and drops; never an image without its parent.
        new_id = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        self.cache.record(state.image_id, key, new_id, created_by)
        crash_point("build-image")
        try:
            with images.hold_layers(diff_ids):
                if layer is not None:
                    images.layers.commit(layer)
                    layer = None
                    crash_point("build-layer")
                image, _ = await images.register(config_bytes, [])
            if image.id != new_id:  # the content store's digest is the id; never differs
                self.cache.record(state.image_id, key, image.id, created_by)
        finally:
            if layer is not None:
                shutil.rmtree(layer.path, ignore_errors=True)
        state.image_id = image.id
        state.image_config = json.loads(config_bytes)
        state.busted = True


def _quote(value: str) -> str:
    return '"' + "".join("\\" + c if c in '"\\$' else c for c in value) + '"'


def _with_labels(stage: df.Stage, labels: dict[str, str]) -> df.Stage:
    """The ``labels`` build option: a LABEL step appended to the target stage (dockerd)."""
    pairs = tuple((_quote(k), _quote(v)) for k, v in sorted(labels.items()))
    text = "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
    ins = df.Instruction("label", text, 0, tuple(f"{k}={v}" for k, v in pairs), False, {}, pairs)
    return dataclasses.replace(stage, instructions=(*stage.instructions, ins))


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]
