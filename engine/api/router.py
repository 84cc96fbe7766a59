"""Route registration under both unversioned and ``/v1.NN/`` paths, with version checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from .. import API_VERSION, MIN_API_VERSION
from ..errors import InvalidParameter

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _as_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def check_version(request: web.Request) -> None:
    """Refuse API versions outside [MIN_API_VERSION, API_VERSION] like dockerd does."""
    v = request.match_info.get("api_version")
    if v is None:
        return
    try:
        t = _as_tuple(v)
    except ValueError:
        raise InvalidParameter(f"invalid API version {v!r}") from None
    if t > _as_tuple(API_VERSION):
        raise InvalidParameter(
            f"client version {v} is too new. Maximum supported API version is {API_VERSION}"
        )
    if t < _as_tuple(MIN_API_VERSION):
        raise InvalidParameter(
            f"client version {v} is too old. Minimum supported API version is "
            f"{MIN_API_VERSION}, please upgrade your client to a newer version"
        )


def api_version(request: web.Request) -> tuple[int, ...]:
    """The API version the client asked for (the newest when unversioned)."""
    v = request.match_info.get("api_version")
    return _as_tuple(v) if v else _as_tuple(API_VERSION)


class Router:
    """Adds each route twice: ``/path`` and ``/v{version}/path``."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def add(self, method: str, path: str, handler: Handler) -> None:
        """Register ``handler`` for ``method path`` under both prefixes."""
        self.app.router.add_route(method, path, handler)
        self.app.router.add_route(method, r"/v{api_version:[0-9]+\.[0-9]+}" + path, handler)

    def get(self, path: str, handler: Handler) -> None:
        """GET (aiohttp adds HEAD for GET routes)."""
        self.add("GET", path, handler)

    def post(self, path: str, handler: Handler) -> None:
        """POST."""
        self.add("POST", path, handler)

    def put(self, path: str, handler: Handler) -> None:
        """PUT."""
        self.add("PUT", path, handler)

    def delete(self, path: str, handler: Handler) -> None:
        """DELETE."""
        self.add("DELETE", path, handler)

    def head(self, path: str, handler: Handler) -> None:
        """HEAD."""
        self.add("HEAD", path, handler)
