"""The memo of encoded answers gives the same bytes a fresh encoding would, and never an
answer older than the document it is asked to encode."""

from __future__ import annotations

import json

from portside.engine.api.http import EncodedAnswers


def _fresh(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def test_an_equal_document_reuses_the_encoding() -> None:
    answers = EncodedAnswers()
    first = answers.encode("k", [{"Id": "a", "Labels": {"x": "1"}}])
    again = answers.encode("k", [{"Id": "a", "Labels": {"x": "1"}}])
    assert again is first
    assert first == _fresh([{"Id": "a", "Labels": {"x": "1"}}])


def test_a_document_changed_in_place_is_encoded_again() -> None:
    answers = EncodedAnswers()
    labels = {"x": "1"}
    doc = [{"Id": "a", "Labels": labels}]
    answers.encode("k", doc)
    labels["x"] = "2"  # a record the memo saw, changed afterwards
    assert answers.encode("k", doc) == _fresh(doc)


def test_documents_that_do_not_survive_json_are_encoded_every_time() -> None:
    answers = EncodedAnswers()
    doc = {"Ports": ("a", 1)}  # a tuple comes back a list: never equal, never stale
    assert answers.encode("k", doc) == _fresh(doc)
    assert answers.encode("k", doc) == _fresh(doc)


def test_the_memo_is_bounded() -> None:
    answers = EncodedAnswers(size=2)
    for key in "abc":
        answers.encode(key, {"k": key})
    assert len(answers._entries) == 2
