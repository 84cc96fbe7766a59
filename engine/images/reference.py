"""Image references: Docker's grammar and normalisation rules.

``busybox`` means ``docker.io/library/busybox``; a first component with a ``.`` or a
``:`` (or ``localhost``, or an upper-case letter) is a registry host. Tags are
stored normalised (``docker.io/library/busybox:latest``) and shown familiar
(``busybox:latest``), as Docker does. Written from the grammar published with
distribution/reference:

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [domain "/"] path-component ["/" path-component]*
    domain    := host [":" port]   host := domain-name | "[" IPv6 "]"
    path-component := [a-z0-9]+ (separator [a-z0-9]+)*   separator := [_.] | __ | -+
    tag       := [\\w][\\w.-]{0,127}
    digest    := algorithm ":" hex{32,}
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$",
    re.ASCII,
)
_TAG_RE = re.compile(rf"^{_TAG}$", re.ASCII)
_DIGEST_RE = re.compile(rf"^{_DIGEST}$", re.ASCII)
_ID_RE = re.compile(r"^[a-f0-9]{64}$")
_SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")

INVALID = "invalid reference format"


@dataclass(frozen=True)
class Reference:
    """A parsed, normalised image reference."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``domain/path`` (the repository)."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def string(self) -> str:
        """The full normalised form, e.g. ``docker.io/library/busybox:1.36``."""
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    def familiar_name(self) -> str:
        """The repository as users write it (``busybox``, ``me/app``, ``host:5000/x``)."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_PREFIX) and "/" not in path[len(OFFICIAL_PREFIX) :]:
            path = path[len(OFFICIAL_PREFIX) :]
        return path

    def familiar(self) -> str:
        """The reference as users write it (``busybox:latest``)."""
        s = self.familiar_name()
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    def with_default_tag(self) -> Reference:
        """``:latest`` added when there is neither tag nor digest."""
        if self.tag or self.digest:
            return self
        return Reference(self.domain, self.path, DEFAULT_TAG, None)

    def with_tag(self, tag: str) -> Reference:
        """The same repository with ``tag`` (and no digest)."""
        return Reference(self.domain, self.path, check_tag(tag), None)

    def with_digest(self, digest: str) -> Reference:
        """The same repository with ``digest`` (and no tag)."""
        if not _DIGEST_RE.match(digest):
            raise InvalidParameter(f"invalid digest format: {digest}")
        return Reference(self.domain, self.path, None, digest)

    def __str__(self) -> str:
        return self.string()


def check_tag(tag: str) -> str:
    """Validate a bare tag."""
    if not _TAG_RE.match(tag or ""):
        raise InvalidParameter(f"invalid tag format: {tag!r}")
    return tag


def is_full_id(s: str) -> bool:
    """``sha256:<64 hex>`` or a bare 64-hex id."""
    return bool(_SHA256_RE.match(s) or _ID_RE.match(s))


def split_domain(name: str) -> tuple[str, str]:
    """Split a familiar name into (registry domain, path) the way Docker does."""
    i = name.find("/")
    first = name[:i] if i >= 0 else ""
    if i < 0 or (
        not any(c in first for c in ".:") and first != "localhost" and first.lower() == first
    ):
        domain, rest = DEFAULT_DOMAIN, name
    else:
        domain, rest = first, name[i + 1 :]
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in rest:
        rest = OFFICIAL_PREFIX + rest
    return domain, rest


def parse_reference(s: str) -> Reference:
    """Parse and normalise ``s`` (``busybox`` → docker.io/library/busybox).

    Raises InvalidParameter with Docker's messages on malformed input.
    """
    if not isinstance(s, str) or not s:
        raise InvalidParameter(INVALID)
    if _ID_RE.match(s):
        raise InvalidParameter(
            f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )
    domain, rest = split_domain(s)
    remote = rest.split(":", 1)[0].split("@", 1)[0]
    if remote.lower() != remote:
        raise InvalidParameter(f"{INVALID}: repository name ({remote}) must be lowercase")
    m = _REFERENCE_RE.match(f"{domain}/{rest}")
    if not m:
        raise InvalidParameter(INVALID)
    # A first component that looked like a host but is not a valid one (``a_b.c/x``)
    # leaves no domain, exactly as in Docker.
    ref = Reference(m["domain"] or "", m["path"], m["tag"], m["digest"])
    if len(ref.name) > NAME_MAX:
        raise InvalidParameter(f"repository name must not be more than {NAME_MAX} characters")
    return ref


def normalize(s: str) -> str:
    """The stored form of a reference: full name with ``:latest`` when untagged."""
    return parse_reference(s).with_default_tag().string()


def familiar(stored: str) -> str:
    """The display form of a stored (normalised) reference."""
    return parse_reference(stored).familiar()


def familiar_match(pattern: str, stored: str) -> bool:
    """Docker's ``reference=`` filter: glob match (``*`` stops at ``/``) on the familiar
    ``name:tag`` or on the familiar name alone."""
    ref = parse_reference(stored)
    regex = _glob_to_regex(pattern)
    return bool(regex.match(ref.familiar()) or regex.match(ref.familiar_name()))


def _glob_to_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body.startswith("^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "$")
