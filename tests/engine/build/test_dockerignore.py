"""``.dockerignore`` patterns as moby's patternmatcher reads and applies them."""

from __future__ import annotations

import pytest
from portside.engine.dockerignore import DockerIgnore, DockerIgnoreError, go_clean

IGNORE = b"""# comment
*.pyc
/build
!build/keep
node_modules
**/tmp
docs/**
 spaced.txt\t
./dotslash
a/*/c
?.md
[ab].txt
!important.pyc
\\#literal
"""


@pytest.mark.parametrize(
    "path, left_out",
    [
        ("x.pyc", True),
        ("sub/x.pyc", False),  # * does not cross /
        ("important.pyc", False),
        ("build", True),
        ("build/out.o", True),
        ("build/keep", False),
        ("build/keep/deeper", False),
        ("node_modules", True),
        ("node_modules/pkg/index.js", True),
        ("src/node_modules", False),
        ("tmp", True),
        ("a/b/tmp", True),
        ("a/b/tmp/file", True),
        ("docs", False),
        ("docs/index.md", True),
        ("spaced.txt", True),
        ("dotslash", True),
        ("a/b/c", True),
        ("a/b/d", False),
        ("a/b/x/c", False),
        ("R.md", True),
        ("RE.md", False),
        ("a.txt", True),
        ("c.txt", False),
        ("#literal", True),
        ("# comment", False),
        ("Dockerfile", False),
    ],
)
def test_matches(path: str, left_out: bool) -> None:
    assert DockerIgnore.parse(IGNORE).matches(path) is left_out


def test_last_pattern_wins_and_exceptions() -> None:
    ign = DockerIgnore.parse(b"*\n!src\nsrc/*.log\n!src/keep.log\n")
    assert ign.matches("README")
    assert not ign.matches("src")
    assert not ign.matches("src/main.c")
    assert ign.matches("src/debug.log")
    assert not ign.matches("src/keep.log")


def test_double_star_forms() -> None:
    ign = DockerIgnore.parse(b"**/*.go\nvendor/**/x\n")
    assert ign.matches("main.go") and ign.matches("a/b/c.go")
    assert ign.matches("vendor/x") and ign.matches("vendor/a/b/x")
    assert not ign.matches("vendor/a/y")
    everything = DockerIgnore.parse(b"**\n!Dockerfile\n")
    assert everything.matches("a/b") and not everything.matches("Dockerfile")


def test_may_match_inside() -> None:
    ign = DockerIgnore.parse(IGNORE)
    assert ign.may_match_inside("build")  # build/keep comes back
    assert not ign.may_match_inside("node_modules")
    assert not ign.may_match_inside("a/b/tmp")
    assert ign.may_match_inside("src")  # not left out at all
    wild = DockerIgnore.parse(b"dist\n!dist/*/keep\n")
    assert wild.may_match_inside("dist")
    other = DockerIgnore.parse(b"dist\ncache\n!dist/keep\n")
    assert not other.may_match_inside("cache")
    deep = DockerIgnore.parse(b"a\n!**/keep\n")
    assert deep.may_match_inside("a")


def test_clean_and_errors() -> None:
    assert go_clean("a//b/./c/..") == "a/b"
    assert go_clean("/../a/") == "/a"
    assert go_clean("") == "."
    assert go_clean("../x") == "../x"
    with pytest.raises(DockerIgnoreError, match="syntax error in pattern"):
        DockerIgnore.parse(b"[a-\n")
    with pytest.raises(DockerIgnoreError, match="illegal exclusion pattern"):
        DockerIgnore(["!"])
    assert DockerIgnore.parse(b"").matches("anything") is False
    assert DockerIgnore.parse(b"\xef\xbb\xbf*.tmp\r\n").matches("x.tmp")
