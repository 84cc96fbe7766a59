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

from ...containers.upperdiff import LowerView
from ...errors import InvalidParameter
from ...images.layers import PendingLayer
from ...images.stream import detect_compression
from ..context import resolve_in
from ..dockerfile import Instruction
from ..dockerfile.shell_lex import ShellLex
from ..state import StageState, nop

if TYPE_CHECKING:
    from collections.abc import Callable

_CHUNK = 1 << 20
ADD_URL_LIMIT = 1 << 30
ADD_URL_TIMEOUT = 600.0


@dataclass
class Item:
    """One source to copy: ``src`` on the host, written at ``dest`` (layer-relative)."""

    src: Path
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


def _lookup_id(root: Path | None, file: str, name: str, what: str) -> int:
    if name.isdigit():
        return int(name)
    if root is not None:
        try:
            text = resolve_in(root, file).read_text(errors="replace")
        except OSError:
            text = ""
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
        if root is not None:
            try:
                for line in (
                    resolve_in(root, "/etc/passwd").read_text(errors="replace").splitlines()
                ):
                    f = line.split(":")
                    if len(f) > 3 and f[0] == user:
                        gid_text = f[3]
            except OSError:
                pass
        return uid, int(gid_text) if gid_text.isdigit() else uid
    return uid, _lookup_id(root, "/etc/group", group, "group")


def _has_glob(s: str) -> bool:
    return any(c in s for c in "*?[")


def _sources(root: Path, pattern: str) -> list[tuple[str, Path]]:
    """Context paths matching ``pattern`` (wildcards per path component)."""
    clean = posixpath.normpath("/" + pattern).lstrip("/")
    if not _has_glob(clean):
        return [(clean, resolve_in(root, clean))]
    found = [""]
    for comp in clean.split("/"):
        nxt = []
        for base in found:
            d = resolve_in(root, base) if base else root
            if not _has_glob(comp):
                nxt.append(f"{base}/{comp}" if base else comp)
                continue
            try:
                names = sorted(os.listdir(d))
            except OSError:
                continue
            nxt += [f"{base}/{n}" if base else n for n in names if fnmatch.fnmatchcase(n, comp)]
        found = nxt
    return [(f, resolve_in(root, f)) for f in found]


def _is_archive(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
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
    source_root: Path,
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
    matched: list[tuple[str, Path, bool]] = []  # (name, path, is_url)
    for src in srcs:
        if add and src.startswith(("http://", "https://")):
            matched.append((src.rstrip("/").rsplit("/", 1)[-1] or "download", downloads[src], True))
            continue
        hits = _sources(source_root, src)
        for name, path in hits:
            if not path.exists() and not path.is_symlink():
                if _has_glob(src):
                    continue
                raise InvalidParameter(
                    f"{ins.keyword.upper()} failed: file not found in build context or excluded by "
                    f".dockerignore: stat {src}: file does not exist"
                )
            matched.append((name, path, False))
        if _has_glob(src) and not hits:
            raise InvalidParameter(f"{ins.keyword.upper()} failed: no source files were specified")
    if not matched:
        raise InvalidParameter(f"{ins.keyword.upper()} failed: no source files were specified")
    if len(matched) > 1 and not dest_is_dir:
        raise InvalidParameter(
            f"When using {ins.keyword.upper()} with more than one source file, the destination "
            "must be a directory and end with a /"
        )
    for name, path, is_url in matched:
        if path.is_dir():
            items.append(Item(path, dest, contents_only=True))
        elif add and not is_url and _is_archive(path):
            items.append(Item(path, dest, extract=True))
        else:
            target = posixpath.join(dest, posixpath.basename(name)) if dest_is_dir else dest
            items.append(Item(path, target))
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


def _walk(item: Item) -> list[tuple[str, Path, os.stat_result]]:
    """(layer path, host path, lstat) of everything an item writes, parents first."""
    out: list[tuple[str, Path, os.stat_result]] = []
    if not item.contents_only:
        out.append((item.dest, item.src, item.src.stat()))
        return out
    for top, dirs, files in os.walk(item.src):
        dirs.sort()
        rel = os.path.relpath(top, item.src)
        base = item.dest if rel == "." else posixpath.join(item.dest, rel)
        for name in [*dirs, *sorted(files)]:
            full = Path(top, name)
            out.append((posixpath.join(base, name).lstrip("/"), full, full.lstat()))
    return out


def _digest(p: CopyPlan) -> tuple[str, str]:
    h = hashlib.sha256()
    kinds = set()
    for item in p.items:
        kinds.add("dir" if item.contents_only else "file")
        for arc, path, st in _walk(item):
            mode = stat.S_IMODE(st.st_mode) if p.chmod is None else p.chmod
            h.update(f"{arc}\0{stat.S_IFMT(st.st_mode)}\0{mode:o}\0{st.st_size}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode(errors="surrogateescape"))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
            h.update(b"\n")
    h.update(f"{p.uid}:{p.gid}:{p.chmod}:{','.join(p.dest_dirs)}".encode())
    kind = "multi" if len(p.items) > 1 else kinds.pop()
    return h.hexdigest(), kind


def write_tar(p: CopyPlan, emit: Callable[[bytes], None]) -> None:
    """Write the layer tar (blocking; runs in the stream's thread)."""
    from ...containers.tarwrite import TreeTar

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
        for arc, path, st in _walk(item):
            parent = posixpath.dirname(arc)
            if parent:
                for i, _ in enumerate(parent.split("/")):
                    add_dir("/".join(parent.split("/")[: i + 1]))
            ti = tarfile.TarInfo(arc)
            ti.uid, ti.gid = p.uid, p.gid
            ti.uname = ti.gname = ""
            ti.mtime = int(st.st_mtime)
            mode = stat.S_IMODE(st.st_mode)
            ti.mode = mode if p.chmod is None else p.chmod
            if stat.S_ISDIR(st.st_mode):
                if arc in written:
                    continue
                written.add(arc)
                ti.type = tarfile.DIRTYPE
                tar.addfile(ti)
            elif stat.S_ISLNK(st.st_mode):
                ti.type = tarfile.SYMTYPE
                ti.linkname = os.readlink(path)
                tar.addfile(ti)
            elif stat.S_ISREG(st.st_mode):
                ti.size = st.st_size
                with open(path, "rb") as f:
                    tar.addfile(ti, cast(Any, f))
    tree.close()


def _extract_archive(tar: tarfile.TarFile, item: Item, add_dir: Callable[[str], None]) -> None:
    """ADD of a local archive: its entries re-rooted at the destination directory
    (names are cleaned again by the layer extractor, which refuses escapes)."""
    with tarfile.open(item.src, mode="r:*") as src:
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
    from ...containers.tarwrite import stream_from_thread

    return stream_from_thread(lambda emit: write_tar(p, emit))


async def write_layer(images: Any, p: CopyPlan) -> PendingLayer:
    """Write the plan's layer into the layer store (not yet committed)."""
    pending: PendingLayer = await images.layers.extract(layer_source(p), compression="none")
    return pending
