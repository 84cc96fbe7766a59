"""Registry credentials and the two ways of presenting them: Basic and Bearer tokens.

Clients send credentials in ``X-Registry-Auth``: base64url (padding optional) of
``{"username", "password", "serveraddress", "identitytoken", ...}``, as the docker CLI
and docker-py encode it. Bearer tokens come from the realm named in the registry's
``WWW-Authenticate`` challenge and are cached per (realm, service, scopes, identity)
until shortly before they expire.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter
from .errors import RegistryError, from_response

if TYPE_CHECKING:  # the client is handed in; this module must not load httpx at start
    import httpx

CLIENT_ID = "docker"
_EXPIRY_MARGIN = 5.0
_DEFAULT_EXPIRY = 60.0


@dataclass(frozen=True)
class AuthConfig:
    """Credentials for one registry (all fields optional)."""

    username: str = ""
    password: str = ""
    serveraddress: str = ""
    identitytoken: str = ""
    registrytoken: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuthConfig:
        """From the JSON the CLI sends (``auth`` = base64 ``user:password`` also accepted)."""
        username = str(d.get("username") or d.get("Username") or "")
        password = str(d.get("password") or d.get("Password") or "")
        raw_auth = str(d.get("auth") or d.get("Auth") or "")
        if raw_auth and not username:
            try:
                username, _, password = base64.b64decode(raw_auth).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise InvalidParameter("invalid auth field in registry credentials") from None
        return cls(
            username=username,
            password=password,
            serveraddress=str(d.get("serveraddress") or d.get("ServerAddress") or ""),
            identitytoken=str(d.get("identitytoken") or d.get("IdentityToken") or ""),
            registrytoken=str(d.get("registrytoken") or d.get("RegistryToken") or ""),
        )

    @property
    def empty(self) -> bool:
        """No credentials at all (anonymous)."""
        return not (self.username or self.password or self.identitytoken or self.registrytoken)

    def cache_key(self) -> str:
        """Identity for the token cache (never the password itself in clear)."""
        import hashlib

        raw = f"{self.username}\0{self.password}\0{self.identitytoken}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]


def decode_registry_auth(header: str | None) -> AuthConfig:
    """``X-Registry-Auth`` → credentials; absent or ``{}`` means anonymous."""
    if not header or not header.strip():
        return AuthConfig()
    raw = header.strip()
    data = None
    for decoder in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            data = decoder(raw + "=" * (-len(raw) % 4))
            break
        except (binascii.Error, ValueError):
            continue
    if data is None:
        raise InvalidParameter("invalid X-Registry-Auth header: illegal base64 data")
    try:
        doc = json.loads(data or b"{}")
    except ValueError as e:
        raise InvalidParameter(f"invalid X-Registry-Auth header: {e}") from None
    if doc is None:
        return AuthConfig()
    if not isinstance(doc, dict):
        raise InvalidParameter("invalid X-Registry-Auth header: not a JSON object")
    return AuthConfig.from_dict(doc)


@dataclass
class Challenge:
    """One ``WWW-Authenticate`` challenge: scheme (lower case) and parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM_RE = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|{_TOKEN})\s*,?')
_SCHEME_RE = re.compile(rf"\s*({_TOKEN})(?:\s+|$)")


def parse_challenges(header: str) -> list[Challenge]:
    """Parse ``Bearer realm="...",service="...",scope="..."`` (several allowed)."""
    out: list[Challenge] = []
    pos = 0
    while pos < len(header):
        m = _SCHEME_RE.match(header, pos)
        if not m:
            break
        ch = Challenge(m.group(1).lower())
        pos = m.end()
        while pos < len(header):
            pm = _PARAM_RE.match(header, pos)
            if not pm:
                break
            # A token followed by '=' might be the next challenge's scheme: params
            # always have '=', schemes never do, so the regex already tells them apart.
            value = pm.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            ch.params[pm.group(1).lower()] = value
            pos = pm.end()
        out.append(ch)
        while pos < len(header) and header[pos] in ", ":
            pos += 1
    return out


class TokenCache:
    """Bearer tokens per (realm, service, scopes, identity), dropped before expiry."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, frozenset[str], str], tuple[str, float]] = {}
        self.fetches = 0  # for tests and diagnostics: how many tokens were requested

    def get(self, key: tuple[str, str, frozenset[str], str]) -> str | None:
        """A cached, still valid token."""
        hit = self._tokens.get(key)
        if hit and hit[1] - _EXPIRY_MARGIN > time.monotonic():
            return hit[0]
        self._tokens.pop(key, None)
        return None

    def put(self, key: tuple[str, str, frozenset[str], str], token: str, expires_in: float) -> None:
        """Remember a token."""
        self._tokens[key] = (token, time.monotonic() + expires_in)


async def fetch_token(
    client: httpx.AsyncClient,
    challenge: Challenge,
    scopes: list[str],
    auth: AuthConfig,
) -> tuple[str, float, str]:
    """Get a bearer token from the challenge's realm; returns (token, ttl, refresh).

    With an identity token (from an earlier ``docker login``) the OAuth2 refresh-token
    POST is used, falling back to GET when the server does not offer it; otherwise a
    GET, with Basic credentials when we have them.
    """
    realm = challenge.params.get("realm", "")
    if not realm.startswith(("http://", "https://")):
        raise RegistryError(f"invalid bearer challenge: bad realm {realm!r}")
    service = challenge.params.get("service", "")
    if auth.registrytoken:
        return auth.registrytoken, _DEFAULT_EXPIRY, ""
    if auth.identitytoken:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": auth.identitytoken,
            "client_id": CLIENT_ID,
            "access_type": "offline",
        }
        if service:
            form["service"] = service
        if scopes:
            form["scope"] = " ".join(scopes)
        resp = await client.post(realm, data=form)
        if resp.status_code not in (404, 405):
            return _token_from(resp, realm)
    params: list[tuple[str, str | int | float | bool | None]] = []
    if service:
        params.append(("service", service))
    params += [("scope", s) for s in scopes]
    basic = None
    if auth.username or auth.password:
        basic = (auth.username, auth.password)
        params += [("account", auth.username), ("client_id", CLIENT_ID)]
        params.append(("offline_token", "true"))
    resp = await client.get(realm, params=params, auth=basic)
    return _token_from(resp, realm)


def _token_from(resp: httpx.Response, realm: str) -> tuple[str, float, str]:
    if resp.status_code != 200:
        raise from_response(resp.status_code, resp.content, "")
    try:
        doc = resp.json()
    except ValueError:
        raise RegistryError(f"token server {realm} sent a malformed answer") from None
    token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
    if not isinstance(token, str) or not token:
        raise RegistryError(f"token server {realm} sent no token")
    try:
        ttl = float(doc.get("expires_in") or _DEFAULT_EXPIRY)
    except (TypeError, ValueError):
        ttl = _DEFAULT_EXPIRY
    return token, max(ttl, _EXPIRY_MARGIN * 2), str(doc.get("refresh_token") or "")


def basic_header(auth: AuthConfig) -> str:
    """``Basic base64(user:password)``."""
    raw = f"{auth.username}:{auth.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()
