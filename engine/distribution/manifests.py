"""Manifest media types and validation of what a registry sends back.

Everything a registry returns is untrusted: a manifest is checked for the fields a
pull relies on (digests well-formed, sizes sane, counts matching the config) before
any byte of a layer is fetched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameter

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_NONDIST_LAYERS = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
)

INDEX_TYPES = (DOCKER_LIST, OCI_INDEX)
IMAGE_MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
SCHEMA1_TYPES = (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED)
LAYER_TYPES = (
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_FOREIGN_LAYER,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    *OCI_NONDIST_LAYERS,
)

# What a pull asks for, in the order dockerd lists them.
ACCEPT = ", ".join(
    (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST, DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA1)
)

MAX_MANIFEST_SIZE = 4 << 20
MAX_CONFIG_SIZE = 8 << 20

_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


def schema1_message(ref: str) -> str:
    """dockerd's refusal of schema1 images, word for word."""
    return (
        "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has "
        f"been removed. Suggest the author of {ref} to upgrade the image to the OCI Format or "
        "Docker Image manifest v2, schema 2. More information at "
        "https://docs.docker.com/go/deprecated-image-specs/"
    )


def check_digest(d: Any, what: str = "digest") -> str:
    """A well-formed sha256 digest or a clear error."""
    if not isinstance(d, str) or not _DIGEST_RE.match(d):
        raise InvalidParameter(f"invalid {what} in manifest: {d!r}")
    return d


@dataclass
class Descriptor:
    """An OCI content descriptor (media type, digest, size)."""

    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    urls: list[str] | None = None

    @classmethod
    def from_json(cls, d: Any, what: str) -> Descriptor:
        """Validate and build from a manifest's JSON."""
        if not isinstance(d, dict):
            raise InvalidParameter(f"invalid {what} descriptor in manifest")
        size = d.get("size")
        if not isinstance(size, int) or size < 0:
            raise InvalidParameter(f"invalid {what} size in manifest: {size!r}")
        return cls(
            media_type=str(d.get("mediaType") or ""),
            digest=check_digest(d.get("digest"), f"{what} digest"),
            size=size,
            platform=d.get("platform") if isinstance(d.get("platform"), dict) else None,
            urls=d.get("urls") if isinstance(d.get("urls"), list) else None,
        )

    def to_json(self) -> dict[str, Any]:
        """Docker's JSON spelling."""
        d: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            d["platform"] = self.platform
        return d


@dataclass
class ImageManifest:
    """A single-platform manifest (Docker schema2 or OCI)."""

    media_type: str
    config: Descriptor
    layers: list[Descriptor]
    raw: bytes
    digest: str


@dataclass
class IndexManifest:
    """A manifest list or OCI index."""

    media_type: str
    manifests: list[Descriptor]
    raw: bytes
    digest: str


def detect_media_type(raw: bytes, header_type: str) -> str:
    """The manifest's media type: the body's ``mediaType``, else a known Content-Type,
    else what the document's shape says (OCI allows omitting ``mediaType``)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    header = header_type.split(";")[0].strip()
    if isinstance(doc, dict):
        mt = doc.get("mediaType")
        if isinstance(mt, str) and mt:
            return mt
        if doc.get("schemaVersion") == 1:
            return DOCKER_SCHEMA1_SIGNED
        if header in (*INDEX_TYPES, *IMAGE_MANIFEST_TYPES, *SCHEMA1_TYPES):
            return header
        if "manifests" in doc:
            return OCI_INDEX
        if "config" in doc and "layers" in doc:
            return OCI_MANIFEST
    return header


def parse_manifest(raw: bytes, media_type: str, digest: str) -> ImageManifest | IndexManifest:
    """Validate a manifest body; schema1 is reported by the caller (it needs the ref)."""
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise InvalidParameter(f"invalid manifest {digest}: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidParameter(f"invalid manifest {digest}: not a JSON object")
    if media_type in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise InvalidParameter(f"invalid manifest list {digest}: no manifests")
        return IndexManifest(
            media_type,
            [Descriptor.from_json(e, "manifest") for e in entries],
            raw,
            digest,
        )
    if media_type in IMAGE_MANIFEST_TYPES:
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise InvalidParameter(f"invalid manifest {digest}: no layers")
        return ImageManifest(
            media_type,
            Descriptor.from_json(doc.get("config"), "config"),
            [Descriptor.from_json(layer, "layer") for layer in layers],
            raw,
            digest,
        )
    raise InvalidParameter(f"unsupported manifest media type {media_type!r} for {digest}")


def parse_config(raw: bytes, digest: str) -> dict[str, Any]:
    """The image config JSON with the fields a pull relies on checked."""
    try:
        cfg = json.loads(raw)
    except ValueError as e:
        raise InvalidParameter(f"invalid image config {digest}: {e}") from None
    if not isinstance(cfg, dict):
        raise InvalidParameter(f"invalid image config {digest}: not a JSON object")
    rootfs = cfg.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise InvalidParameter(f"invalid image config {digest}: no rootfs.diff_ids")
    for d in rootfs["diff_ids"]:
        check_digest(d, "diff_id")
    return cfg


def is_foreign(desc: Descriptor) -> bool:
    """Layers a registry may not serve (Windows base layers); never on Linux images."""
    return desc.media_type == DOCKER_FOREIGN_LAYER or desc.media_type in OCI_NONDIST_LAYERS
