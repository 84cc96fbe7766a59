"""Real registries for tests: Debian's ``docker-registry`` on loopback, three ways.

* :class:`Registry` with ``auth=None``: anonymous pull and push.
* ``auth="basic"``: htpasswd (bcrypt) basic auth, like most private registries.
* ``auth="token"``: the Docker token protocol, with :class:`TokenServer` (a small
  HTTP server of the tests on loopback) signing RS256 JWTs whose ``x5c`` header
  carries a certificate the registry trusts through its ``rootcertbundle``.

Each registry gets a free port, a temp directory with its config and storage, and is
killed and removed on :meth:`Registry.stop`. :class:`RegistryPusher` writes images into
a registry by plain HTTP (monolithic uploads) so tests can craft exactly the manifests
they need: Docker schema2, OCI, indexes with several platforms, zstd layers, schema1.
:class:`ThrottleProxy` slows a registry down for the tests that kill a pull midway.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REGISTRY_BIN = "/usr/bin/docker-registry"
SERVICE = "portside-test-registry"
ISSUER = "portside-test-issuer"

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- token server ------------------------------------------------------------------------
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """The Docker token protocol on loopback: ``GET /token?service=&scope=``.

    Basic credentials matching ``users`` get every action they ask for; anonymous
    callers get tokens granting ``pull`` only when ``anonymous_pull`` is set. Wrong
    credentials answer 401 with a registry-style error body, as real token servers do.
    ``requests`` records (scope, account) pairs so tests can check caching.
    """

    def __init__(self, workdir: Path, users: dict[str, str], anonymous_pull: bool = False):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.users = users
        self.anonymous_pull = anonymous_pull
        self.requests: list[tuple[str, str]] = []
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> account
        self.posts = 0  # refresh-token grants served
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portside test token signer")])
        now = _utcnow()
        import datetime as dt

        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_path = workdir / "token-signer.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        """The token endpoint the registry sends clients to."""
        return f"http://127.0.0.1:{self.port}/token"

    def start(self) -> None:
        """Serve in a background thread (test code only; the engine never uses threads)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def sign(self, claims: dict[str, Any]) -> str:
        """An RS256 JWT with the signing certificate in ``x5c``."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        sig = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(sig)

    def _grant(self, account: str, scopes: list[str]) -> list[dict[str, Any]]:
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            if not account:
                actions = [a for a in actions if a == "pull"] if self.anonymous_pull else []
            if actions:
                access.append({"type": kind, "name": name, "actions": actions})
        return access

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _deny(self) -> None:
                body = json.dumps(
                    {
                        "errors": [
                            {
                                "code": "UNAUTHORIZED",
                                "message": "incorrect username or password",
                                "detail": None,
                            }
                        ]
                    }
                ).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _issue(self, account: str, service: str, scopes: list[str], refresh: bool) -> None:
                server.requests.append((" ".join(scopes), account))
                now = int(time.time())
                token = server.sign(
                    {
                        "iss": ISSUER,
                        "sub": account,
                        "aud": service,
                        "exp": now + 300,
                        "nbf": now - 10,
                        "iat": now,
                        "jti": secrets.token_hex(8),
                        "access": server._grant(account, scopes),
                    }
                )
                doc: dict[str, Any] = {"token": token, "access_token": token, "expires_in": 300}
                if refresh and account:
                    rt = "rt-" + secrets.token_hex(16)
                    server.refresh_tokens[rt] = account
                    doc["refresh_token"] = rt
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urllib.parse.urlparse(self.path)
                if url.path != "/token":
                    self.send_error(404)
                    return
                q = urllib.parse.parse_qs(url.query)
                account = ""
                auth = self.headers.get("Authorization", "")
                if auth.lower().startswith("basic "):
                    user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                    if server.users.get(user) != pw:
                        self._deny()
                        return
                    account = user
                scopes = " ".join(q.get("scope", [])).split()
                service = q.get("service", [SERVICE])[0]
                self._issue(account, service, scopes, q.get("offline_token") == ["true"])

            def do_POST(self) -> None:
                """OAuth2 refresh-token grant (what clients holding an identity token use)."""
                if urllib.parse.urlparse(self.path).path != "/token":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                server.posts += 1
                if form.get("grant_type") != ["refresh_token"]:
                    self.send_error(400)
                    return
                account = server.refresh_tokens.get(form.get("refresh_token", [""])[0])
                if not account:
                    self._deny()
                    return
                scopes = " ".join(form.get("scope", [])).split()
                self._issue(account, form.get("service", [SERVICE])[0], scopes, False)

        return Handler


def _utcnow():  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.now(dt.UTC)


# -- the registry ------------------------------------------------------------------------
@dataclass
class Registry:
    """One ``docker-registry`` process on 127.0.0.1 with its own storage.

    ``auth`` is None, ``"basic"`` or ``"token"``; ``users`` are the accepted
    credentials for both authenticated kinds.
    """

    auth: str | None = None
    users: dict[str, str] = field(default_factory=lambda: {"alice": "s3cret-pw"})
    anonymous_pull: bool = False
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="psreg-")))
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    token_server: TokenServer | None = None
    # (certificate, key) PEM paths: serve HTTPS instead of plain HTTP.
    tls: tuple[Path, Path] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL (plain HTTP, or HTTPS when ``tls`` is set)."""
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def storage(self) -> Path:
        """The filesystem driver's root directory."""
        return self.base / "storage"

    @property
    def user(self) -> str:
        """The first user name."""
        return next(iter(self.users))

    @property
    def password(self) -> str:
        """The first user's password."""
        return self.users[self.user]

    def _config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                # No in-memory descriptor cache: tests corrupt blobs on disk and the
                # registry must serve what is there.
            },
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": secrets.token_hex(16)},
        }
        if self.tls:
            cfg["http"]["tls"] = {"certificate": str(self.tls[0]), "key": str(self.tls[1])}
        if self.auth == "basic":
            import bcrypt

            lines = [
                f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=5)).decode()}"
                for u, p in self.users.items()
            ]
            htpasswd = self.base / "htpasswd"
            htpasswd.write_text("\n".join(lines) + "\n")
            cfg["auth"] = {"htpasswd": {"realm": "portside-realm", "path": str(htpasswd)}}
        elif self.auth == "token":
            self.token_server = TokenServer(self.base, self.users, self.anonymous_pull)
            self.token_server.start()
            cfg["auth"] = {
                "token": {
                    "realm": self.token_server.realm,
                    "service": SERVICE,
                    "issuer": ISSUER,
                    "rootcertbundle": str(self.token_server.cert_path),
                }
            }
        elif self.auth is not None:
            raise ValueError(f"unknown auth kind {self.auth!r}")
        return cfg

    def start(self, timeout: float = 15.0) -> Registry:
        """Start the registry and wait until ``/v2/`` answers."""
        if not Path(REGISTRY_BIN).exists():
            raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
        self.storage.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        config = self.base / "config.yml"
        config.write_text(json.dumps(self._config(), indent=1))  # JSON is valid YAML
        log = open(self.base / "registry.log", "ab")
        self.proc = subprocess.Popen(
            [REGISTRY_BIN, "serve", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited:\n{self.log()}")
            try:
                r = httpx.get(self.url + "/v2/", timeout=1, verify=False)
                if r.status_code in (200, 401):
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not answer:\n{self.log()}")

    def log(self) -> str:
        """The registry's log."""
        try:
            return (self.base / "registry.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """Kill the registry and token server and remove their files."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
        self.proc = None
        if self.token_server:
            self.token_server.stop()
            self.token_server = None
        shutil.rmtree(self.base, ignore_errors=True)

    # -- direct storage access (for corruption tests) -------------------------------------
    def blob_path(self, digest: str) -> Path:
        """Where the filesystem driver keeps ``digest``'s bytes."""
        hexd = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"

    def corrupt_blob(self, digest: str) -> None:
        """Flip bytes in the middle of a stored blob, keeping its size."""
        p = self.blob_path(digest)
        data = bytearray(p.read_bytes())
        mid = len(data) // 2
        for i in range(mid, min(mid + 64, len(data))):
            data[i] ^= 0xFF
        p.write_bytes(bytes(data))

    # -- clients -------------------------------------------------------------------------
    def pusher(self, authenticated: bool = True) -> RegistryPusher:
        """A direct HTTP client for writing test images into this registry."""
        creds = (self.user, self.password) if (self.auth and authenticated) else None
        return RegistryPusher(self, creds)

    def skopeo_copy(self, source: str, dest_ref: str, *extra: str) -> None:
        """``skopeo copy SOURCE docker://HOST/DEST_REF`` (e.g. a docker-archive)."""
        args = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *extra]
        if self.auth:
            args += ["--dest-creds", f"{self.user}:{self.password}"]
        res = subprocess.run(
            [*args, source, f"docker://{self.host}/{dest_ref}"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if res.returncode != 0:
            raise RuntimeError(f"skopeo copy failed: {res.stderr}")


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


# -- a slow path to a registry -----------------------------------------------------------
class ThrottleProxy:
    """A TCP proxy on loopback that limits registry→client bytes to ``rate`` B/s.

    Tests that must interrupt a pull midway point the engine at the proxy's port so
    the download reliably lasts long enough to be killed.
    """

    def __init__(self, target_port: int, rate: int = 4 << 20):
        self.target_port = target_port
        self.rate = rate
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(32)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the proxy."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> ThrottleProxy:
        """Start accepting connections."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting; open connections die with their threads' sockets."""
        self._stop.set()
        try:
            self._sock.close()
        except OSError:
            pass

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, throttled: bool) -> None:
        chunk = 64 << 10
        try:
            while not self._stop.is_set():
                data = src.recv(chunk)
                if not data:
                    break
                dst.sendall(data)
                # Read the rate each time: tests lift the limit once they are done waiting.
                if throttled and self.rate:
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


# -- looking at an engine's stores ---------------------------------------------------------
@dataclass
class StoreState:
    """What an engine's data-root holds, for "nothing half-made" assertions."""

    blobs: set[str]
    layers: set[str]
    blob_tmp: list[str]
    layer_tmp: list[str]

    @property
    def temp_files(self) -> list[str]:
        """Anything in the stores' temp areas."""
        return self.blob_tmp + self.layer_tmp


def store_state(data_root: Path) -> StoreState:
    """Blobs (``sha256:…``), layer dirs (diff-ids) and temp entries under ``data_root``."""

    def names(p: Path) -> list[str]:
        return sorted(x.name for x in p.iterdir()) if p.is_dir() else []

    blobs = {"sha256:" + n for n in names(data_root / "blobs" / "sha256")}
    layers = {"sha256:" + n for n in names(data_root / "layers") if n != "tmp"}
    return StoreState(
        blobs, layers, names(data_root / "blobs" / "tmp"), names(data_root / "layers" / "tmp")
    )


def api_pull(engine: Any, image: str, tag: str = "", **params: str) -> list[dict[str, Any]]:
    """``POST /images/create`` through the raw API; the decoded NDJSON lines."""
    q = {"fromImage": image, **({"tag": tag} if tag else {}), **params}
    r = engine.api("POST", "/images/create", params=q, timeout=300)
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


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


def settled_store_state(data_root: Path, timeout: float = 10.0) -> StoreState:
    """:func:`store_state` once the temp areas are empty (or the timeout passed).

    A cancelled layer extraction removes its temp directory from its worker thread a
    moment after the pull has already reported its error.
    """
    deadline = time.monotonic() + timeout
    st = store_state(data_root)
    while st.temp_files and time.monotonic() < deadline:
        time.sleep(0.05)
        st = store_state(data_root)
    return st
