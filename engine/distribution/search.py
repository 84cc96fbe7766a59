"""``docker search``: the v1 search API of an index (Docker Hub's shape).

A term may name its registry (``myregistry:5000/foo``); otherwise the Docker Hub
index is asked, or the daemon config's ``index-server`` when set (how tests point
search at a fake index on loopback, Hub being unreachable).
"""

from __future__ import annotations

from typing import Any

import httpx

from ..conventions import check_filters, filter_bool
from ..errors import InvalidParameter
from ..images.reference import DEFAULT_DOMAIN, LEGACY_DOMAIN
from .auth import AuthConfig, basic_header
from .client import Transport, describe_transport_error
from .errors import RegistryError, from_response
from .registries import Endpoint

_FILTERS = {"stars", "is-official", "is-automated"}


def _check_filters(filters: dict[str, list[str]]) -> tuple[int, bool | None, bool | None]:
    check_filters(filters, _FILTERS)
    stars = 0
    for v in filters.get("stars", []):
        try:
            stars = max(stars, int(v))
        except ValueError:
            raise InvalidParameter(f"invalid filter 'stars={v}'") from None
    official = None
    for v in filters.get("is-official", []):
        official = filter_bool("is-official", v)
    automated = None
    for v in filters.get("is-automated", []):
        automated = filter_bool("is-automated", v)
    return stars, official, automated


def split_term(term: str) -> tuple[str | None, str]:
    """(registry host or None for the default index, remote term)."""
    i = term.find("/")
    if i > 0:
        first = term[:i]
        if ("." in first or ":" in first or first == "localhost") and first not in (
            DEFAULT_DOMAIN,
            LEGACY_DOMAIN,
        ):
            return first, term[i + 1 :]
        if first in (DEFAULT_DOMAIN, LEGACY_DOMAIN):
            return None, term[i + 1 :]
    return None, term


async def search(
    transport: Transport,
    term: str,
    limit: int | None,
    filters: dict[str, list[str]],
    auth: AuthConfig,
) -> list[dict[str, Any]]:
    """Results as ``GET /images/search`` returns them."""
    if not term:
        raise InvalidParameter("term is required")
    if limit is None:
        limit = 25
    if limit < 1 or limit > 100:
        raise InvalidParameter(f"limit {limit} is outside the range of [1, 100]")
    stars, official, automated = _check_filters(filters)
    host, remote = split_term(term)
    if host is None:
        base = transport.registries.index_server.rstrip("/")
        if base.endswith("/v1"):
            base = base[: -len("/v1")]
        scheme, _, rest = base.partition("://")
        eps = [Endpoint(rest, scheme, True)]
    else:
        eps = await transport.registries.endpoints(host, push=True)
    headers = {}
    if not auth.empty and auth.username:
        headers["Authorization"] = basic_header(auth)
    last: Exception | None = None
    for ep in eps:
        url = f"{ep.base}/v1/search"
        try:
            resp = await transport.client(ep).get(
                url, params={"q": remote, "n": str(limit)}, headers=headers
            )
        except httpx.TransportError as e:
            last = RegistryError(describe_transport_error("GET", url, e))
            continue
        if resp.status_code != 200:
            raise from_response(resp.status_code, resp.content)
        return _filter(resp.json(), limit, stars, official, automated)
    raise last or RegistryError("no search endpoint")


def _filter(
    doc: Any, limit: int, stars: int, official: bool | None, automated: bool | None
) -> list[dict[str, Any]]:
    results = doc.get("results") if isinstance(doc, dict) else None
    out: list[dict[str, Any]] = []
    for r in results or []:
        if not isinstance(r, dict):
            continue
        count = int(r.get("star_count") or 0)
        is_official = bool(r.get("is_official"))
        is_automated = bool(r.get("is_automated"))
        if count < stars:
            continue
        if official is not None and is_official != official:
            continue
        if automated is not None and is_automated != automated:
            continue
        entry = {
            "star_count": count,
            "is_official": is_official,
            "name": str(r.get("name") or ""),
            "is_automated": is_automated,
            "description": str(r.get("description") or ""),
        }
        out.append(entry)
    return out[:limit]
