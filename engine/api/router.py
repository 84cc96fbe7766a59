"""Docker's versioned paths: every route answers under ``/path`` and ``/v1.NN/path``."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable

from .. import API_VERSION, MIN_API_VERSION
from ..errors import InvalidParameter
from .web import Request, RouteTable, StreamResponse

Handler = Callable[[Request], Awaitable[StreamResponse | None]]

_VERSIONED = re.compile(r"/v([0-9]+\.[0-9]+)(/.*)\Z", re.DOTALL)


@functools.lru_cache(maxsize=64)
def _as_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def split_version(path: str) -> tuple[str | None, str]:
    """``/v1.47/containers/json`` → ``("1.47", "/containers/json")``."""
    m = _VERSIONED.match(path)
    return (m.group(1), m.group(2)) if m else (None, path)


def check_version(request: Request) -> None:
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


def api_version(request: Request) -> tuple[int, ...]:
    """The API version the client asked for (the newest when unversioned)."""
    v = request.match_info.get("api_version")
    return _as_tuple(v) if v else _as_tuple(API_VERSION)


class Router:
    """What route modules register with; paths are given without the version prefix."""

    def __init__(self, table: RouteTable) -> None:
        self.table = table

    def add(self, method: str, path: str, handler: Handler, *, at_once: bool = False) -> None:
        """Register ``handler`` for ``method path``; ``at_once``: see ``web.Route``."""
        self.table.add(method, path, handler, at_once=at_once)

    def get(self, path: str, handler: Handler, *, at_once: bool = False) -> None:
        """GET (HEAD too, unless a HEAD route is registered for the path)."""
        self.add("GET", path, handler, at_once=at_once)

    def post(self, path: str, handler: Handler) -> None:
        """POST."""
        self.add("POST", path, handler)

    def put(self, path: str, handler: Handler) -> None:
        """PUT."""
        self.add("PUT", path, handler)

    def delete(self, path: str, handler: Handler) -> None:
        """DELETE."""
        self.add("DELETE", path, handler)

    def head(self, path: str, handler: Handler, *, at_once: bool = False) -> None:
        """HEAD."""
        self.add("HEAD", path, handler, at_once=at_once)
