"""Variable expansion and word splitting as BuildKit's shell lexer does them.

Quotes, the escape character, ``$A``/``${A}`` and the modifiers ``:-  -  :+  +  :?  ?
#  ##  %  %%  /  //``. Not a shell: no command substitution, no arithmetic, no globbing.
Every buffer the expansion builds is capped (``MAX_EXPANSION``) as it grows, so a value
that doubles on each ENV line fails at once instead of taking minutes and gigabytes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from .errors import DockerfileParseError, ExpansionTooLarge
from .gotext import GO_SPACE, is_space, quote

__all__ = ["MAX_EXPANSION", "ExpansionTooLarge", "LexError", "ShellLex"]

MAX_EXPANSION = 1 << 20  # characters in any one expansion result

_EOF = ""


class LexError(DockerfileParseError):
    """A malformed word (unmatched quote, bad substitution, ``${A:?msg}``...)."""


class _Buf:
    """A string builder that refuses to grow past the cap."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, s: str) -> None:
        self.size += len(s)
        if self.size > MAX_EXPANSION:
            raise ExpansionTooLarge(
                f"variable expansion is larger than the maximum of {MAX_EXPANSION} characters"
            )
        self.parts.append(s)

    def text(self) -> str:
        return "".join(self.parts)


_SPACE_RUN = re.compile("[" + re.escape(GO_SPACE) + "]+")


class _NoWords:
    """Stands in for ``_Words`` when only the joined result is wanted."""

    def add_char(self, ch: str) -> None:
        pass

    def add_raw(self, s: str) -> None:
        pass

    def add_string(self, s: str) -> None:
        pass

    def result(self) -> list[str]:
        return []


class _Words:
    """BuildKit's word splitter: unquoted space ends a word, quoted text never does."""

    __slots__ = ("buf", "in_word", "words")

    def __init__(self) -> None:
        self.buf = _Buf()
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_space(ch):
            if self.in_word and self.buf.size:
                self.words.append(self.buf.text())
                self.buf = _Buf()
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, s: str) -> None:
        self.buf.add(s)
        self.in_word = True

    def add_string(self, s: str) -> None:
        """``add_char`` for each character, a run of non-space at a time."""
        pieces = _SPACE_RUN.split(s)
        for i, piece in enumerate(pieces):
            if piece:
                self.add_raw(piece)
            if i != len(pieces) - 1 and self.in_word and self.buf.size:
                self.words.append(self.buf.text())
                self.buf = _Buf()
                self.in_word = False

    def result(self) -> list[str]:
        if self.buf.size:
            self.words.append(self.buf.text())
            self.buf = _Buf()
            self.in_word = False
        return self.words


def _is_digit(ch: str) -> bool:
    return ("0" <= ch <= "9") if ch.isascii() else unicodedata.category(ch) == "Nd"


def _is_letter(ch: str) -> bool:
    if ch.isascii():
        return ch.isalpha()
    return unicodedata.category(ch).startswith("L")


_SPECIAL_PARAMS = frozenset("@*#?-$!0")


class _Scanner:
    """One expansion in progress (``shellWord`` in BuildKit)."""

    def __init__(self, lex: ShellLex, text: str, env: Mapping[str, str], split: bool) -> None:
        self.lex = lex
        self.split = split
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = lex.escape
        self.raw_escapes = lex.raw_escapes

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        if self.pos >= len(self.text):
            return _EOF
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def get_env(self, name: str) -> str | None:
        return self.env.get(name)

    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        result = _Buf()
        words: _Words | _NoWords = _Words() if self.split else _NoWords()
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            while self.pos < len(self.text):
                ch = self.text[self.pos]
                if stop and ch == stop:
                    self.pos += 1
                    return result.text(), words.result()
                if ch == "$":
                    tmp = self.process_dollar()
                    result.add(tmp)
                    words.add_string(tmp)
                elif ch == "'" and not self.lex.skip_process_quotes:
                    tmp = self.process_single_quote()
                    result.add(tmp)
                    words.add_raw(tmp)
                elif ch == '"' and not self.lex.skip_process_quotes:
                    tmp = self.process_double_quote()
                    result.add(tmp)
                    words.add_raw(tmp)
                else:
                    self.pos += 1
                    if ch == self.escape:
                        if self.raw_escapes:
                            words.add_raw(ch)
                            result.add(ch)
                        ch = self.next()
                        if ch == _EOF:
                            break
                        words.add_raw(ch)
                    else:
                        words.add_char(ch)
                    result.add(ch)
            if stop:
                raise LexError(f"unexpected end of statement while looking for matching {stop}")
            return result.text(), words.result()
        finally:
            self.raw_escapes = saved

    def process_single_quote(self) -> str:
        result = _Buf()
        ch = self.next()
        if self.lex.raw_quotes:
            result.add(ch)
        end = self.text.find("'", self.pos)
        if end < 0:
            raise LexError("unexpected end of statement while looking for matching single-quote")
        result.add(self.text[self.pos : end])
        self.pos = end + 1
        if self.lex.raw_quotes:
            result.add("'")
        return result.text()

    def process_double_quote(self) -> str:
        result = _Buf()
        ch = self.next()
        if self.lex.raw_quotes:
            result.add(ch)
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise LexError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.pos += 1
                if self.lex.raw_quotes:
                    result.add(ch)
                return result.text()
            if ch == "$":
                result.add(self.process_dollar())
                continue
            self.pos += 1
            if ch == self.escape:
                if self.raw_escapes:
                    result.add(ch)
                nxt = self.peek()
                if nxt == _EOF:
                    continue  # an escape at the very end is dropped
                if nxt in ('"', "$", self.escape):
                    ch = self.next()
            result.add(ch)

    def process_name(self) -> str:
        start = self.pos
        ch = self.peek()
        if ch == _EOF:
            return ""
        if _is_digit(ch):
            while self.pos < len(self.text) and _is_digit(self.text[self.pos]):
                self.pos += 1
            return self.text[start : self.pos]
        if ch in _SPECIAL_PARAMS:
            self.pos += 1
            return ch
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if not (_is_letter(ch) or _is_digit(ch) or ch == "_"):
                break
            self.pos += 1
        return self.text[start : self.pos]

    def _stop_or_missing(self, stop: str, raw: bool, missing: str) -> str:
        try:
            word, _ = self.process_stop_on(stop, raw)
        except LexError:
            if self.peek() == _EOF:
                raise LexError(missing) from None
            raise
        return word

    def process_dollar(self) -> str:
        self.pos += 1  # the $
        if self.peek() != "{":
            name = self.process_name()
            if not name:
                return "$"
            value = self.get_env(name)
            if value is None and self.lex.skip_unset_env:
                return "$" + name
            return value or ""
        self.pos += 1  # the {
        ch = self.peek()
        if ch == _EOF:
            raise LexError("syntax error: missing '}'")
        if ch in "{}:":
            raise LexError("syntax error: bad substitution")
        name = self.process_name()
        ch = self.next()
        if ch == _EOF:
            raise LexError("syntax error: missing '}'")
        modifier = ch
        if ch == "}":
            value = self.get_env(name)
            if value is None and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value or ""
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch
            if ch == _EOF:
                raise LexError("syntax error: missing '}'")
        if ch in "+-?#%" or null_is_unset:
            raw = ch in "#%"
            if null_is_unset and raw:
                raise LexError(f"unsupported modifier ({modifier}) in substitution")
            word = self._stop_or_missing("}", raw, "syntax error: missing '}'")
            value = self.get_env(name)
            if value is None and self.lex.skip_unset_env:
                return "${" + name + modifier + word + "}"
            unset = value is None or (null_is_unset and value == "")
            if ch == "-":
                return word if unset else (value or "")
            if ch == "+":
                return "" if unset else word
            if ch == "?":
                if value is None:
                    raise LexError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise LexError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            if ch in "#%":
                greedy = word.startswith(ch)
                if greedy:
                    word = word[1:]
                if ch == "%":
                    return _trim_suffix(word, value or "", greedy)
                return _trim_prefix(word, value or "", greedy)
            raise LexError(f"unsupported modifier ({modifier}) in substitution")
        if ch == "/":
            replace_all = self.peek() == "/"
            if replace_all:
                self.pos += 1
            pattern = self._stop_or_missing("/", True, "syntax error: missing '/' in ${}")
            replacement = self._stop_or_missing("}", True, "syntax error: missing '}'")
            value = self.get_env(name)
            if value is None and self.lex.skip_unset_env:
                return "${" + name + "/" + pattern + "/" + replacement + "}"
            return _replace(pattern, replacement, value or "", replace_all)
        raise LexError(f"unsupported modifier ({modifier}) in substitution")


def _pattern_regex(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell pattern (``*``, ``?``, ``\\`` escapes; no brackets) as a regex."""
    star = ".*" if greedy else ".*?"
    out = ["^"] if anchored else []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            nxt = pattern[i] if i < n else ""
            if nxt in ("}", "/"):
                continue  # an escaped } or / inside ${} is just the character
            i += 1
            if nxt not in ("*", "?", "\\"):
                raise LexError(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'"
                )
            out.append(re.escape(nxt))
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _pattern_regex(pattern, greedy, True).search(value)
    return value[m.end() :] if m else value


def _reverse_pattern(pattern: str) -> str:
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i != len(pattern) - 1:
            tokens.append(pattern[i : i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex finds the leftmost match only: reverse both to find the rightmost.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


_TEMPLATE = re.compile(r"\$(\$|\{[A-Za-z0-9_]*\}|[A-Za-z0-9_]+)?")


def _expand_template(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand`` for a pattern with no groups: ``$$`` is ``$``, ``$0`` the
    match, any other ``$name`` nothing."""

    def one(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref is None:
            return "$"
        if ref == "$":
            return "$"
        ref = ref.strip("{}")
        return match.group(0) if ref == "0" else ""

    return _TEMPLATE.sub(one, template)


def _replace(pattern: str, replacement: str, value: str, replace_all: bool) -> str:
    regex = _pattern_regex(pattern, True, False)
    if not replace_all:
        m = regex.search(value)
        return value[: m.start()] + replacement + value[m.end() :] if m else value
    literal = "$" not in replacement
    pieces: list[str] = []
    size = 0
    last = 0
    previous_end = -1
    for m in regex.finditer(value):
        start, end = m.span()
        if start == end == previous_end:
            continue  # Go skips an empty match right after a match ("*" replaces once)
        rep = replacement if literal else _expand_template(replacement, m)
        size += start - last + len(rep)
        if size > MAX_EXPANSION:
            _Buf().add(" " * (MAX_EXPANSION + 1))  # raises ExpansionTooLarge
        pieces.append(value[last:start])
        pieces.append(rep)
        last = previous_end = end
    pieces.append(value[last:])
    return "".join(pieces)


class ShellLex:
    """Expands Dockerfile words against an environment, as BuildKit's ``shell.Lex``."""

    def __init__(self, escape: str = "\\") -> None:
        if escape not in ("\\", "`"):
            raise ValueError("the escape character is \\ or `")
        self.escape = escape
        self.raw_quotes = False
        self.raw_escapes = False
        self.skip_unset_env = False
        self.skip_process_quotes = False

    def _process(self, word: str, env: Mapping[str, str], split: bool) -> tuple[str, list[str]]:
        scanner = _Scanner(self, word, env, split)
        try:
            return scanner.process_stop_on(_EOF, self.raw_escapes)
        except ExpansionTooLarge:
            raise
        except LexError as e:
            raise LexError(f"failed to process {quote(word)}: {e}") from None

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """``word`` with quotes removed and variables expanded (spaces kept)."""
        return self._process(word, env, False)[0]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """``word`` expanded, then split on unquoted white space (EXPOSE, VOLUME...)."""
        return self._process(word, env, True)[1]
