"""Writing test images straight into a registry with plain HTTP calls.

:class:`RegistryPusher` crafts exactly the manifests a test needs (Docker schema2, OCI,
manifest lists and OCI indexes, gzip/zstd/plain layers) with monolithic uploads, and
handles the registry's basic or token auth itself.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from support.token_server import SERVICE

if TYPE_CHECKING:
    from support.registry import Registry

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def sha256(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistryPusher:
    """Writes blobs and manifests into a registry with plain HTTP calls.

    Handles the registry's auth itself (basic, or a bearer token fetched from the
    realm for ``push,pull``) so fixtures can build any image shape they need.
    """

    def __init__(self, registry: Registry, creds: tuple[str, str] | None):
        self.registry = registry
        self.creds = creds
        self.client = httpx.Client(base_url=registry.url, timeout=120, verify=False)
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def _headers(self, repo: str) -> dict[str, str]:
        if self.registry.auth == "basic" and self.creds:
            raw = f"{self.creds[0]}:{self.creds[1]}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if self.registry.auth == "token":
            if repo not in self._tokens:
                assert self.registry.token_server is not None
                r = httpx.get(
                    self.registry.token_server.realm,
                    params={"service": SERVICE, "scope": f"repository:{repo}:pull,push"},
                    auth=self.creds,
                )
                r.raise_for_status()
                self._tokens[repo] = r.json()["token"]
            return {"Authorization": "Bearer " + self._tokens[repo]}
        return {}

    def upload_blob(self, repo: str, data: bytes) -> str:
        """Monolithic upload (POST then PUT ?digest=); returns the digest."""
        digest = sha256(data)
        h = self._headers(repo)
        if self.client.head(f"/v2/{repo}/blobs/{digest}", headers=h).status_code == 200:
            return digest
        r = self.client.post(f"/v2/{repo}/blobs/uploads/", headers=h)
        assert r.status_code == 202, r.text
        loc = r.headers["Location"]
        sep = "&" if "?" in loc else "?"
        r = self.client.put(
            f"{loc}{sep}digest={digest}",
            content=data,
            headers={**h, "Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 201, r.text
        return digest

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        """PUT a manifest (or index) under a tag or digest; returns its digest."""
        r = self.client.put(
            f"/v2/{repo}/manifests/{ref}",
            content=body,
            headers={**self._headers(repo), "Content-Type": media_type},
        )
        assert r.status_code == 201, r.text
        return sha256(body)

    def push_image(
        self,
        repo: str,
        tag: str | None,
        layers: list[bytes],
        *,
        config: dict[str, Any] | None = None,
        oci: bool = False,
        compression: str = "gzip",
        architecture: str | None = None,
        cmd: list[str] | None = None,
    ) -> PushedImage:
        """Push an image built from raw layer tars; returns its digests.

        ``compression`` is ``gzip``, ``zstd`` (OCI only) or ``none``.
        """
        from support.images import image_config

        diff_ids = [sha256(layer) for layer in layers]
        cfg = config or image_config(diff_ids, cmd or ["sh"])
        if architecture:
            cfg = {**cfg, "architecture": architecture}
        cfg_bytes = json.dumps(cfg).encode()
        cfg_digest = self.upload_blob(repo, cfg_bytes)
        descs = []
        blobs = []
        for layer in layers:
            if compression == "gzip":
                blob = gzip.compress(layer, compresslevel=1, mtime=0)
                mt = OCI_LAYER_GZIP if oci else DOCKER_LAYER_GZIP
            elif compression == "zstd":
                import zstandard

                blob = zstandard.ZstdCompressor().compress(layer)
                mt = OCI_LAYER_ZSTD
            else:
                blob = layer
                mt = OCI_LAYER if oci else "application/vnd.docker.image.rootfs.diff.tar"
            blobs.append(blob)
            descs.append(
                {"mediaType": mt, "size": len(blob), "digest": self.upload_blob(repo, blob)}
            )
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                "size": len(cfg_bytes),
                "digest": cfg_digest,
            },
            "layers": descs,
        }
        body = json.dumps(manifest, indent=3).encode()
        mt = OCI_MANIFEST if oci else DOCKER_MANIFEST
        digest = self.put_manifest(repo, tag or sha256(body), body, mt)
        return PushedImage(
            repo=repo,
            tag=tag,
            manifest_digest=digest,
            manifest=body,
            media_type=mt,
            config_digest=cfg_digest,
            config=cfg,
            layer_digests=[d["digest"] for d in descs],
            diff_ids=diff_ids,
            image_id=cfg_digest,
        )

    def push_index(
        self, repo: str, tag: str, entries: list[tuple[PushedImage, dict[str, str]]], oci: bool
    ) -> str:
        """Push a manifest list / OCI index of already pushed manifests."""
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX if oci else DOCKER_LIST,
            "manifests": [
                {
                    "mediaType": img.media_type,
                    "size": len(img.manifest),
                    "digest": img.manifest_digest,
                    "platform": plat,
                }
                for img, plat in entries
            ],
        }
        body = json.dumps(index, indent=3).encode()
        return self.put_manifest(repo, tag, body, OCI_INDEX if oci else DOCKER_LIST)


@dataclass
class PushedImage:
    """What :meth:`RegistryPusher.push_image` wrote."""

    repo: str
    tag: str | None
    manifest_digest: str
    manifest: bytes
    media_type: str
    config_digest: str
    config: dict[str, Any]
    layer_digests: list[str]
    diff_ids: list[str]
    image_id: str


def file_layer(files: dict[str, bytes]) -> bytes:
    """A layer tar holding regular files (parents created as directories)."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for path in sorted(files):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(path)
            info.size = len(files[path])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[path]))
    return buf.getvalue()
