"""Docker's reference grammar and normalisation, table-driven."""

from __future__ import annotations

import pytest
from portside.engine.errors import InvalidParameter
from portside.engine.images.reference import (
    familiar,
    familiar_match,
    normalize,
    parse_reference,
)

D = "sha256:" + "a" * 64

NORMALIZE = [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    ("index.docker.io/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
    ("me/app", "docker.io/me/app:latest"),
    ("me/app/sub:v2", "docker.io/me/app/sub:v2"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("127.0.0.1:5000/foo/bar:tag", "127.0.0.1:5000/foo/bar:tag"),
    ("registry.example.com/a/b", "registry.example.com/a/b:latest"),
    ("[::1]:5000/app:x", "[::1]:5000/app:x"),
    ("Registry.Example.com/a", "Registry.Example.com/a:latest"),  # upper case: a domain
    ("a.b-c__d/e", "a.b-c__d/e:latest"),
    ("foo_bar-baz.qux", "docker.io/library/foo_bar-baz.qux:latest"),
    (f"busybox@{D}", f"docker.io/library/busybox@{D}"),
    (f"busybox:1@{D}", f"docker.io/library/busybox:1@{D}"),
    ("busybox:Tag_With.Dots-1", "docker.io/library/busybox:Tag_With.Dots-1"),
]

FAMILIAR = [
    ("docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/me/app:v1", "me/app:v1"),
    ("docker.io/library/a/b:1", "library/a/b:1"),
    ("localhost:5000/app:latest", "localhost:5000/app:latest"),
    (f"docker.io/library/busybox@{D}", f"busybox@{D}"),
]

INVALID = [
    ("", "invalid reference format"),
    ("Busybox", "repository name (library/Busybox) must be lowercase"),
    ("me/App", "repository name (me/App) must be lowercase"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("busybox:", "invalid reference format"),
    ("busybox:-tag", "invalid reference format"),
    ("busybox:" + "t" * 129, "invalid reference format"),
    ("busy box", "invalid reference format"),
    ("-busybox", "invalid reference format"),
    ("busybox-", "invalid reference format"),
    ("a__b___c", "invalid reference format"),
    ("a/", "invalid reference format"),
    ("//a", "invalid reference format"),
    ("busybox@sha256:abc", "invalid reference format"),
    ("host:port/x", "invalid reference format"),
    ("x/" * 130 + "y", "must not be more than 255 characters"),
]


@pytest.mark.parametrize(("given", "stored"), NORMALIZE)
def test_normalize(given, stored):
    assert normalize(given) == stored


@pytest.mark.parametrize(("stored", "shown"), FAMILIAR)
def test_familiar(stored, shown):
    assert familiar(stored) == shown


@pytest.mark.parametrize(("given", "message"), INVALID)
def test_invalid(given, message):
    with pytest.raises(InvalidParameter) as exc:
        parse_reference(given)
    assert message in exc.value.message


def test_parts():
    r = parse_reference(f"127.0.0.1:5000/foo/bar:v1@{D}")
    assert (r.domain, r.path, r.tag, r.digest) == ("127.0.0.1:5000", "foo/bar", "v1", D)
    assert r.name == "127.0.0.1:5000/foo/bar"
    assert r.string() == f"127.0.0.1:5000/foo/bar:v1@{D}"
    assert parse_reference("busybox").tag is None
    assert parse_reference("busybox").familiar() == "busybox"
    assert parse_reference("busybox").with_default_tag().familiar() == "busybox:latest"


@pytest.mark.parametrize(
    ("pattern", "stored", "hit"),
    [
        ("busybox", "docker.io/library/busybox:latest", True),
        ("busybox:latest", "docker.io/library/busybox:latest", True),
        ("busy*", "docker.io/library/busybox:1", True),
        ("busybox:1.*", "docker.io/library/busybox:1.36", True),
        ("busybox:2*", "docker.io/library/busybox:1.36", False),
        ("*", "docker.io/me/app:v1", False),  # '*' does not cross '/'
        ("*/*", "docker.io/me/app:v1", True),
        ("localhost:5000/*", "localhost:5000/app:latest", True),
    ],
)
def test_reference_filter_matching(pattern, stored, hit):
    assert familiar_match(pattern, stored) is hit
