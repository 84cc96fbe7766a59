"""Kept answers (api/cached.py) are reused only while nothing moved: the change counter,
the wall clock, their own time limit and size bounds; ``Up …`` strings are kept exactly
as long as they read the same."""

from __future__ import annotations

import math

import pytest
from portside.engine import changes
from portside.engine.api import cached
from portside.engine.api.cached import MAX_AGE, CachedAnswers
from portside.engine.containers import views
from portside.engine.containers.model import EXITED, RESTARTING, RUNNING, Container, State
from portside.engine.conventions import format_rfc3339


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock(1_700_000_000.0)
    monkeypatch.setattr(cached.time, "time", c)
    return c


def _keep(answers: CachedAnswers, key: str, body: bytes, until: float, now: float) -> None:
    answers.put(key, changes.current(), now, until, body)


def test_a_kept_answer_is_reused_until_anything_changes(clock: Clock) -> None:
    answers = CachedAnswers()
    _keep(answers, "/containers/json", b"[]\n", math.inf, clock.now)
    assert answers.get("/containers/json") == b"[]\n"
    changes.bump()
    assert answers.get("/containers/json") is None
    assert answers.get("/containers/json") is None  # dropped, not kept for later


def test_an_answer_built_while_something_changed_is_not_kept(clock: Clock) -> None:
    answers = CachedAnswers()
    generation = changes.current()
    changes.bump()  # a change lands while the answer is being built
    answers.put("/volumes", generation, clock.now, math.inf, b"{}\n")
    assert answers.get("/volumes") is None


def test_time_limits(clock: Clock) -> None:
    answers = CachedAnswers()
    _keep(answers, "a", b"1", clock.now + 0.5, clock.now)
    clock.now += 0.499
    assert answers.get("a") == b"1"
    clock.now += 0.001  # the moment its text would read otherwise
    assert answers.get("a") is None
    _keep(answers, "b", b"2", math.inf, clock.now)
    clock.now += MAX_AGE
    assert answers.get("b") is None  # never older than MAX_AGE, however current it looks
    _keep(answers, "c", b"3", math.inf, clock.now)
    clock.now -= 5  # the wall clock was set back: "Up …" would count from elsewhere
    assert answers.get("c") is None


def test_keys_are_whole_targets(clock: Clock) -> None:
    answers = CachedAnswers()
    _keep(answers, "/containers/json?all=1", b"all", math.inf, clock.now)
    for other in ("/containers/json", "/containers/json?all=0", "/v1.41/containers/json?all=1"):
        assert answers.get(other) is None


def test_bounded_in_entries_and_bytes(clock: Clock) -> None:
    answers = CachedAnswers(max_entries=3, max_bytes=400)
    for i in range(5):
        _keep(answers, f"k{i}", b"x" * 10, math.inf, clock.now)
    assert [answers.get(f"k{i}") is not None for i in range(5)] == [False, False, True, True, True]
    _keep(answers, "big", b"x" * 101, math.inf, clock.now)  # over a quarter of the bytes
    assert answers.get("big") is None
    for i in range(4):
        _keep(answers, f"m{i}", b"y" * 100, math.inf, clock.now)
    assert answers._bytes <= 400
    assert answers.get("m0") is None and answers.get("m3") is not None


def test_changing_a_container_record_moves_the_counter() -> None:
    c = Container("a" * 64, "x", format_rfc3339(0), "busybox", "sha256:1", "sh", [], {}, {})
    before = changes.current()
    c.state.status = EXITED
    assert changes.current() > before
    before = changes.current()
    c.restart_count += 1
    assert changes.current() > before


def _container(status: str, started: float, finished: float = 0.0) -> Container:
    st = State(status=status, started_at=format_rfc3339(started))
    if finished:
        st.finished_at = format_rfc3339(finished)
        st.exit_code = 3
    return Container("b" * 64, "y", format_rfc3339(0), "busybox", "sha256:1", "sh", [], {}, {}, st)


@pytest.mark.parametrize(
    "age",
    [0.2, 1.0, 5.37, 59.5, 60.0, 61.2, 119.9, 3599.0, 3600.0, 5399.0, 5401.0, 86400 * 3 + 17.0],
)
@pytest.mark.parametrize("status", [RUNNING, EXITED, RESTARTING])
def test_status_text_reads_the_same_until_valid_until(
    monkeypatch: pytest.MonkeyPatch, age: float, status: str
) -> None:
    since = 1_700_000_000.25
    c = (
        _container(RUNNING, since)
        if status == RUNNING
        else _container(status, since - 10_000, finished=since)
    )
    clock = Clock(since + age)
    monkeypatch.setattr(views.time, "time", clock)
    now = clock.now
    text = views.status_text(c)
    until = views.status_valid_until(c, now)
    assert until > now
    # Everywhere before the limit the text reads as it did: a kept answer is never stale.
    steps = 200
    for i in range(steps):
        clock.now = now + (until - now) * i / steps
        assert views.status_text(c) == text, (age, clock.now - since)
    # And the limit is not needlessly early: just past it the text moves on (from two
    # days up it moves by days, and the limit stays at the next hour: a rebuild an hour).
    clock.now = until + 0.002
    if age < 48 * 3600:
        assert views.status_text(c) != text
    else:
        assert until - now <= 3600


def test_statuses_without_a_duration_are_kept_indefinitely() -> None:
    created = _container("created", 0)
    assert views.status_valid_until(created, 1e9) == math.inf
    assert views.status_valid_until(_container("dead", 5), 1e9) == math.inf
