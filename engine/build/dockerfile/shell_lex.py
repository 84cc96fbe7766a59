"""Shell-like word processing for Dockerfile instructions: quotes and ``$VAR`` expansion."""

from __future__ import annotations

from collections.abc import Mapping


class ShellLex:
    """Expands ``$VAR``, ``${VAR}``, ``${VAR:-w}``, ``${VAR:+w}`` and removes quotes."""

    def __init__(self, escape: str = "\\") -> None:
        self.escape = escape

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """One word, spaces kept."""
        return "".join(self._scan(word, env, split=False)[0])

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Split into words on unquoted blanks (after expansion)."""
        return self._scan(word, env, split=True)[1]

    def _scan(self, s: str, env: Mapping[str, str], split: bool) -> tuple[list[str], list[str]]:
        out: list[str] = []
        words: list[str] = []
        cur: list[str] = []
        started = False
        i, n, quote = 0, len(s), ""
        while i < n:
            ch = s[i]
            if ch == self.escape and quote != "'" and i + 1 < n:
                cur.append(s[i + 1])
                started = True
                i += 2
                continue
            if ch in "'\"" and (not quote or quote == ch):
                quote = "" if quote else ch
                started = True
                i += 1
                continue
            if ch == "$" and quote != "'":
                value, i = self._variable(s, i + 1, env)
                cur.append(value)
                started = started or bool(value)
                continue
            if split and not quote and ch in " \t\n":
                if started:
                    words.append("".join(cur))
                cur, started = [], False
                out.append(ch)
                i += 1
                continue
            cur.append(ch)
            started = True
            i += 1
        if started:
            words.append("".join(cur))
        return ["".join(cur)] if not split else out, words

    def _variable(self, s: str, i: int, env: Mapping[str, str]) -> tuple[str, int]:
        n = len(s)
        if i < n and s[i] == "{":
            end = s.find("}", i)
            if end < 0:
                raise ValueError(f"missing '}}' in {s!r}")
            body = s[i + 1 : end]
            for op in (":-", ":+", "-", "+"):
                if op in body:
                    name, word = body.split(op, 1)
                    word = self.process_word(word, env)
                    val = env.get(name)
                    if op == ":-":
                        return (val if val else word), end + 1
                    if op == "-":
                        return (val if val is not None else word), end + 1
                    if op == ":+":
                        return (word if val else ""), end + 1
                    return (word if val is not None else ""), end + 1
            return env.get(body, ""), end + 1
        j = i
        while j < n and (s[j].isalnum() or s[j] == "_"):
            j += 1
        if j == i:
            return "$", i
        return env.get(s[i:j], ""), j
