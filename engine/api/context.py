"""Where routes find the Engine they serve."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .web import Request

if TYPE_CHECKING:
    from ..engine import Engine
    from .cached import CachedAnswers


def engine_of(request: Request) -> Engine:
    """The Engine serving this request (the API application is the request's app)."""
    engine: Engine = request.app.engine
    return engine


def answers_of(request: Request) -> CachedAnswers:
    """The API application's kept answers (lists, inspections)."""
    answers: CachedAnswers = request.app.answers
    return answers
