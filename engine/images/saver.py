"""``docker save``: a tar that is both a docker-archive and an OCI image layout.

Like Docker 25+: ``blobs/sha256/`` holds configs, OCI manifests and uncompressed
layer tars (rebuilt byte for byte from the tar-split, so their digests are the
diff-ids); ``index.json`` + ``oci-layout`` make it an OCI layout and
``manifest.json`` keeps ``docker load`` of older engines working. The small
metadata files come first so a streaming reader knows the plan before the layers.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import NotFound, SystemError_
from .reference import Reference, parse_reference

if TYPE_CHECKING:
    from .service import ImageService

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class _Entry:
    image_id: str
    tags: list[Reference] = field(default_factory=list)
    config: bytes = b""
    manifest: bytes = b""
    created: int = 0


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _header(name: str, size: int, mtime: int, directory: bool = False) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.mtime = mtime
    info.mode = 0o755 if directory else 0o644
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")


def _file(name: str, data: bytes, mtime: int) -> bytes:
    return _header(name, len(data), mtime) + data + bytes(-len(data) % 512)


async def prepare_save(svc: ImageService, names: list[str]) -> AsyncIterator[bytes]:
    """Resolve every name (errors surface before any byte is sent); return the stream."""
    if not names:
        raise NotFound("no images named to save")
    entries: dict[str, _Entry] = {}
    for name in names:
        image_id, parsed = svc.lookup(name)
        if parsed is not None and not parsed.tag and not parsed.digest:
            # A bare repository name saves every tag of that repository, as Docker does.
            hits = [
                (parse_reference(r), i)
                for r, i in sorted(svc.catalog.refs.items())
                if parse_reference(r).name == parsed.name and parse_reference(r).tag
            ]
            if not hits:
                await svc.resolve(name)  # raises Docker's NotFound
            for ref, iid in hits:
                entries.setdefault(iid, _Entry(iid)).tags.append(ref)
            continue
        if image_id is None:
            await svc.resolve(name)
            raise AssertionError("unreachable")
        entry = entries.setdefault(image_id, _Entry(image_id))
        if parsed is not None and parsed.tag and parsed not in entry.tags:
            entry.tags.append(parsed)
    for entry in entries.values():
        img = svc.image(entry.image_id)
        entry.config = await svc.content.read(entry.image_id)
        entry.created = max(img.created_unix, 0)
        entry.manifest = _dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": OCI_CONFIG,
                    "digest": entry.image_id,
                    "size": len(entry.config),
                },
                "layers": [
                    {"mediaType": OCI_LAYER, "digest": d, "size": svc.layers.tar_size(d)}
                    for d in img.diff_ids
                ],
            }
        )
    for entry in entries.values():
        svc.publish("save", entry.image_id, entry.image_id)
    return _stream(svc, list(entries.values()))


async def _stream(svc: ImageService, entries: list[_Entry]) -> AsyncIterator[bytes]:
    mtime = max((e.created for e in entries), default=0)
    index_manifests = []
    docker_manifest = []
    diff_ids: list[str] = []
    for e in entries:
        digest = "sha256:" + hashlib.sha256(e.manifest).hexdigest()
        desc = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(e.manifest)}
        refs: list[Reference | None] = list(e.tags) or [None]
        for ref in refs:
            item: dict[str, object] = dict(desc)
            if ref is not None:
                item["annotations"] = {
                    "io.containerd.image.name": ref.string(),
                    "org.opencontainers.image.ref.name": ref.tag or "",
                }
            index_manifests.append(item)
        img = svc.image(e.image_id)
        docker_manifest.append(
            {
                "Config": f"blobs/sha256/{e.image_id[7:]}",
                "RepoTags": [t.familiar() for t in e.tags],
                "Layers": [f"blobs/sha256/{d[7:]}" for d in img.diff_ids],
            }
        )
        diff_ids.extend(d for d in img.diff_ids if d not in diff_ids)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index_manifests}
    yield _file("oci-layout", _dumps({"imageLayoutVersion": "1.0.0"}), mtime)
    yield _file("index.json", _dumps(index), mtime)
    yield _file("manifest.json", _dumps(docker_manifest), mtime)
    yield _header("blobs/", 0, mtime, directory=True)
    yield _header("blobs/sha256/", 0, mtime, directory=True)
    written: set[str] = set()
    for e in entries:
        mdigest = hashlib.sha256(e.manifest).hexdigest()
        for hexd, data in ((e.image_id[7:], e.config), (mdigest, e.manifest)):
            if hexd not in written:
                written.add(hexd)
                yield _file(f"blobs/sha256/{hexd}", data, mtime)
    for d in diff_ids:
        if d[7:] in written:
            continue
        written.add(d[7:])
        size = svc.layers.tar_size(d)
        yield _header(f"blobs/sha256/{d[7:]}", size, mtime)
        sent = 0
        async for chunk in svc.layers.tar_chunks(d):
            sent += len(chunk)
            yield chunk
        if sent != size:
            # The stream cannot be fixed any more; aborting beats a corrupt archive.
            raise SystemError_(f"layer {d} rebuilt to {sent} bytes instead of {size}")
        yield bytes(-size % 512)
    yield bytes(1024)
