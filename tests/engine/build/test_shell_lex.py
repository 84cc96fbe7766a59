"""Variable expansion and word splitting as BuildKit's shell lexer does them."""

from __future__ import annotations

import time

import pytest
from portside.engine.build.dockerfile import DockerfileParseError, ExpansionTooLarge
from portside.engine.build.dockerfile.shell_lex import MAX_EXPANSION, ShellLex

ENV = {
    "A": "abc",
    "EMPTY": "",
    "PATHISH": "/usr/local/bin:/usr/bin",
    "FILE": "dir/sub/name.tar.gz",
    "SP": "a  b",
}


@pytest.mark.parametrize(
    "word, expected",
    [
        ("plain", "plain"),
        ("$A", "abc"),
        ("${A}", "abc"),
        ("x${A}y", "xabcy"),
        ("$A$A", "abcabc"),
        ("$UNSET", ""),
        ("$", "$"),
        ("$1", ""),
        ("a$", "a$"),
        ("${UNSET:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${UNSET-dflt}", "dflt"),
        ("${A:-dflt}", "abc"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${A:?msg}", "abc"),
        ("${UNSET:-${A}x}", "abcx"),
        ("${FILE#*/}", "sub/name.tar.gz"),
        ("${FILE##*/}", "name.tar.gz"),
        ("${FILE%.*}", "dir/sub/name.tar"),
        ("${FILE%%.*}", "dir/sub/name"),
        ("${FILE#nomatch}", "dir/sub/name.tar.gz"),
        ("${A#?}", "bc"),
        ("${A%\\*}", "abc"),
        ("${PATHISH/bin/BIN}", "/usr/local/BIN:/usr/bin"),
        ("${PATHISH//bin/BIN}", "/usr/local/BIN:/usr/BIN"),
        ("${PATHISH//\\//_}", "_usr_local_bin:_usr_bin"),
        ("${A/b*/X}", "aX"),
        ("${A//?/.}", "..."),
        ("${A/z/y}", "abc"),
        ("${A//*/X}", "X"),
        ("${A//b*/X}", "aX"),
        ("${A//$A/\\1}", "\\1"),
        ("'$A'", "$A"),
        ('"$A"', "abc"),
        ('"a\\"b"', 'a"b'),
        ('"a\\b"', "a\\b"),
        ('"\\$A"', "$A"),
        ("\\$A", "$A"),
        ("a\\ b", "a b"),
        ("it's'", "its"),
        ("\"${A}\"x'y'", "abcxy"),
        ("trailing\\", "trailing"),
    ],
)
def test_process_word(word: str, expected: str) -> None:
    assert ShellLex().process_word(word, ENV) == expected


@pytest.mark.parametrize(
    "word, expected",
    [
        ("a b  c", ["a", "b", "c"]),
        ('"a b" c', ["a b", "c"]),
        ("$SP", ["a", "b"]),
        ('"$SP"', ["a  b"]),
        ("x$SP", ["xa", "b"]),
        ("a\\ b", ["a b"]),
        ('""', []),
        ("  ", []),
        ("80/tcp  443", ["80/tcp", "443"]),
        ("${UNSET:-1 2}", ["1", "2"]),
    ],
)
def test_process_words(word: str, expected: list[str]) -> None:
    assert ShellLex().process_words(word, ENV) == expected


def test_backtick_escape() -> None:
    lex = ShellLex("`")
    assert lex.process_word("C:\\path` with`$A", ENV) == "C:\\path with$A"
    assert lex.process_word('"a`"b"', ENV) == 'a"b'


@pytest.mark.parametrize(
    "word, message",
    [
        ("${UNSET:?}", 'failed to process "${UNSET:?}": UNSET: is not allowed to be unset'),
        ("${EMPTY:?}", 'failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty'),
        ("${UNSET?must be set}", 'failed to process "${UNSET?must be set}": UNSET: must be set'),
        ("${EMPTY?x}", None),
        ("${A", "failed to process \"${A\": syntax error: missing '}'"),
        ("${", "failed to process \"${\": syntax error: missing '}'"),
        ("${}", 'failed to process "${}": syntax error: bad substitution'),
        ("${:a}", 'failed to process "${:a}": syntax error: bad substitution'),
        ("${A:=x}", 'failed to process "${A:=x}": unsupported modifier (:=) in substitution'),
        ("${A=x}", 'failed to process "${A=x}": unsupported modifier (=) in substitution'),
        ("${A:#x}", 'failed to process "${A:#x}": unsupported modifier (:#) in substitution'),
        ("${A/x}", "failed to process \"${A/x}\": syntax error: missing '/' in ${}"),
        (
            "'open",
            'failed to process "\'open": '
            "unexpected end of statement while looking for matching single-quote",
        ),
        (
            '"open',
            'failed to process "\\"open": '
            "unexpected end of statement while looking for matching double-quote",
        ),
        (
            "${A#\\x}",
            'failed to process "${A#\\\\x}": '
            "invalid pattern (\\x) in substitution: invalid escape '\\x'",
        ),
    ],
)
def test_errors(word: str, message: str | None) -> None:
    lex = ShellLex()
    if message is None:
        assert lex.process_word(word, ENV) == ""
        return
    with pytest.raises(DockerfileParseError) as e:
        lex.process_word(word, ENV)
    assert str(e.value) == message


def test_env_doubling_fails_fast() -> None:
    """Twenty lines of ``ENV A=$A$A`` must hit the cap, not build a 2^20-fold value."""
    lex = ShellLex()
    env = {"A": "x" * 100}
    start = time.perf_counter()
    with pytest.raises(ExpansionTooLarge) as e:
        for _ in range(20):
            env["A"] = lex.process_word("$A$A", env)
    assert time.perf_counter() - start < 1
    assert "larger than the maximum" in str(e.value)
    assert len(env["A"]) <= MAX_EXPANSION


def test_many_references_fail_at_the_cap() -> None:
    env = {"A": "y" * (MAX_EXPANSION // 2 + 10)}
    start = time.perf_counter()
    with pytest.raises(ExpansionTooLarge):
        ShellLex().process_words("$A " * 10000, env)
    with pytest.raises(ExpansionTooLarge):
        ShellLex().process_word("${A//?/xx}", env)
    assert time.perf_counter() - start < 3


def test_long_word_is_linear() -> None:
    word = "a" * 100_000 + "$A" * 25_000 + "'q'" * 25_000
    start = time.perf_counter()
    assert len(ShellLex().process_word(word, ENV)) == 100_000 + 75_000 + 25_000
    assert time.perf_counter() - start < 2
