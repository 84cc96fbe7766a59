"""What the parser produces: instructions grouped into build stages (immutable)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import DockerfileParseError


@dataclass(frozen=True)
class Heredoc:
    """A here-document attached to RUN/COPY/ADD: ``<<EOF`` (``chomp`` for ``<<-EOF``);
    ``expand`` is False when the delimiter was quoted (no variable expansion).
    ``content`` is as written; ``body`` has leading tabs removed when ``chomp``."""

    name: str
    content: str
    expand: bool
    chomp: bool

    @property
    def body(self) -> str:
        return re.sub(r"(?m)^\t+", "", self.content) if self.chomp else self.content


@dataclass(frozen=True)
class Instruction:
    """One instruction, its words not yet variable-expanded.

    ``args``: the JSON array items (``json_form``); for shell-form RUN/CMD/ENTRYPOINT/SHELL
    the whole command string as one item; for ENV/LABEL the keys and values flattened
    (``k1, v1, k2, v2``); for ARG the raw ``name[=default]`` words; for ONBUILD the
    trigger expression dockerd stores in the image (``ONBUILD`` stripped, heredocs
    appended); for HEALTHCHECK the type (``CMD``/``NONE``) then the command.
    ``original`` is what dockerd prints after ``Step N/M :``.
    """

    keyword: str
    original: str
    line: int
    args: tuple[str, ...]
    json_form: bool
    flags: Mapping[str, str | tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    key_values: tuple[tuple[str, str | None], ...] = ()
    heredocs: tuple[Heredoc, ...] = ()
    onbuild: Instruction | None = None
    end_line: int = 0

    def flag(self, name: str, default: str = "") -> str:
        """A single-valued flag's value (``default`` when absent)."""
        value = self.flags.get(name, default)
        return value if isinstance(value, str) else (value[-1] if value else default)


@dataclass(frozen=True)
class Stage:
    """``FROM base [AS name]`` and the instructions up to the next FROM."""

    index: int
    name: str | None
    base: str
    platform: str | None
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: its escape character, parser directives (``syntax``,
    ``escape``, ``check``), the ARGs before the first FROM and the stages."""

    escape: str
    directives: Mapping[str, str]
    meta_args: tuple[Instruction, ...]
    stages: tuple[Stage, ...]

    def stage_index(self, name_or_index: str) -> int:
        """The stage called ``name_or_index`` (names compare case-insensitively, as
        dockerd's ``--target`` does), else the stage with that number."""
        wanted = name_or_index.lower()
        for stage in self.stages:
            if stage.name is not None and stage.name == wanted:
                return stage.index
        if name_or_index.isascii() and name_or_index.isdigit():
            index = int(name_or_index)
            if index < len(self.stages):
                return index
        raise DockerfileParseError(f"failed to reach build target {name_or_index} in Dockerfile")
