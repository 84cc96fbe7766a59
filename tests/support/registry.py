"""Real registries for tests: Debian's ``docker-registry`` on loopback, three ways.

* :class:`Registry` with ``auth=None``: anonymous pull and push.
* ``auth="basic"``: htpasswd (bcrypt) basic auth, like most private registries.
* ``auth="token"``: the Docker token protocol, with :class:`TokenServer` (a small
  HTTP server of the tests on loopback, :mod:`support.token_server`) signing RS256
  JWTs whose ``x5c`` header carries a certificate the registry trusts through its
  ``rootcertbundle``.
* ``tls=(cert, key)``: HTTPS instead of plain HTTP.

Each registry gets a free port, a temp directory with its config and storage, and is
killed and removed on :meth:`Registry.stop`. :class:`RegistryPusher`
(:mod:`support.registry_push`) writes images into a registry by plain HTTP so tests
can craft exactly the manifests they need. :class:`ThrottleProxy` slows a registry
down for the tests that interrupt a pull midway; :func:`store_state` shows what an
engine's data-root holds.
"""

from __future__ import annotations

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from support.registry_push import (  # re-exported: tests import them from here
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    PushedImage,
    RegistryPusher,
    file_layer,
    sha256,
)
from support.token_server import ISSUER, SERVICE, TokenServer

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_LAYER_GZIP",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "ISSUER",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_ZSTD",
    "OCI_MANIFEST",
    "SERVICE",
    "PushedImage",
    "Registry",
    "RegistryPusher",
    "StoreState",
    "ThrottleProxy",
    "TokenServer",
    "api_pull",
    "file_layer",
    "free_port",
    "settled_store_state",
    "sha256",
    "store_state",
]

REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


# -- a slow path to a registry -----------------------------------------------------------
class ThrottleProxy:
    """A TCP proxy on loopback that limits registry→client bytes to ``rate`` B/s.

    Tests that must interrupt a pull midway point the engine at the proxy's port so
    the download reliably lasts long enough to be killed. :meth:`pause` holds every
    registry→client byte back until :meth:`resume`, so a test can act while a
    download is certainly still in progress, without guessing how long it lasts.
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
        self._open = threading.Event()  # cleared by pause(): throttled data waits
        self._open.set()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the proxy."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> ThrottleProxy:
        """Start accepting connections."""
        self._thread.start()
        return self

    def pause(self) -> None:
        """Hold back registry→client data (what is already sent stays sent)."""
        self._open.clear()

    def resume(self) -> None:
        """Let registry→client data flow again."""
        self._open.set()

    def stop(self) -> None:
        """Stop accepting; open connections die with their threads' sockets."""
        self._stop.set()
        self._open.set()  # a paused pipe must see the stop
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
                if throttled:
                    self._open.wait()
                    if self._stop.is_set():
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
