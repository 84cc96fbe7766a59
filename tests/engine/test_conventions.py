"""Docker's API conventions, shared by every area (engine/conventions.py)."""

from __future__ import annotations

import time

import pytest
from portside.engine import conventions as cv
from portside.engine.errors import InvalidParameter


def test_format_rfc3339_fixed_trim_and_whole_seconds():
    assert cv.format_rfc3339(1.5) == "1970-01-01T00:00:01.500000000Z"
    assert cv.format_rfc3339(0, fraction="trim") == "1970-01-01T00:00:00Z"
    assert cv.format_rfc3339(1.5, fraction="trim") == "1970-01-01T00:00:01.5Z"
    assert cv.format_rfc3339(1.000000001, fraction="trim") == "1970-01-01T00:00:01.000000001Z"
    assert cv.format_rfc3339(1.9, fraction="none") == "1970-01-01T00:00:01Z"
    assert cv.format_rfc3339(ns=1_704_164_645_123_456_789) == "2024-01-02T03:04:05.123456789Z"
    assert cv.format_rfc3339().endswith("Z")


def test_parse_rfc3339_exact_and_offsets():
    assert cv.parse_rfc3339_exact("2024-01-02T03:04:05.123456789+00:00") == (
        1704164645,
        123456789,
    )
    # a local offset is folded into UTC
    assert cv.parse_rfc3339_exact("2024-01-02T05:04:05.5+02:00") == (1704164645, 500000000)
    assert cv.parse_rfc3339_exact("2024-01-02T03:04:05Z") == (1704164645, 0)
    assert cv.parse_rfc3339("2024-01-02T03:04:05.123456789Z") == pytest.approx(1704164645.123456)
    assert cv.parse_rfc3339(cv.ZERO_TIME) == 0.0
    with pytest.raises(ValueError):
        cv.parse_rfc3339("yesterday")


def test_round_trip():
    stamp = cv.format_rfc3339(1704164645.25)
    assert cv.parse_rfc3339(stamp) == pytest.approx(1704164645.25)


def test_parse_timestamp_forms():
    now = 1_000_000.0
    assert cv.parse_timestamp("1700000000.5") == 1700000000.5
    assert cv.parse_timestamp("10m", now=now) == now - 600
    assert cv.parse_timestamp("1h30m", now=now) == now - 5400
    assert cv.parse_timestamp("2024-01-02") == 1704153600.0
    assert cv.parse_timestamp("2024-01-02T03:04:05Z") == 1704164645.0
    with pytest.raises(ValueError):
        cv.parse_timestamp("soon")
    with pytest.raises(InvalidParameter, match="invalid filter 'until=soon'"):
        cv.filter_timestamp("until", "soon")
    assert cv.parse_timestamp("1s") == pytest.approx(time.time() - 1, abs=5)


def test_filters_decode_check_and_labels():
    assert cv.decode_filters('{"label":{"a=1":true,"b":false}}') == {"label": ["a=1"]}
    assert cv.decode_filters('{"label":["a"]}') == {"label": ["a"]}
    assert cv.decode_filters("") == {}
    with pytest.raises(InvalidParameter, match="invalid filter"):
        cv.decode_filters("[1]")
    with pytest.raises(InvalidParameter, match="invalid filter 'nope'"):
        cv.check_filters({"nope": []}, {"label"})
    labels = {"a": "1", "b": ""}
    assert cv.label_match(labels, ["a", "a=1", "b="])
    assert not cv.label_match(labels, ["a=2"])
    assert not cv.label_match(labels, ["c"])
    assert cv.label_mismatch(labels, ["c", "a=2"])
    assert not cv.label_mismatch(labels, ["c", "a"])
    assert cv.labels_accept({"label": ["a"], "label!": ["c"]}, labels)
    assert not cv.labels_accept({"label!": ["a=1"]}, labels)


def test_bools():
    assert cv.filter_bool("dangling", "TRUE") is True
    assert cv.filter_bool("dangling", "0") is False
    with pytest.raises(InvalidParameter, match="invalid filter 'dangling=maybe'"):
        cv.filter_bool("dangling", "maybe")
    assert cv.go_bool("T") is True and cv.go_bool("False") is False
    with pytest.raises(ValueError, match="ParseBool"):
        cv.go_bool("yes")
    assert cv.query_bool("yes", "x") is True and cv.query_bool("", "x") is False
    assert cv.query_bool(None, "x", default=True) is True
    with pytest.raises(InvalidParameter):
        cv.query_bool("2", "x")


def test_bodies():
    assert cv.decode_json_body(b'{"a":"\\udc80"}') == {"a": "\ufffd"}
    with pytest.raises(InvalidParameter, match="request body is empty"):
        cv.decode_json_body(b" ")
    assert cv.decode_json_body(b"", required=False) is None
    assert cv.json_object(None) == {}
    with pytest.raises(InvalidParameter):
        cv.json_object([1])
    assert cv.go_fields({"detachkeys": "x"}, ("DetachKeys",)) == {"DetachKeys": "x"}
    assert cv.string_map({"a": 1}, "Labels") == {"a": "1"}
    with pytest.raises(InvalidParameter, match="Labels must be an object"):
        cv.string_map([1], "Labels")


def test_a_bool_filter_is_absent_one_value_or_a_400() -> None:
    assert cv.bool_filter({}, "dangling") is None
    assert cv.bool_filter({"dangling": ["1", "TRUE"]}, "dangling") is True
    assert cv.bool_filter({"dangling": ["false"]}, "dangling") is False
    with pytest.raises(InvalidParameter, match="invalid filter 'dangling=true,0'"):
        cv.bool_filter({"dangling": ["true", "0"]}, "dangling")
