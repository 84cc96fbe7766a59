"""Volume names and local-driver options, validated with Docker's messages."""

from __future__ import annotations

import re
import secrets

from ..errors import InvalidParameter

RESTRICTED_NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
# A name becomes a directory name; longer ones would fail with ENAMETOOLONG later.
MAX_NAME = 255

ANONYMOUS_LABEL = "com.docker.volume.anonymous"

_VALID_OPTS = ("type", "o", "device", "size")
_MANDATORY = {"device": ("type",), "type": ("device",), "o": ("device", "type")}


def random_name() -> str:
    """A 64-hex name, as Docker gives anonymous volumes."""
    return secrets.token_hex(32)


def validate_name(name: str) -> None:
    """Raise 400 unless ``name`` is a valid local volume name."""
    if len(name) == 1:
        raise InvalidParameter(
            f"create {name}: volume name is too short, names should be at least two "
            "alphanumeric characters"
        )
    if not _NAME_RE.match(name) or len(name) > MAX_NAME:
        raise InvalidParameter(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            f'only "{RESTRICTED_NAME_CHARS}" are allowed. If you intended to pass a host '
            "directory, use absolute path"
        )


def validate_options(name: str, opts: dict[str, str]) -> None:
    """The local driver's ``type``/``device``/``o`` options (``size`` needs quotas)."""
    for key in opts:
        if key not in _VALID_OPTS:
            raise InvalidParameter(f'create {name}: invalid option: "{key}"')
    for key, required in _MANDATORY.items():
        if key in opts:
            for req in required:
                if req not in opts:
                    raise InvalidParameter(f'create {name}: missing required option: "{req}"')
    if "size" in opts:
        # Docker enforces this with XFS/ext4 project quotas; without them it refuses.
        raise InvalidParameter(f"create {name}: quota size requested but no quota support")


def needs_mount(opts: dict[str, str]) -> bool:
    """Whether the volume is a mount of ``device`` rather than a plain directory."""
    return bool(opts.get("device") or opts.get("type"))
