"""Encoded answers of the lists and inspections, kept while nothing they show changed.

Under many polling clients ``GET /containers/json`` and its kin are asked for far more
often than containers, images, networks or volumes change: building and encoding the
same document for every request was a third of what the engine spent under load. An
answer is kept with the change counter (:mod:`..changes`) it was built at and reused
only while the counter reads the same, the wall clock has not gone back and its own
time limit has not passed: what reads with time (``Up 3 seconds``) is kept only until
it would read otherwise, so a kept answer is the bytes a fresh build would give.

The key is the request's target as sent — path (API version included) and query —
so every filter and ``all``/``limit``/``size`` spelling has its own entry. Errors are
never kept: a bad query misses and fails as it always did. Bounded in entries and in
bytes; an answer larger than a quarter of the budget is not kept at all.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .. import changes
from ..conventions import JSON
from . import web

# However current an answer looks, it is built again after this long: a change that
# slipped past the counter (a dict changed in place and neither saved nor announced) shows
# at most this late — within the second that ``docker ps`` counts in. Under load it costs
# one build per kept target per second.
MAX_AGE = 1.0
MAX_ENTRIES = 128
MAX_BYTES = 4 << 20

# What a build gives: the document and the wall-clock time until which it reads the same
# (math.inf: nothing in it moves with time).
Built = tuple[Any, float]


@dataclass(slots=True)
class _Kept:
    generation: int
    built_at: float
    valid_until: float
    body: bytes


class CachedAnswers:
    """Kept encoded answers by request target."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, _Kept] = OrderedDict()
        self._bytes = 0
        self.hits = 0  # counted for measurements (docs/performance.md)
        self.misses = 0

    def get(self, key: str) -> bytes | None:
        """The kept answer for ``key`` if it is still current."""
        kept = self._entries.get(key)
        if kept is None:
            self.misses += 1
            return None
        now = time.time()
        if (
            kept.generation != changes.current()
            or not kept.built_at <= now < kept.valid_until
            or now - kept.built_at >= MAX_AGE
        ):
            self._drop(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return kept.body

    def put(
        self, key: str, generation: int, built_at: float, valid_until: float, body: bytes
    ) -> None:
        """Keep ``body``, built from what was there at ``generation``/``built_at``."""
        if len(body) > self._max_bytes // 4 or generation != changes.current():
            return  # too big to keep, or something changed while it was built
        self._drop(key)
        self._entries[key] = _Kept(generation, built_at, valid_until, body)
        self._bytes += len(body)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            _, old = self._entries.popitem(last=False)
            self._bytes -= len(old.body)

    def _drop(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)


def encode(data: Any) -> bytes:
    """Docker's compact JSON encoding of an answer."""
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


async def answer(
    cache: CachedAnswers, request: web.Request, build: Callable[[float], Awaitable[Built]]
) -> web.Response:
    """A 200 JSON answer for ``request``: the kept one when current, else ``build(now)``'s
    document, kept for the next request. ``build`` gets the wall-clock time it is built at
    (what ``Up …`` strings are counted from) and gives the document and when it stops
    reading the same."""
    key = request.target
    body = cache.get(key)
    if body is None:
        generation = changes.current()
        now = time.time()
        data, valid_until = await build(now)
        body = encode(data)
        cache.put(key, generation, now, valid_until, body)
    return web.Response(body=body, status=200, content_type=JSON)


def timeless(data: Any) -> Built:
    """What a build gives for a document with nothing in it that moves with time."""
    return data, math.inf
