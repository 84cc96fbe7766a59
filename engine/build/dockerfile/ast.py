"""Dockerfile text → a flat list of nodes, as BuildKit's ``parser.Parse`` builds its AST.

Lines keep their endings while scanned (heredoc bodies need them). Parser directives are
read only until the first line that is not one; comments and blank lines inside a
continued instruction are skipped; the continuation character is the escape directive's.
Instruction-level checks (unknown instruction, flags, argument counts) come later, in
``instructions.py``, so errors surface in the same order as dockerd's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .errors import DockerfileParseError
from .gotext import is_space, trim_left_space, trim_space
from .gotext import quote as go_quote
from .model import Heredoc
from .shell_lex import ShellLex

MAX_LINE = 65535  # bufio.MaxScanTokenSize - 1
MAX_DOCKERFILE = 4 << 20

# RE2's \s is [\t\n\f\r ] (no \v), and "." stops at a newline as in Go.
_RE2_SPACE = r"[\t\n\f\r ]*"
_DIRECTIVE = re.compile(
    rf"#{_RE2_SPACE}([a-zA-Z][a-zA-Z0-9]*){_RE2_SPACE}={_RE2_SPACE}(.+?){_RE2_SPACE}\Z"
)
_VALID_DIRECTIVES = ("escape", "syntax", "check")
_CMD_SPLIT = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"(\d*)<<(-?)([^<]*)\Z")
_HEREDOC_KEYWORDS = frozenset({"run", "copy", "add"})

# Which line parser each instruction's arguments go through (BuildKit's dispatch table).
_MAYBE_JSON = frozenset({"cmd", "entrypoint", "run", "shell"})
_MAYBE_JSON_LIST = frozenset({"add", "copy", "volume"})
_WHITESPACE_LIST = frozenset({"expose", "from"})
_STRING = frozenset({"maintainer", "stopsignal", "user", "workdir"})
_NAME_VALUE = frozenset({"env", "label"})
KNOWN = (
    _MAYBE_JSON
    | _MAYBE_JSON_LIST
    | _WHITESPACE_LIST
    | _STRING
    | _NAME_VALUE
    | {"arg", "healthcheck", "onbuild"}
)

_NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


class AstError(DockerfileParseError):
    """An error of the first pass; dockerd prefixes these with ``failed to parse Dockerfile``."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"failed to parse Dockerfile: {message}", line)


class _LineError(Exception):
    """A line-parser error, located by the caller."""


@dataclass
class Node:
    """One instruction as the first pass sees it."""

    cmd: str  # as written
    original: str
    flags: list[str]
    args: list[str]
    json_form: bool = False
    key_values: list[tuple[str, str]] | None = None
    child: Node | None = None
    heredocs: list[Heredoc] = field(default_factory=list)
    start_line: int = 0
    end_line: int = 0

    @property
    def keyword(self) -> str:
        return self.cmd.lower()


@dataclass
class Ast:
    nodes: list[Node]
    escape: str
    directives: dict[str, str]


class _Directives:
    def __init__(self) -> None:
        self.escape = "\\"
        self.done = False
        self.seen: dict[str, str] = {}

    def possible(self, line: str) -> None:
        if self.done:
            return
        m = _DIRECTIVE.match(line)
        if not m:
            self.done = True
            return
        key = m.group(1).lower()
        if key not in _VALID_DIRECTIVES:
            self.done = True
            return
        if key in self.seen:
            raise _LineError(f"only one {key} parser directive can be used")
        value = m.group(2)
        self.seen[key] = value
        if key == "escape":
            if value not in ("`", "\\"):
                raise _LineError(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return trim_left_space(_trim_newline(line)).startswith("#")


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    """Strip a trailing continuation character; (line, ends_here). An escaped escape
    (``\\\\``) at the end is not a continuation."""
    stripped = line.rstrip(" \t")
    if stripped.endswith(escape) and (len(stripped) == 1 or stripped[-2] != escape):
        return stripped[:-1], False
    return line, True


def _split_lines(data: bytes) -> list[str]:
    """Lines with their ``\\n`` kept (the last may lack one); each checked for length."""
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
        ends = [b"\n"] * len(raw)
    else:
        ends = [b"\n"] * (len(raw) - 1) + [b""]
    lines = []
    for i, (chunk, end) in enumerate(zip(raw, ends, strict=True)):
        if len(chunk) > MAX_LINE:
            raise AstError(f"dockerfile line greater than max allowed size of {MAX_LINE}", i + 1)
        lines.append((chunk + end).decode("utf-8", errors="replace"))
    return lines


def parse_ast(data: bytes) -> Ast:
    if len(data) > MAX_DOCKERFILE:
        raise DockerfileParseError(
            "failed to parse Dockerfile: dockerfile is larger than the maximum of "
            f"{MAX_DOCKERFILE} bytes"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = _split_lines(data)
    d = _Directives()
    nodes: list[Node] = []
    n = len(lines)
    i = 0
    current = 0

    def process(raw: str, strip_left: bool) -> str:
        token = _trim_newline(raw)
        if strip_left:
            token = trim_left_space(token)
        try:
            d.possible(token)
        except _LineError as e:
            raise AstError(str(e), current) from None
        return "" if token.startswith("#") else token

    while i < n:
        raw = lines[i]
        i += 1
        token = process(raw, True)
        current += 1
        start = current
        first, done = _trim_continuation(token, d.escape)
        if done and first == "":
            continue
        parts = [first]
        while not done and i < n:
            raw = lines[i]
            i += 1
            token = process(raw, False)
            current += 1
            if _is_comment(raw):
                continue
            if trim_left_space(token) == "":
                continue  # an empty continuation line (dockerd only warns)
            piece, done = _trim_continuation(token, d.escape)
            parts.append(piece)
        line = "".join(parts)
        try:
            node = _node_from_line(line, d.escape)
        except _LineError as e:
            raise AstError(str(e), start) from None
        target = node.child if node.keyword == "onbuild" and node.child else node
        if target.keyword in _HEREDOC_KEYWORDS and not target.json_form and "<<" in line:
            try:
                docs = _heredocs_from_line(line)
            except DockerfileParseError as e:
                raise AstError(str(e), start) from None
            for name, expand, chomp in docs:
                body: list[str] = []
                terminated = False
                while i < n:
                    raw = lines[i]
                    i += 1
                    current += 1
                    candidate = _trim_newline(raw)
                    if chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == name:
                        terminated = True
                        break
                    body.append(raw)
                if not terminated:
                    raise AstError("unterminated heredoc", start)
                node.heredocs.append(Heredoc(name, "".join(body), expand, chomp))
        node.start_line = start
        node.end_line = current
        nodes.append(node)
    if not nodes:
        raise AstError("file with no instructions", current)
    return Ast(nodes, d.escape, dict(d.seen))


def _node_from_line(line: str, escape: str) -> Node:
    cmd, flags, rest = _split_command(line)
    node = Node(cmd=cmd, original=line, flags=flags, args=[])
    keyword = cmd.lower()
    if keyword in _MAYBE_JSON:
        if rest:
            parsed = _parse_json(rest)
            if parsed is None:
                node.args = [rest]
            else:
                node.args, node.json_form = parsed, True
    elif keyword in _MAYBE_JSON_LIST:
        parsed = _parse_json(rest)
        if parsed is None:
            node.args = _CMD_SPLIT.split(rest) if rest else []
        else:
            node.args, node.json_form = parsed, True
    elif keyword in _WHITESPACE_LIST:
        node.args = _CMD_SPLIT.split(rest) if rest else []
    elif keyword in _STRING:
        node.args = [rest] if rest else []
    elif keyword in _NAME_VALUE:
        node.key_values = _parse_name_val(rest, cmd.upper(), escape)
        node.args = [x for kv in node.key_values for x in kv]
    elif keyword == "arg":
        node.args = _parse_words(rest, escape)
    elif keyword == "healthcheck":
        _parse_health(node, rest)
    elif keyword == "onbuild":
        if rest:
            node.child = _node_from_line(rest, escape)
            node.args = [node.child.cmd, *node.child.args]
    return node


def _split_command(line: str) -> tuple[str, list[str], str]:
    cmdline = _CMD_SPLIT.split(trim_space(line), maxsplit=1)
    rest = ""
    flags: list[str] = []
    if len(cmdline) == 2:
        rest, flags = _extract_flags(cmdline[1])
    return cmdline[0], flags, trim_space(rest)


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading ``--name[=value]`` words; quotes and ``\\`` work inside them."""
    words: list[str] = []
    word: list[str] = []
    blank_ok = False
    pos = 0
    n = len(line)
    while True:
        while pos < n and is_space(line[pos]):
            pos += 1
        if pos == n:
            return "", words
        if not line.startswith("--", pos):
            return line[pos:], words
        word = []
        blank_ok = False
        quote = ""
        while pos < n:
            ch = line[pos]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == "\\":
                    if pos + 1 == n:
                        quote = ""
                    else:
                        pos += 1
                        word.append(line[pos])
                else:
                    word.append(ch)
                pos += 1
                continue
            if is_space(ch):
                break
            if ch in "'\"":
                quote = ch
                blank_ok = True
            elif ch == "\\":
                if pos + 1 < n:
                    pos += 1
                    word.append(line[pos])
            else:
                word.append(ch)
            pos += 1
        text = "".join(word)
        if text == "--":
            return line[pos:], words
        if blank_ok or text:
            words.append(text)


def _reject_constant(name: str) -> object:
    raise ValueError(name)


_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _parse_json(rest: str) -> list[str] | None:
    """The JSON array form, or None to fall back to the shell form."""
    rest = trim_left_space(rest)
    if not rest.startswith("["):
        return None
    try:
        # The first JSON value only: BuildKit decodes with a json.Decoder, which leaves
        # whatever follows the array unread (``RUN ["a"] x`` runs ``a``).
        value, _ = _JSON.raw_decode(rest)
    except RecursionError:
        raise _LineError(_NOT_STRING_ARRAY) from None
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise _LineError(_NOT_STRING_ARRAY)
    return value


def _parse_words(rest: str, escape: str) -> list[str]:
    """Space-separated words with their quotes and escapes kept (expanded later)."""
    words: list[str] = []
    buf: list[str] = []
    phase = _SPACES
    quote = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while pos < n:
        ch = rest[pos]
        if phase == _SPACES:
            if is_space(ch):
                pos += 1
                continue
            phase = _WORD
        if phase == _WORD:
            if is_space(ch):
                phase = _SPACES
                if blank_ok or buf:
                    words.append("".join(buf))
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in "'\"":
                quote = ch
                blank_ok = True
                phase = _QUOTE
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue  # an escape at the very end is dropped
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        if ch == quote:
            phase = _WORD
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = _WORD
                pos += 1
                continue
            pos += 1
            buf.append(ch)
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    if phase != _SPACES and (blank_ok or buf):
        words.append("".join(buf))
    return words


_SPACES, _WORD, _QUOTE = range(3)


def _parse_name_val(rest: str, what: str, escape: str) -> list[tuple[str, str]]:
    words = _parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _CMD_SPLIT.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise _LineError(f"{what} must have two arguments")
        return [(parts[0], parts[1])]
    pairs = []
    for word in words:
        if "=" not in word:
            raise _LineError(
                f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value"
            )
        key, _, value = word.partition("=")
        pairs.append((key, value))
    return pairs


def _parse_health(node: Node, rest: str) -> None:
    sep = 0
    while sep < len(rest) and not is_space(rest[sep]):
        sep += 1
    nxt = sep
    while nxt < len(rest) and is_space(rest[nxt]):
        nxt += 1
    if sep == 0:
        return
    cmd_text = rest[nxt:]
    args: list[str] = []
    if cmd_text:
        parsed = _parse_json(cmd_text)
        if parsed is None:
            args = [cmd_text]
        else:
            args, node.json_form = parsed, True
    node.args = [rest[:sep], *args]


def _heredocs_from_line(line: str) -> list[tuple[str, bool, bool]]:
    """The ``<<NAME`` words of a RUN/COPY/ADD line: (name, expand, chomp)."""
    lex = ShellLex("\\")
    lex.raw_quotes = True
    lex.raw_escapes = True
    lex.skip_unset_env = True
    try:
        words = lex.process_words(line, {})
    except DockerfileParseError:
        return []
    docs = []
    for word in words:
        doc = parse_heredoc(word)
        if doc is not None:
            docs.append(doc)
    return docs


def parse_heredoc(word: str) -> tuple[str, bool, bool] | None:
    """``<<EOF`` / ``<<-EOF`` / ``<<'EOF'`` as (name, expand, chomp); None if not one."""
    m = _HEREDOC.match(word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    lex = ShellLex("\\")
    lex.skip_unset_env = True
    words = lex.process_words(rest, {})
    if len(words) != 1:
        return None
    lex.raw_quotes = True
    raw_words = lex.process_words(rest, {})
    if len(raw_words) != len(words):
        raise DockerfileParseError(
            f"internal lexing of heredoc produced inconsistent results: {rest}"
        )
    name = words[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw_words[0].count("'") + raw_words[0].count('"')
    return name, quotes == raw_quotes, m.group(2) == "-"
