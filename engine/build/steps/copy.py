"""COPY and ADD: files from the context (or a stage, or an image) become a layer.

The layer is written as a tar stream straight into the layer store's extractor, so no
container is needed. Parent directories the destination needs are written with the
metadata they have in the image (or 0755 and the ``--chown`` owner when new), so a
copy into ``/tmp`` leaves ``/tmp`` sticky. The cache key covers content, modes,
relative paths and link targets — not mtimes or the uploader's uid/gid.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import os
import posixpath
import stat
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ...containers.files.upperdiff import LowerView
from ...errors import InvalidParameter
from ...fs.stream import detect_compression
from ...images.layers import PendingLayer
from ..dockerfile import Instruction
from ..dockerfile.shell_lex import ShellLex
from ..sources import DIR, FILE, SYMLINK, DirSource, Info, Source, resolve
from ..state import StageState, nop

if TYPE_CHECKING:
    from collections.abc import Callable

_CHUNK = 1 << 20
ADD_URL_LIMIT = 1 << 30
ADD_URL_TIMEOUT = 600.0


@dataclass
class Item:
    """One source to copy: ``rel`` in ``source``, written at ``dest`` (layer-relative)."""

    source: Source
    rel: str
    dest: str
    contents_only: bool = False  # a directory whose children go to ``dest``
    extract: bool = False  # ADD of a local archive


@dataclass
class CopyPlan:
    """What a COPY/ADD writes and the digest that keys its cache entry."""

    items: list[Item]
    dest_dirs: list[str]
    uid: int
    gid: int
    chmod: int | None
    digest: str = ""
    kind: str = "file"
    created_by: str = ""
    chown_set: bool = False
    lower: list[Path] = field(default_factory=list)


def _parse_chmod(value: Any) -> int | None:
    if not value or not isinstance(value, str):
        return None
    try:
        mode = int(value, 8)
    except ValueError:
        raise InvalidParameter(f"invalid chmod parameter: {value!r}") from None
    if mode > 0o7777:
        raise InvalidParameter(f"invalid chmod parameter: {value!r}")
    return mode


def _read_text(root: Path | None, file: str) -> str:
    if root is None:
        return ""
    src = DirSource(root)
    rel = resolve(src, file)
    info = src.info(rel)
    if info is None or info.kind != FILE:
        return ""
    with src.open(rel) as f:
        return f.read(1 << 20).decode(errors="replace")


def _lookup_id(root: Path | None, file: str, name: str, what: str) -> int:
    if name.isdigit():
        return int(name)
    if root is not None:
        text = _read_text(root, file)
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                return int(fields[2])
    raise InvalidParameter(
        f"unable to find {what} {name}: no matching entries in {file.rsplit('/', 1)[-1]} file"
    )


def parse_chown(value: str, root: Path | None) -> tuple[int, int]:
    """``user[:group]`` (names looked up in the image's passwd/group files)."""
    user, _, group = value.partition(":")
    uid = _lookup_id(root, "/etc/passwd", user, "user")
    if not group:
        if user.isdigit():
            return uid, uid
        gid_text = ""
        for line in _read_text(root, "/etc/passwd").splitlines():
            f = line.split(":")
            if len(f) > 3 and f[0] == user:
                gid_text = f[3]
        return uid, int(gid_text) if gid_text.isdigit() else uid
    return uid, _lookup_id(root, "/etc/group", group, "group")


def _has_glob(s: str) -> bool:
    return any(c in s for c in "*?[")


def _sources(source: Source, pattern: str) -> list[tuple[str, str]]:
    """(name as matched, resolved path) of entries matching ``pattern`` (wildcards per
    path component)."""
    clean = posixpath.normpath("/" + pattern).lstrip("/")
    if not _has_glob(clean):
        return [(clean, resolve(source, clean))]
    found = [""]
    for comp in clean.split("/"):
        nxt = []
        for base in found:
            if not _has_glob(comp):
                nxt.append(f"{base}/{comp}" if base else comp)
                continue
            names = source.listdir(resolve(source, base) if base else "")
            nxt += [f"{base}/{n}" if base else n for n in names if fnmatch.fnmatchcase(n, comp)]
        found = nxt
    return [(f, resolve(source, f)) for f in found]


def _is_archive(source: Source, rel: str) -> bool:
    try:
        with source.open(rel) as f:
            head = f.read(512)
    except OSError:
        return False
    if detect_compression(head) != "none":
        return True
    return len(head) == 512 and head[257:262] == b"ustar"


def plan(
    ins: Instruction,
    state: StageState,
    lex: ShellLex,
    source: Source,
    add: bool,
    lower: list[Path],
    chown_root: Path | None,
    downloads: dict[str, Path],
) -> CopyPlan:
    """Resolve sources and destination (blocking: it reads the filesystem)."""
    env = state.expansion_env()
    words = [lex.process_word(a, env) for a in ins.args]
    if len(words) < 2:
        raise InvalidParameter(
            f"{ins.keyword.upper()} requires at least two arguments, but only one was "
            "provided. Destination could not be determined."
        )
    *srcs, dest = words
    workdir = state.config.get("WorkingDir") or "/"
    dest_is_dir = dest.endswith("/") or dest.endswith("/.") or dest == "."
    if not dest.startswith("/"):
        dest = posixpath.join(workdir, dest)
    dest = posixpath.normpath(dest).lstrip("/")
    view = LowerView(lower)
    if dest:
        st = view.lookup(tuple(dest.split("/")))
        if st is not None and stat.S_ISDIR(st.st_mode):
            dest_is_dir = True
    else:
        dest_is_dir = True
    chown = ins.flags.get("chown")
    uid = gid = 0
    if isinstance(chown, str) and chown:
        uid, gid = parse_chown(lex.process_word(chown, env), chown_root)
    chmod = _parse_chmod(ins.flags.get("chmod"))
    items: list[Item] = []
    matched: list[tuple[str, Source, str, bool]] = []  # (name, source, path, is_url)
    for src in srcs:
        if add and src.startswith(("http://", "https://")):
            got = downloads[src]
            name = src.rstrip("/").rsplit("/", 1)[-1] or "download"
            matched.append((name, DirSource(got.parent), got.name, True))
            continue
        hits = _sources(source, src)
        for name, path in hits:
            if source.info(path) is None:
                if _has_glob(src):
                    continue
                raise InvalidParameter(
                    f"{ins.keyword.upper()} failed: file not found in build context or excluded by "
                    f".dockerignore: stat {src}: file does not exist"
                )
            matched.append((name, source, path, False))
        if _has_glob(src) and not hits:
            raise InvalidParameter(f"{ins.keyword.upper()} failed: no source files were specified")
    if not matched:
        raise InvalidParameter(f"{ins.keyword.upper()} failed: no source files were specified")
    if len(matched) > 1 and not dest_is_dir:
        raise InvalidParameter(
            f"When using {ins.keyword.upper()} with more than one source file, the destination "
            "must be a directory and end with a /"
        )
    for name, src_tree, path, is_url in matched:
        info = src_tree.info(path)
        if info is not None and info.kind == DIR:
            items.append(Item(src_tree, path, dest, contents_only=True))
        elif add and not is_url and _is_archive(src_tree, path):
            items.append(Item(src_tree, path, dest, extract=True))
        else:
            target = posixpath.join(dest, posixpath.basename(name)) if dest_is_dir else dest
            items.append(Item(src_tree, path, target))
    dest_dirs = []
    parts = dest.split("/") if dest else []
    upto = len(parts) if dest_is_dir else len(parts) - 1
    for i in range(1, upto + 1):
        dest_dirs.append("/".join(parts[:i]))
    p = CopyPlan(items, dest_dirs, uid, gid, chmod, chown_set=bool(chown), lower=lower)
    p.digest, p.kind = _digest(p)
    what = f"{p.kind}:{p.digest}"
    p.created_by = nop(state, f"{ins.keyword.upper()} {what} in /{dest} ", single=True)
    return p


def _walk(item: Item) -> list[tuple[str, str, Info]]:
    """(layer path, source path, info) of everything an item writes, parents first."""
    src = item.source
    if not item.contents_only:
        info = src.info(item.rel)
        return [(item.dest, item.rel, info)] if info is not None else []
    out: list[tuple[str, str, Info]] = []

    def walk(rel: str, arc: str) -> None:
        for name in src.listdir(rel):
            child = f"{rel}/{name}" if rel else name
            info = src.info(child)
            if info is None:
                continue
            at = posixpath.join(arc, name).lstrip("/")
            out.append((at, child, info))
            if info.kind == DIR:
                walk(child, at)

    walk(item.rel, item.dest)
    return out


def _digest(p: CopyPlan) -> tuple[str, str]:
    h = hashlib.sha256()
    kinds = set()
    for item in p.items:
        kinds.add("dir" if item.contents_only else "file")
        if item.extract:
            h.update(b"archive\0")
        for arc, rel, info in _walk(item):
            mode = info.mode if p.chmod is None else p.chmod
            h.update(f"{arc}\0{info.kind}\0{mode:o}\0{info.size}\0".encode())
            if info.kind == SYMLINK:
                h.update(item.source.readlink(rel).encode(errors="surrogateescape"))
            elif info.kind == FILE:
                with item.source.open(rel) as f:
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
            h.update(b"\n")
    h.update(f"{p.uid}:{p.gid}:{p.chmod}:{','.join(p.dest_dirs)}".encode())
    kind = "multi" if len(p.items) > 1 else kinds.pop()
    return h.hexdigest(), kind


def write_tar(p: CopyPlan, emit: Callable[[bytes], None]) -> None:
    """Write the layer tar (blocking; runs in the stream's thread)."""
    from ...fs.tarwrite import TreeTar

    tree = TreeTar(emit)
    tar = tree.tar
    view = LowerView(p.lower)
    written: set[str] = set()
    now = int(time.time())

    def add_dir(arc: str) -> None:
        if not arc or arc in written:
            return
        written.add(arc)
        ti = tarfile.TarInfo(arc + "/")
        ti.type = tarfile.DIRTYPE
        st = view.lookup(tuple(arc.split("/")))
        if st is not None and stat.S_ISDIR(st.st_mode):
            ti.mode, ti.uid, ti.gid, ti.mtime = (
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                int(st.st_mtime),
            )
        else:
            ti.mode, ti.uid, ti.gid, ti.mtime = 0o755, p.uid, p.gid, now
        ti.uname = ti.gname = ""
        tar.addfile(ti)

    for d in p.dest_dirs:
        add_dir(d)
    for item in p.items:
        if item.extract:
            _extract_archive(tar, item, add_dir)
            continue
        for arc, rel, info in _walk(item):
            parent = posixpath.dirname(arc)
            if parent:
                for i, _ in enumerate(parent.split("/")):
                    add_dir("/".join(parent.split("/")[: i + 1]))
            ti = tarfile.TarInfo(arc)
            ti.uid, ti.gid = p.uid, p.gid
            ti.uname = ti.gname = ""
            ti.mtime = int(info.mtime)
            ti.mode = info.mode if p.chmod is None else p.chmod
            if info.kind == DIR:
                if arc in written:
                    continue
                written.add(arc)
                ti.type = tarfile.DIRTYPE
                tar.addfile(ti)
            elif info.kind == SYMLINK:
                ti.type = tarfile.SYMTYPE
                ti.linkname = item.source.readlink(rel)
                tar.addfile(ti)
            elif info.kind == FILE:
                ti.size = info.size
                with item.source.open(rel) as f:
                    tar.addfile(ti, cast(Any, f))
    tree.close()


def _extract_archive(tar: tarfile.TarFile, item: Item, add_dir: Callable[[str], None]) -> None:
    """ADD of a local archive: its entries re-rooted at the destination directory
    (names are cleaned again by the layer extractor, which refuses escapes)."""
    with item.source.open(item.rel) as raw, tarfile.open(fileobj=raw, mode="r:*") as src:
        for ti in src:
            name = posixpath.normpath("/" + ti.name).lstrip("/")
            if not name or ti.isdev():
                continue
            ti.name = posixpath.join(item.dest, name).lstrip("/")
            parent = posixpath.dirname(ti.name)
            if parent:
                for i, _ in enumerate(parent.split("/")):
                    add_dir("/".join(parent.split("/")[: i + 1]))
            if ti.islnk():
                ti.linkname = posixpath.join(
                    item.dest, posixpath.normpath("/" + ti.linkname).lstrip("/")
                ).lstrip("/")
            if ti.isreg():
                tar.addfile(ti, src.extractfile(ti))
            else:
                tar.addfile(ti)


async def download(url: str, dest: Path, network_mode: str) -> None:
    """ADD <url>: fetched by the engine, bounded in time and size."""
    if network_mode == "none":
        raise InvalidParameter(f"failed to download {url}: the build's network mode is none")
    import httpx

    try:
        async with httpx.AsyncClient(timeout=ADD_URL_TIMEOUT, follow_redirects=True) as client:
            async with client.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    raise InvalidParameter(
                        f"failed to GET {url} with status {resp.status_code} {resp.reason_phrase}"
                    )
                size = 0
                with open(dest, "wb") as f:  # noqa: ASYNC230 - small writes of a download
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > ADD_URL_LIMIT:
                            raise InvalidParameter(f"failed to download {url}: larger than 1 GiB")
                        f.write(chunk)
                modified = resp.headers.get("Last-Modified")
        os.chmod(dest, 0o600)
        if modified:
            from email.utils import parsedate_to_datetime

            ts = parsedate_to_datetime(modified).timestamp()
            os.utime(dest, (ts, ts))
    except httpx.HTTPError as e:
        raise InvalidParameter(f"failed to download {url}: {e}") from None


async def plan_async(*args: Any) -> CopyPlan:
    """:func:`plan` in a thread."""
    return await asyncio.get_running_loop().run_in_executor(None, plan, *args)


def layer_source(p: CopyPlan) -> Any:
    """The tar stream of the plan's layer."""
    from ...fs.tarwrite import stream_from_thread

    return stream_from_thread(lambda emit: write_tar(p, emit))


async def write_layer(images: Any, p: CopyPlan) -> PendingLayer:
    """Write the plan's layer into the layer store (not yet committed)."""
    pending: PendingLayer = await images.layers.extract(layer_source(p), compression="none")
    return pending
