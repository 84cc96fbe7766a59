"""``docker load``: docker-archive, OCI archive, and Docker 25+'s archives holding both.

The archive is read once, as it streams in, by one executor thread: small JSON files
(manifests, configs, index) are kept in memory, every other file is treated as a layer
candidate and unpacked into ``layers/tmp`` while hashed (gzip/zstd detected). Member
order does not matter — ``docker save`` puts ``manifest.json`` last. Afterwards the
manifests are checked against what was unpacked (diff-ids, blob digests) and only
the layers an image references are committed. Nothing from the archive is ever
written under its own name, so outer member names cannot escape anything.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter
from ..fs.stream import BytesReader, ChunkChannel
from ..fs.tarformat import DIR, LINK, SYMLINK, TarStream
from ..system import hostinfo
from ..system.crashpoint import crash_point
from .layers import PendingLayer, extract_sync, remove_tree, settle_worker
from .reference import parse_reference

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .service import ImageService

MAX_META_FILE = 16 << 20
MAX_META_TOTAL = 64 << 20
_BLOB_RE = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
_META_NAMES = {"manifest.json", "index.json", "oci-layout", "repositories"}
_MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
_INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


@dataclass
class Scan:
    """What one pass over the archive found."""

    meta: dict[str, bytes] = field(default_factory=dict)
    layers: dict[str, PendingLayer] = field(default_factory=dict)
    present: dict[str, str] = field(default_factory=dict)  # member -> stored diff-id
    errors: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # link member -> target member


class _Payload:
    """The current member's data as a reader, with an already-peeked head."""

    def __init__(self, head: bytes, tar: TarStream) -> None:
        self._head = head
        self._tar = tar

    def read(self, n: int) -> bytes:
        if self._head:
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._tar.read_payload(n)


def member_name(raw: bytes) -> str:
    """A member name, cleaned (``./x`` → ``x``); only used as a dictionary key."""
    return posixpath.normpath("/" + raw.decode("utf-8", "replace")).lstrip("/")


def scan_archive(src: Any, tmp_root: Path, known: set[str]) -> Scan:
    """Read the archive (blocking, in the executor); see the module docstring."""
    scan = Scan()
    meta_total = 0
    tar = TarStream(src)
    try:
        while (e := tar.next()) is not None:
            name = member_name(e.name)
            if e.type == DIR:
                continue
            if e.type == SYMLINK:
                target = posixpath.join(
                    posixpath.dirname(name), e.linkname.decode("utf-8", "replace")
                )
                scan.aliases[name] = member_name(target.encode())
                continue
            if e.type == LINK:
                scan.aliases[name] = member_name(e.linkname)
                continue
            if not e.is_file:
                continue
            m = _BLOB_RE.match(name)
            if m and f"sha256:{m[1]}" in known:
                scan.present[name] = f"sha256:{m[1]}"  # already stored: skip the data
                continue
            head = tar.read_payload(512)
            base = posixpath.basename(name)
            is_meta = (
                name in _META_NAMES
                or name.endswith(".json")
                or base in ("json", "VERSION")
                or head.lstrip()[:1] in (b"{", b"[")
            )
            if is_meta:
                if e.size > MAX_META_FILE or meta_total + e.size > MAX_META_TOTAL:
                    scan.errors[name] = f"metadata file of {e.size} bytes is too large"
                    continue
                rest = bytearray(head)
                while chunk := tar.read_payload():
                    rest += chunk
                scan.meta[name] = bytes(rest)
                meta_total += e.size
                continue
            try:
                scan.layers[name] = extract_sync(_Payload(head, tar), tmp_root)
            except InvalidParameter as err:
                scan.errors[name] = err.message
        return scan
    except BaseException:
        for p in scan.layers.values():
            remove_tree(p.path)
        raise


def _json(scan: Scan, name: str, what: str) -> Any:
    data = scan.meta.get(_follow(scan, name))
    if data is None:
        raise InvalidParameter(f"invalid archive: {what} {name} is missing")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidParameter(f"invalid archive: {what} {name} is not valid JSON: {e}") from e


def _follow(scan: Scan, name: str) -> str:
    name = member_name(name.encode())
    for _ in range(16):
        if name not in scan.aliases:
            return name
        name = scan.aliases[name]
    raise InvalidParameter(f"invalid archive: link loop at {name}")


@dataclass
class _Image:
    config: bytes
    layers: list[str]  # member names, bottom first
    tags: list[str]
    blob_digests: list[str | None]


def _blob_path(digest: str) -> str:
    alg, _, hexd = str(digest).partition(":")
    if not alg or not re.match(r"^[0-9a-f]{32,}$", hexd):
        raise InvalidParameter(f"invalid archive: bad digest {digest!r}")
    return f"blobs/{alg}/{hexd}"


def _from_docker_manifest(scan: Scan) -> list[_Image]:
    manifest = _json(scan, "manifest.json", "file")
    if not isinstance(manifest, list):
        raise InvalidParameter("invalid archive: manifest.json is not a list")
    out = []
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidParameter("invalid archive: manifest.json entry without Config")
        config = scan.meta.get(_follow(scan, entry["Config"]))
        if config is None:
            raise InvalidParameter(f"invalid archive: image config {entry['Config']} is missing")
        layers = entry.get("Layers") or []
        tags = entry.get("RepoTags") or []
        if not isinstance(layers, list) or not isinstance(tags, list):
            raise InvalidParameter("invalid archive: manifest.json Layers/RepoTags must be lists")
        out.append(
            _Image(config, [str(x) for x in layers], [str(t) for t in tags], [None] * len(layers))
        )
    return out


def _oci_manifests(scan: Scan, index: dict, depth: int = 0) -> list[tuple[dict, list[str]]]:
    if depth > 4:
        raise InvalidParameter("invalid archive: index nesting too deep")
    found: list[tuple[dict, list[str]]] = []
    arch = hostinfo.go_arch()
    for desc in index.get("manifests") or []:
        if not isinstance(desc, dict):
            continue
        plat = desc.get("platform") or {}
        if plat and (plat.get("os", "linux") != "linux" or plat.get("architecture", arch) != arch):
            continue
        path = _blob_path(desc.get("digest", ""))
        if _follow(scan, path) not in scan.meta:
            continue  # platforms the archive does not carry
        doc = _json(scan, path, "manifest")
        ann = desc.get("annotations") or {}
        name = ann.get("io.containerd.image.name") or ann.get("org.opencontainers.image.ref.name")
        tags = [name] if name and ("/" in name or ":" in name) else []
        kind = desc.get("mediaType") or doc.get("mediaType")
        if kind in _INDEX_TYPES or "manifests" in doc:
            for m, inner_tags in _oci_manifests(scan, doc, depth + 1):
                found.append((m, inner_tags or tags))
        elif kind in _MANIFEST_TYPES or "layers" in doc:
            found.append((doc, tags))
    return found


def _from_oci_index(scan: Scan) -> list[_Image]:
    index = _json(scan, "index.json", "file")
    if not isinstance(index, dict):
        raise InvalidParameter("invalid archive: index.json is not an object")
    by_config: dict[str, _Image] = {}
    for doc, tags in _oci_manifests(scan, index):
        cfg_digest = (doc.get("config") or {}).get("digest", "")
        config = scan.meta.get(_follow(scan, _blob_path(cfg_digest)))
        if config is None:
            raise InvalidParameter(f"invalid archive: image config {cfg_digest} is missing")
        layers = [d.get("digest", "") for d in doc.get("layers") or []]
        img = by_config.setdefault(
            cfg_digest, _Image(config, [_blob_path(d) for d in layers], [], list(layers))
        )
        img.tags.extend(t for t in tags if t not in img.tags)
    if not by_config:
        raise InvalidParameter("invalid archive: index.json names no image for this platform")
    return list(by_config.values())


async def load_archive(svc: ImageService, chunks: AsyncIterator[bytes]) -> list[str]:
    """Load every image in the archive; returns the lines ``docker load`` prints."""
    loop = asyncio.get_running_loop()
    channel = ChunkChannel()
    known = svc.layers.ids()

    def work() -> Scan:
        try:
            return scan_archive(channel, svc.layers.tmp, known)
        finally:
            channel.reader_done()

    def drop(scan: Scan) -> None:
        for p in scan.layers.values():
            remove_tree(p.path)

    scan: Scan = await settle_worker(loop.run_in_executor(None, work), channel, chunks, drop)
    try:
        return await _commit(svc, scan)
    finally:
        for p in scan.layers.values():
            if p.path.exists():
                await svc.layers.discard(p)


async def _layer(svc: ImageService, scan: Scan, member: str, diff_id: str, blob: str | None):
    name = _follow(scan, member)
    if name in scan.present:
        got = scan.present[name]
        if got != diff_id and not svc.layers.has(diff_id):
            raise InvalidParameter(
                f"invalid archive: layer {member} is {got}, config says {diff_id}"
            )
        return None
    if name in scan.errors:
        raise InvalidParameter(f"invalid archive: layer {member}: {scan.errors[name]}")
    pending = scan.layers.get(name)
    if pending is None and name in scan.meta:  # a layer that looked like JSON
        data = scan.meta[name]
        pending = await asyncio.get_running_loop().run_in_executor(
            None, extract_sync, BytesReader(data), svc.layers.tmp
        )
        scan.layers[name] = pending
    if pending is None:
        if svc.layers.has(diff_id) and name == f"blobs/sha256/{diff_id[7:]}":
            return None
        raise InvalidParameter(f"invalid archive: layer {member} is missing")
    if blob and pending.blob_digest != blob:
        raise InvalidParameter(
            f"invalid archive: layer {member} has digest {pending.blob_digest}, "
            f"the manifest says {blob}"
        )
    if pending.diff_id != diff_id:
        raise InvalidParameter(
            f"invalid archive: layer {member} has diff-id {pending.diff_id}, "
            f"but the image config says {diff_id}"
        )
    return pending


async def _commit(svc: ImageService, scan: Scan) -> list[str]:
    if "manifest.json" in scan.meta or "manifest.json" in scan.aliases:
        images = _from_docker_manifest(scan)
    elif "index.json" in scan.meta:
        images = _from_oci_index(scan)
    else:
        raise InvalidParameter(
            "invalid archive: no manifest.json or index.json found "
            "(not a docker save or OCI archive)"
        )
    from .service import parse_config

    plans = []
    for img in images:
        config = parse_config(img.config)
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(img.layers):
            raise InvalidParameter(
                f"invalid archive: the manifest lists {len(img.layers)} layers "
                f"but the image config has {len(diff_ids)}"
            )
        for t in img.tags:
            parse_reference(t)
        pendings = [
            await _layer(svc, scan, m, d, b)
            for m, d, b in zip(img.layers, diff_ids, img.blob_digests, strict=True)
        ]
        plans.append((img, pendings))
    lines: list[str] = []
    for img, pendings in plans:
        diff_ids = parse_config(img.config)["rootfs"]["diff_ids"]
        with svc.hold_layers(diff_ids):
            for p in pendings:
                if p is not None and p.path.exists():
                    svc.layers.commit(p)
                    crash_point("load-layer")
            image, moved = await svc.register(img.config, img.tags)
        for tag, old in moved:
            lines.append(
                f"The image {tag} already exists, renaming the old one with ID {old} "
                "to empty string"
            )
        svc.publish("load", image.id, image.id)
        if img.tags:
            lines.extend(
                f"Loaded image: {parse_reference(t).with_default_tag().familiar()}"
                for t in img.tags
            )
        else:
            lines.append(f"Loaded image ID: {image.id}")
    return lines
