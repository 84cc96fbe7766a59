"""An async OCI distribution client (httpx): ping, auth, manifests, blobs, uploads.

:class:`Transport` is shared by the whole engine: one connection pool per TLS setting,
the bearer-token cache, the challenges each registry answered its ``/v2/`` ping with,
and which endpoint (HTTPS or HTTP) worked for an insecure registry last time.
:class:`Repository` is one repository at one endpoint with one set of credentials;
every request goes through :meth:`Repository.send`, which authorizes it and, on a
401 carrying a new challenge (another scope, an expired token), authorizes again once.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import socket
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urljoin

import httpx

from .. import __version__
from ..errors import EngineError
from .auth import AuthConfig, Challenge, TokenCache, basic_header, fetch_token, parse_challenges
from .errors import DigestError, RegistryError, from_response
from .manifests import ACCEPT, MAX_MANIFEST_SIZE, detect_media_type
from .registries import Endpoint, RegistryConfig

USER_AGENT = f"portside/{__version__} (linux) docker-compatible"

# httpx logs every request at INFO and httpcore every socket step at DEBUG: a pull of
# a large image would drown the engine's own log (and cost time formatting lines).
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)
_CHALLENGE_TTL = 600.0
_PREFERRED_TTL = 600.0
_TIMEOUT = httpx.Timeout(connect=15.0, read=120.0, write=120.0, pool=120.0)


def _root_oserror(e: BaseException) -> OSError | None:
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno:
            return cur
        cur = cur.__cause__ or cur.__context__
    return None


_NO_SUCH_HOST = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


def _root_gaierror(e: BaseException) -> socket.gaierror | None:
    cur: BaseException | None = e
    seen = 0
    while cur is not None and seen < 10:
        if isinstance(cur, socket.gaierror):
            return cur
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return None


def describe_transport_error(method: str, url: str, e: Exception) -> str:
    """Go-style text for a failed request: ``Get "url": dial tcp host: connect: ...``."""
    verb = method.capitalize()
    host = httpx.URL(url).netloc.decode()
    root = _root_oserror(e)
    if isinstance(e, httpx.TimeoutException):
        return f'{verb} "{url}": net/http: request canceled (Client.Timeout exceeded)'
    if root is not None and root.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH):
        reason = os.strerror(root.errno).lower()
        if root.errno == errno.ECONNREFUSED:
            reason = "connection refused"
        return f'{verb} "{url}": dial tcp {host}: connect: {reason}'
    text = str(e) or type(e).__name__
    gai = _root_gaierror(e)
    if gai is not None:
        # Go's resolver wording ("no such host"), not Python's "[Errno -2] Name or service…".
        name = httpx.URL(url).host
        reason = "no such host" if gai.errno in _NO_SUCH_HOST else gai.strerror or str(gai)
        return f'{verb} "{url}": dial tcp: lookup {name}: {reason}'
    if "CERTIFICATE_VERIFY_FAILED" in text:
        # Go's wording, which users search for; Python's reason follows in brackets.
        why = text.split("certificate verify failed:")[-1].split("(_ssl")[0].strip()
        return (
            f'{verb} "{url}": tls: failed to verify certificate: x509: certificate signed '
            f"by unknown authority ({why})"
        )
    if "ssl" in text.lower() or "certificate" in text.lower():
        return f'{verb} "{url}": tls: {text}'
    return f'{verb} "{url}": {text}'


class Transport:
    """Shared HTTP state for every registry conversation of the engine."""

    def __init__(self, registries: RegistryConfig) -> None:
        self.registries = registries
        self.tokens = TokenCache()
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._challenges: dict[str, tuple[list[Challenge] | None, float]] = {}
        self._preferred: dict[str, tuple[Endpoint, float]] = {}

    def client(self, ep: Endpoint) -> httpx.AsyncClient:
        """The pooled client for an endpoint's TLS settings."""
        verify = self.registries.tls(ep)
        key = "plain" if verify is False else f"{ep.host}|{ep.verify_tls}"
        c = self._clients.get(key)
        if c is None:
            c = httpx.AsyncClient(
                verify=verify,
                timeout=_TIMEOUT,
                follow_redirects=True,
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            )
            self._clients[key] = c
        return c

    async def aclose(self) -> None:
        """Close every pool."""
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()

    async def endpoints(self, domain: str, push: bool = False) -> list[Endpoint]:
        """Endpoints for ``domain``, the one that worked recently first."""
        eps = await self.registries.endpoints(domain, push)
        pref = self._preferred.get(domain)
        if pref and pref[1] > time.monotonic() and pref[0] in eps:
            eps.remove(pref[0])
            eps.insert(0, pref[0])
        return eps

    def remember(self, domain: str, ep: Endpoint) -> None:
        """Try ``ep`` first next time (saves a failed TLS handshake per pull)."""
        if not ep.mirror:
            self._preferred[domain] = (ep, time.monotonic() + _PREFERRED_TTL)

    async def ping(self, ep: Endpoint, fresh: bool = False) -> list[Challenge] | None:
        """``GET /v2/``: None when no auth is needed, else the challenges.

        Raises RegistryError for anything but 200/401, and lets httpx transport errors
        through so the caller can fall back to the next endpoint.
        """
        cached = self._challenges.get(ep.base)
        if cached and not fresh and cached[1] > time.monotonic():
            return cached[0]
        url = ep.base + "/v2/"
        resp = await self.client(ep).get(url)
        if resp.status_code == 200:
            challenges = None
        elif resp.status_code == 401:
            challenges = parse_challenges(resp.headers.get("www-authenticate", ""))
        else:
            raise RegistryError(
                f'Get "{url}": ' + from_response(resp.status_code, resp.content).message,
                http_status=resp.status_code,
            )
        self._challenges[ep.base] = (challenges, time.monotonic() + _CHALLENGE_TTL)
        return challenges


class Repository:
    """One repository on one endpoint, with credentials and the actions needed."""

    def __init__(
        self,
        transport: Transport,
        ep: Endpoint,
        path: str,
        auth: AuthConfig,
        actions: tuple[str, ...] = ("pull",),
    ) -> None:
        self.transport = transport
        self.ep = ep
        self.path = path
        self.auth = auth
        self.actions = actions
        self.extra_scopes: list[str] = []

    @property
    def client(self) -> httpx.AsyncClient:
        """The pooled httpx client."""
        return self.transport.client(self.ep)

    def url(self, suffix: str) -> str:
        """Absolute URL of ``/v2/<path>/<suffix>``."""
        return f"{self.ep.base}/v2/{self.path}/{suffix}"

    def scopes(self) -> list[str]:
        """Token scopes this session needs."""
        return [f"repository:{self.path}:{','.join(self.actions)}", *self.extra_scopes]

    async def _authorization(self, challenges: list[Challenge] | None, force: bool) -> str | None:
        if not challenges:
            return None
        for ch in challenges:
            if ch.scheme == "bearer":
                scopes = self.scopes()
                key = (
                    ch.params.get("realm", ""),
                    ch.params.get("service", ""),
                    frozenset(scopes),
                    self.auth.cache_key(),
                )
                token = None if force else self.transport.tokens.get(key)
                if token is None:
                    self.transport.tokens.fetches += 1
                    token, ttl, _ = await fetch_token(self.client, ch, scopes, self.auth)
                    self.transport.tokens.put(key, token, ttl)
                return "Bearer " + token
        for ch in challenges:
            if ch.scheme == "basic" and not self.auth.empty:
                return basic_header(self.auth)
        return None

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Authorized request; a streamed response must be closed by the caller."""
        try:
            challenges = await self.transport.ping(self.ep)
        except httpx.TransportError as e:
            raise RegistryError(describe_transport_error("GET", self.ep.base + "/v2/", e)) from None
        hdrs = dict(headers or {})
        force = False
        for attempt in range(2):
            try:
                authz = await self._authorization(challenges, force)
            except RegistryError as e:
                raise RegistryError(
                    f'{method.capitalize()} "{url}": {e.message}', e.code, e.http_status
                ) from None
            except httpx.TransportError as e:
                raise RegistryError(describe_transport_error("GET", url, e)) from None
            if authz:
                hdrs["Authorization"] = authz
            elif challenges and any(c.scheme == "basic" for c in challenges):
                raise RegistryError(
                    f'{method.capitalize()} "{url}": no basic auth credentials', "", 401
                )
            req = self.client.build_request(method, url, headers=hdrs, content=content)
            try:
                resp = await self.client.send(req, stream=stream)
            except httpx.TransportError as e:
                raise RegistryError(describe_transport_error(method, url, e)) from None
            if resp.status_code != 401 or attempt == 1:
                return resp
            new = parse_challenges(resp.headers.get("www-authenticate", ""))
            bearer = next((c for c in new if c.scheme == "bearer"), None)
            if bearer is None:
                return resp
            # A fresh challenge (new realm, or our token expired/was revoked): once more.
            await resp.aclose()
            challenges, force = new, True
        raise AssertionError("unreachable")

    async def check(self, resp: httpx.Response, *ok: int) -> httpx.Response:
        """Raise the registry's error unless the status is one of ``ok``."""
        if resp.status_code in ok:
            return resp
        body = await resp.aread()
        raise from_response(resp.status_code, body, resp.headers.get("www-authenticate", ""))

    # -- manifests -----------------------------------------------------------------------
    async def get_manifest(self, ref: str) -> tuple[bytes, str, str]:
        """GET a manifest by tag or digest; returns (body, media type, digest).

        A manifest fetched by digest must hash to it; one fetched by tag is identified
        by the sha256 of its bytes (the registry's header is not trusted).
        """
        resp = await self.send(
            "GET", self.url(f"manifests/{ref}"), headers={"Accept": ACCEPT}, stream=True
        )
        try:
            await self.check(resp, 200)
            length = int(resp.headers.get("content-length") or 0)
            if length > MAX_MANIFEST_SIZE:
                raise RegistryError(f"manifest {ref} is too large ({length} bytes)")
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_MANIFEST_SIZE:
                    raise RegistryError(f"manifest {ref} is too large")
        finally:
            await resp.aclose()
        raw = bytes(body)
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if ref.startswith("sha256:") and digest != ref:
            raise DigestError(f"manifest verification failed for digest {ref}")
        return raw, detect_media_type(raw, resp.headers.get("content-type", "")), digest

    async def put_manifest(self, ref: str, body: bytes, media_type: str) -> str:
        """PUT a manifest; returns its digest."""
        resp = await self.send(
            "PUT", self.url(f"manifests/{ref}"), headers={"Content-Type": media_type}, content=body
        )
        await self.check(resp, 200, 201, 202)
        return "sha256:" + hashlib.sha256(body).hexdigest()

    async def list_tags(self) -> list[str]:
        """``GET /tags/list`` (following ``Link`` pagination)."""
        tags: list[str] = []
        url: str | None = self.url("tags/list")
        while url:
            resp = await self.send("GET", url)
            await self.check(resp, 200)
            doc = resp.json()
            tags += [t for t in (doc.get("tags") or []) if isinstance(t, str)]
            link = resp.headers.get("link", "")
            url = None
            if 'rel="next"' in link and "<" in link:
                url = urljoin(self.ep.base + "/", link[link.index("<") + 1 : link.index(">")])
        return tags

    # -- blobs ---------------------------------------------------------------------------
    @asynccontextmanager
    async def open_blob(self, digest: str) -> AsyncIterator[httpx.Response]:
        """A streamed ``GET /blobs/<digest>`` response (closed on exit)."""
        resp = await self.send("GET", self.url(f"blobs/{digest}"), stream=True)
        try:
            await self.check(resp, 200)
            yield resp
        finally:
            await resp.aclose()

    async def get_blob(self, digest: str, size: int, limit: int) -> bytes:
        """A small blob (a config) fully in memory, verified against its digest."""
        if size > limit:
            raise RegistryError(f"blob {digest} is too large ({size} bytes)")
        async with self.open_blob(digest) as resp:
            data = bytearray()
            async for chunk in resp.aiter_raw():
                data += chunk
                if len(data) > limit:
                    raise RegistryError(f"blob {digest} is too large")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise DigestError(f"Digest did not match, expected {digest}")
        return bytes(data)

    async def blob_exists(self, digest: str) -> int | None:
        """HEAD a blob: its size, or None when the repository does not have it."""
        resp = await self.send("HEAD", self.url(f"blobs/{digest}"))
        if resp.status_code == 404:
            return None
        await self.check(resp, 200)
        return int(resp.headers.get("content-length") or 0)

    def _location(self, resp: httpx.Response) -> str:
        loc = resp.headers.get("location")
        if not loc:
            raise RegistryError("registry sent no upload location")
        return urljoin(self.ep.base + "/", loc)

    async def mount_blob(self, digest: str, from_repo: str) -> str | None:
        """Cross-repository mount; returns an upload URL when the registry declined."""
        resp = await self.send(
            "POST", self.url(f"blobs/uploads/?mount={digest}&from={from_repo}"), content=b""
        )
        if resp.status_code == 201:
            return None
        await self.check(resp, 202)
        return self._location(resp)

    async def start_upload(self) -> str:
        """``POST /blobs/uploads/``; returns the upload URL."""
        resp = await self.send("POST", self.url("blobs/uploads/"), content=b"")
        await self.check(resp, 202)
        return self._location(resp)

    async def upload_chunk(self, location: str, data: bytes, offset: int) -> str:
        """``PATCH`` one chunk at ``offset``; returns the next upload URL."""
        resp = await self.send(
            "PATCH",
            location,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(data) - 1}",
            },
            content=data,
        )
        await self.check(resp, 202)
        return self._location(resp)

    async def finish_upload(self, location: str, digest: str, data: bytes = b"") -> None:
        """``PUT ?digest=`` (with the whole blob for a monolithic upload)."""
        sep = "&" if "?" in location else "?"
        resp = await self.send(
            "PUT",
            f"{location}{sep}digest={digest}",
            headers={"Content-Type": "application/octet-stream"},
            content=data,
        )
        await self.check(resp, 201, 204)


async def sessions(
    transport: Transport,
    domain: str,
    path: str,
    auth: AuthConfig,
    actions: tuple[str, ...],
    push: bool = False,
) -> AsyncGenerator[Repository, None]:
    """A session per endpoint that answers its ping, best first (mirrors, then the
    registry; HTTPS, then HTTP for insecure registries).

    The caller stops iterating at the first endpoint that serves it. Endpoints that
    cannot be reached are skipped; when none answers, the last error is raised.
    """
    last: EngineError | None = None
    yielded = False
    for ep in await transport.endpoints(domain, push):
        try:
            await transport.ping(ep)
        except httpx.TransportError as e:
            last = RegistryError(describe_transport_error("GET", ep.base + "/v2/", e))
            continue
        except RegistryError as e:
            last = e
            continue
        transport.remember(domain, ep)
        yielded = True
        yield Repository(transport, ep, path, auth, actions)
    if not yielded:
        raise last or RegistryError(f"no endpoint for {domain}")


def fallback_ok(e: BaseException) -> bool:
    """Whether a failure on one endpoint lets the next one (a mirror's registry) try."""
    return isinstance(e, (RegistryError, httpx.TransportError, asyncio.TimeoutError))


async def first_session(
    transport: Transport,
    domain: str,
    path: str,
    auth: AuthConfig,
    actions: tuple[str, ...],
    push: bool = False,
) -> Repository:
    """The first endpoint of :func:`sessions` that answers."""
    gen = sessions(transport, domain, path, auth, actions, push)
    try:
        return await anext(gen)
    finally:
        await gen.aclose()
