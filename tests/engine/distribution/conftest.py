"""Registry fixtures for the distribution tests (real ``docker-registry`` processes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.registry import Registry


def _registry(**kw: object) -> Iterator[Registry]:
    reg = Registry(**kw)  # type: ignore[arg-type]
    try:
        reg.start()
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def registry() -> Iterator[Registry]:
    """An anonymous registry on 127.0.0.1 (plain HTTP, insecure by default)."""
    yield from _registry()


@pytest.fixture
def basic_registry() -> Iterator[Registry]:
    """A registry with htpasswd (bcrypt) basic auth."""
    yield from _registry(auth="basic")


@pytest.fixture
def token_registry() -> Iterator[Registry]:
    """A registry with token auth served by the tests' token server."""
    yield from _registry(auth="token")


@pytest.fixture(scope="module")
def shared_registry() -> Iterator[Registry]:
    """One anonymous registry for a module's tests."""
    yield from _registry()
