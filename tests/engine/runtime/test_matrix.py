"""The test runtime matrix: every runtime the host can run, or the ones named in
PORTSIDE_TEST_RUNTIMES (a named one the host cannot run is kept, so its tests fail)."""

from __future__ import annotations

import pytest
from support import runtimes


@pytest.fixture
def crun_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtimes, "crun_hybrid_problem", lambda: "crun 1.8 refuses (hugetlb)")


def test_both_where_both_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTSIDE_TEST_RUNTIMES", raising=False)
    monkeypatch.setattr(runtimes, "crun_hybrid_problem", lambda: None)
    m = runtimes.runtime_matrix()
    assert m.runtimes == ("crun", "runc") and m.problems == {}
    assert m.header() == "runtime matrix: crun, runc"


def test_runc_alone_where_crun_is_refused(
    monkeypatch: pytest.MonkeyPatch, crun_refused: None
) -> None:
    monkeypatch.delenv("PORTSIDE_TEST_RUNTIMES", raising=False)
    m = runtimes.runtime_matrix()
    assert m.runtimes == ("runc",)
    assert m.header() == "runtime matrix: runc; crun left out: crun 1.8 refuses (hugetlb)"


def test_named_runtimes_are_kept_even_when_they_cannot_run(
    monkeypatch: pytest.MonkeyPatch, crun_refused: None
) -> None:
    monkeypatch.setenv("PORTSIDE_TEST_RUNTIMES", "crun, runc,nope")
    m = runtimes.runtime_matrix()
    assert m.runtimes == ("crun", "runc", "nope")
    assert set(m.problems) == {"crun", "nope"}
    assert "crun FAILS: crun 1.8 refuses" in m.header()
    assert "nope FAILS: unknown runtime (known: crun, runc)" in m.header()


def test_no_usable_runtime_keeps_both_so_their_tests_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PORTSIDE_TEST_RUNTIMES", raising=False)
    monkeypatch.setattr(runtimes.shutil, "which", lambda name: None)
    m = runtimes.runtime_matrix()
    assert m.runtimes == ("crun", "runc") and set(m.problems) == {"crun", "runc"}
