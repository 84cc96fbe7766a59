"""Real engines for the client's contract tests: Portside's own and, if installed, dockerd.

The same tests run against both (``real_engine`` is parametrized), which is how we
know the client speaks Docker's API and not merely Portside's reading of it.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", params=["portsided", "dockerd"])
def real_engine(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Each contract test runs once against portsided and once against dockerd."""
    if request.param == "portsided":
        engine = request.getfixturevalue("shared_engine")
        engine.name = "portsided"
        return engine
    return request.getfixturevalue("dockerd")
