"""``.dockerignore`` patterns (Go ``filepath.Match`` plus ``**``, ``!`` exceptions)."""

from __future__ import annotations

import posixpath
import re


def _clean(p: str) -> str:
    p = posixpath.normpath(p.strip().lstrip("/")) if p.strip() else ""
    return "" if p == "." else p


def _regex(pattern: str) -> re.Pattern[str]:
    out, i, n = "^", 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if pattern[i : i + 2] == "**":
                i += 2
                if pattern[i : i + 1] == "/":
                    out += "(.*/)?"
                    i += 1
                else:
                    out += ".*"
                continue
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out += re.escape(ch)
            else:
                cls = pattern[i + 1 : end].replace("\\", "\\\\")
                if cls.startswith("^"):
                    cls = "!" + cls[1:]
                out += "[" + ("^" + cls[1:] if cls.startswith("!") else cls) + "]"
                i = end
        elif ch == "\\" and i + 1 < n:
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "(/.*)?$", re.DOTALL)


class DockerIgnore:
    """The parsed patterns; later ones win, ``!`` re-includes."""

    def __init__(self, rules: list[tuple[bool, str, re.Pattern[str]]]) -> None:
        self.rules = rules

    @classmethod
    def parse(cls, data: bytes) -> DockerIgnore:
        """Parse a ``.dockerignore`` file."""
        rules = []
        for raw in data.decode("utf-8", "replace").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclude = line.startswith("!")
            if exclude:
                line = line[1:].strip()
            pattern = _clean(line)
            if pattern:
                rules.append((exclude, pattern, _regex(pattern)))
        return cls(rules)

    def matches(self, relpath: str) -> bool:
        """Whether ``relpath`` (relative to the context) is ignored."""
        path = _clean(relpath)
        ignored = False
        for exclude, _, rx in self.rules:
            if rx.match(path):
                ignored = not exclude
        return ignored

    def may_match_inside(self, reldir: str) -> bool:
        """Whether an exception may re-include something under an ignored ``reldir``."""
        return any(exclude for exclude, _, _ in self.rules)
