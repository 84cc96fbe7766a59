"""Path templates (``/containers/{id}/json``, ``/images/{name:.+}/push``) to handlers.

Routes are tried in the order they were added; the first whose template matches the
path and whose method matches wins. A path that matches only with other methods is a
405; no match at all is a 404. HEAD is answered by a GET route unless a HEAD route
exists for the path.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .errors import MethodNotAllowed, NotFound

_PLACEHOLDER = re.compile(r"\{(\w+)(?::([^{}]+))?\}")

Handler = Callable[[Any], Awaitable[Any]]


def compile_template(template: str) -> re.Pattern[str]:
    """``/a/{x}/{y:.+}`` → a regex with named groups (``{x}`` stops at ``/``)."""
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(template):
        out.append(re.escape(template[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>{m.group(2) or '[^/]+'})")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out) + r"\Z")


@dataclass(frozen=True)
class Route:
    """One method + template → handler.

    ``at_once``: the handler may run its first step outside any task (see
    :mod:`.connection`'s simple path) — it uses no ``asyncio.timeout``, ``TaskGroup``,
    ``current_task()`` or anyio (httpx) before its first wait.
    """

    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    at_once: bool = False


def _first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") else ""


def _literal_first_segment(template: str) -> str | None:
    """The template's first path segment when it is plain text (None: it has a
    placeholder, so the route may match any first segment)."""
    first = _first_segment(template)
    return None if "{" in first or not template.startswith("/") else first


class RouteTable:
    """The application's routes."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        # Routes that can match a path with a given first segment, in the order they
        # were added: a request tries a handful of patterns instead of every route.
        self._by_segment: dict[str, list[Route]] = {}

    def add(self, method: str, template: str, handler: Handler, *, at_once: bool = False) -> None:
        """Register ``handler`` for ``method template``."""
        self.routes.append(
            Route(method.upper(), template, compile_template(template), handler, at_once)
        )
        self._by_segment.clear()

    def _candidates(self, path: str) -> list[Route]:
        segment = _first_segment(path)
        routes = self._by_segment.get(segment)
        if routes is None:
            routes = [
                r for r in self.routes if _literal_first_segment(r.template) in (None, segment)
            ]
            if len(self._by_segment) < 256:  # first segments come from clients: bounded
                self._by_segment[segment] = routes
        return routes

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler and path parameters for a request; NotFound / MethodNotAllowed."""
        route, params = self.match(method, path)
        return route.handler, params

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route and path parameters for a request; NotFound / MethodNotAllowed."""
        fallback: tuple[Route, dict[str, str]] | None = None
        path_matched = False
        for route in self._candidates(path):
            m = route.pattern.match(path)
            if m is None:
                continue
            path_matched = True
            if route.method == method:
                return route, m.groupdict()
            if method == "HEAD" and route.method == "GET" and fallback is None:
                fallback = route, m.groupdict()
        if fallback is not None:
            return fallback
        if path_matched:
            raise MethodNotAllowed(f"method {method} not allowed for {path}")
        raise NotFound("page not found")
