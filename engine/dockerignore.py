"""``.dockerignore``: which files of a build context the daemon leaves out.

The rules of moby's ``patternmatcher`` and its ``ignorefile`` reader: one pattern a line,
``#`` lines are comments, patterns are cleaned like Go's ``filepath.Clean`` and made
relative (a leading ``/`` dropped), ``*`` and ``?`` never cross ``/``, ``**`` crosses any
number of directories, ``[...]`` classes and ``\\`` escapes work, ``!`` re-includes. The
last pattern that matches a path (or one of its parent directories) decides.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

__all__ = ["DockerIgnore", "DockerIgnoreError"]


class DockerIgnoreError(ValueError):
    """A pattern Go's ``filepath.Match`` would refuse."""


def go_clean(path: str) -> str:
    """Go's ``path.Clean``: no ``//``, ``.`` or ``x/..``, no trailing slash, ``""`` → ``.``."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


_EXACT, _PREFIX, _SUFFIX, _REGEX = range(4)


def _check_syntax(pattern: str) -> None:
    """Refuse what ``filepath.Match(pattern, ".")`` refuses: bad classes, a trailing ``\\``."""
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise DockerIgnoreError("syntax error in pattern")
            i += 2
            continue
        if ch == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            first = True
            while True:
                if i >= n:
                    raise DockerIgnoreError("syntax error in pattern")
                if pattern[i] == "]" and not first:
                    i += 1
                    break
                first = False
                lo = pattern[i]
                if lo == "\\":
                    i += 1
                    if i >= n:
                        raise DockerIgnoreError("syntax error in pattern")
                    lo = pattern[i]
                elif lo in "-]":
                    raise DockerIgnoreError("syntax error in pattern")
                i += 1
                if i < n and pattern[i] == "-":
                    i += 1
                    if i >= n:
                        raise DockerIgnoreError("syntax error in pattern")
                    hi = pattern[i]
                    if hi == "\\":
                        i += 1
                        if i >= n:
                            raise DockerIgnoreError("syntax error in pattern")
                        hi = pattern[i]
                    elif hi in "-]":
                        raise DockerIgnoreError("syntax error in pattern")
                    if hi < lo:
                        raise DockerIgnoreError("syntax error in pattern")
                    i += 1
            continue
        i += 1


@dataclass
class _Pattern:
    text: str
    exclusion: bool
    kind: int = _EXACT
    regex: re.Pattern[str] | None = None

    @classmethod
    def compile(cls, text: str, exclusion: bool) -> _Pattern:
        p = cls(text, exclusion)
        out = ["^"]
        i, n = 0, len(text)
        while i < n:
            first_token = i == 0
            ch = text[i]
            i += 1
            if ch == "*":
                if i < n and text[i] == "*":
                    i += 1
                    if i < n and text[i] == "/":
                        i += 1
                    if i >= n:
                        # "**" at the end: everything below, like .gitignore
                        if p.kind == _EXACT:
                            p.kind = _PREFIX
                        else:
                            out.append(".*")
                            p.kind = _REGEX
                    else:
                        out.append("(.*/)?")
                        p.kind = _REGEX
                    if first_token:
                        p.kind = (
                            _SUFFIX  # a leading "**": a suffix test, unless more wildcards follow
                        )
                else:
                    out.append("[^/]*")
                    p.kind = _REGEX
            elif ch == "?":
                out.append("[^/]")
                p.kind = _REGEX
            elif ch == "\\":
                if i < n:
                    out.append(re.escape(text[i]))
                    i += 1
                    p.kind = _REGEX
                else:
                    out.append(r"\\")
            elif ch in "[]":
                if ch == "[" and i < n and text[i] == "^":
                    out.append("[^")
                    i += 1
                else:
                    out.append(ch)
                p.kind = _REGEX
            else:
                out.append(re.escape(ch))
        if p.kind == _REGEX:
            out.append("$")
            p.regex = re.compile("".join(out), re.DOTALL)
        return p

    def match(self, path: str) -> bool:
        if self.kind == _EXACT:
            return path == self.text
        if self.kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind == _SUFFIX:
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


class DockerIgnore:
    """The patterns of one ``.dockerignore``; ``matches(path)`` is True for paths left out."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise DockerIgnoreError('illegal exclusion pattern: "!"')
                text = text[1:]
            _check_syntax(text)
            self.patterns.append(_Pattern.compile(text, exclusion))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    @classmethod
    def parse(cls, data: bytes) -> DockerIgnore:
        """Read a ``.dockerignore`` file's bytes."""
        text = data.decode("utf-8", errors="replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        patterns = []
        for line in text.split("\n"):
            line = line.rstrip("\r") if line.endswith("\r") else line
            if line.startswith("#"):
                continue
            pattern = line.strip()
            if not pattern:
                continue
            invert = pattern.startswith("!")
            if invert:
                pattern = pattern[1:].strip()
            if pattern:
                pattern = go_clean(pattern)
                if len(pattern) > 1 and pattern.startswith("/"):
                    pattern = pattern[1:]
            patterns.append("!" + pattern if invert else pattern)
        return cls(patterns)

    def matches(self, relpath: str) -> bool:
        """Whether ``relpath`` (``/``-separated, relative to the context root) is left out
        of the context: the last pattern matching it or a parent directory decides."""
        path = go_clean(relpath)
        parent = posixpath.dirname(path) or "."
        parents = parent.split("/") if parent != "." else []
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit:
                for i in range(len(parents)):
                    if pattern.match("/".join(parents[: i + 1])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_match_inside(self, reldir: str) -> bool:
        """False when no file below ``reldir`` can be in the context: the directory is
        left out and no ``!`` pattern could reach into it (a walker may skip it)."""
        path = go_clean(reldir)
        if not self.matches(path):
            return True
        if not self.has_exclusions:
            return False
        dirs = path.split("/")
        for pattern in self.patterns:
            if pattern.exclusion and _could_reach(pattern.text, dirs):
                return True
        return False


def _could_reach(pattern: str, dirs: list[str]) -> bool:
    """Whether ``pattern`` might match ``dirs`` joined, something below it or a parent
    (conservative: True when unsure)."""
    parts = pattern.split("/")
    for i, name in enumerate(dirs):
        if i >= len(parts):
            return True
        part = parts[i]
        if "**" in part:
            return True
        try:
            if not _Pattern.compile(part, False).match(name):
                return False
        except re.error:
            return True
    return True
