"""Deciding whether the key a host offered is the right one.

Two policies behind one interface (``HostKeyPolicy``), as OpenSSH has them: an exact pin
(``PinnedHostKey``: Portside Machine makes the guest's host key itself, so it knows the
public half before the first connection), or a known_hosts file for remote engines
(``KnownHostsPolicy``). A key known_hosts has never seen is a question for the user; the
``UnknownHostKeyHook`` lets the app answer it (say, after showing the fingerprint). The
link only calls the policy, so machines and remote engines share one SSH client.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import paramiko

from .errors import HostKeyMismatch, LinkError, UnknownHostKey


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:<base64 without padding>`` of the key blob, as OpenSSH prints it."""
    return fingerprint_of_blob(key.asbytes())


def fingerprint_of_blob(blob: bytes) -> str:
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def key_label(key: paramiko.PKey) -> str:
    """``ED25519 key SHA256:…`` — the key type as ssh prints it, then the fingerprint."""
    kind = key.get_name().removeprefix("ssh-").split("-")[0].upper()
    return f"{kind} key {fingerprint(key)}"


def public_line(key: paramiko.PKey) -> str:
    """The key as one ``authorized_keys``/pin line: ``ssh-ed25519 AAAA…``."""
    return f"{key.get_name()} {key.get_base64()}"


@dataclass(frozen=True)
class PublicKeyLine:
    """A parsed ``<type> <base64> [comment]`` line."""

    key_type: str
    blob: bytes

    @classmethod
    def parse(cls, line: str) -> PublicKeyLine:
        parts = line.split()
        if len(parts) < 2:
            raise LinkError(f"not an OpenSSH public key line: {line!r}")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except ValueError as e:
            raise LinkError(f"not an OpenSSH public key line: {line!r}") from e
        return cls(parts[0], blob)

    @property
    def fingerprint(self) -> str:
        return fingerprint_of_blob(self.blob)


def host_label(host: str, port: int) -> str:
    """How known_hosts names a host: ``host`` on port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True)
class HostKeyQuestion:
    """What the user needs to decide about a key known_hosts does not know."""

    host: str  # "127.0.0.1:2222"
    key_type: str  # "ssh-ed25519"
    fingerprint: str  # "SHA256:…"
    public_line: str  # "ssh-ed25519 AAAA…"


# Answers True to accept (the key is then added to known_hosts), False to refuse.
UnknownHostKeyHook = Callable[[HostKeyQuestion], bool | Awaitable[bool]]


def accept_fingerprint(accepted: str) -> UnknownHostKeyHook:
    """A hook that accepts exactly the key with this fingerprint — what the app passes
    once the user has confirmed the fingerprint it was shown."""

    def hook(question: HostKeyQuestion) -> bool:
        return question.fingerprint == accepted

    return hook


def check_pinned(offered: paramiko.PKey, pinned: str, where: str) -> None:
    """Exact match of the offered key against the pin, else ``HostKeyMismatch``."""
    pin = PublicKeyLine.parse(pinned)
    if pin.blob != offered.asbytes():
        raise HostKeyMismatch(
            f"host key for {where} does not match the pinned key: expected {pin.fingerprint}, "
            f"the host offered {key_label(offered)}. Refusing to connect: whatever answers "
            "there is not the machine the key was made for."
        )


def preferred_key_types(target_pin: str | None, known: paramiko.HostKeys, label: str) -> list[str]:
    """Host key types to ask for first: the pinned one, else those known_hosts has for the
    host (so a server with several host keys shows the one we can check)."""
    if target_pin:
        return [PublicKeyLine.parse(target_pin).key_type]
    entry = known.lookup(label)
    return list(entry.keys()) if entry else []


def load_known_hosts(path: Path) -> paramiko.HostKeys:
    keys = paramiko.HostKeys()
    if path.exists():
        try:
            keys.load(str(path))
        except (OSError, paramiko.SSHException) as e:
            raise LinkError(f"cannot read {path}: {e}") from e
    return keys


async def check_known_hosts(
    offered: paramiko.PKey,
    known_hosts: Path,
    host: str,
    port: int,
    hook: UnknownHostKeyHook | None,
) -> None:
    """known_hosts policy: known → ok; changed → ``HostKeyMismatch``; unknown → ask the
    hook, remember the key when it accepts, else ``UnknownHostKey``."""
    where = f"{host}:{port}"
    label = host_label(host, port)
    keys = load_known_hosts(known_hosts)
    entry = keys.lookup(label)
    if entry:
        known = entry.get(offered.get_name())
        if known is not None and known.asbytes() == offered.asbytes():
            return
        listed = ", ".join(key_label(k) for k in entry.values())
        raise HostKeyMismatch(
            f"host key for {where} has changed: {known_hosts} lists {listed}, the host offered "
            f"{key_label(offered)}. Refusing to connect; if the change is expected, remove the "
            f"old entry (ssh-keygen -R '{label}' -f {known_hosts})."
        )
    question = HostKeyQuestion(
        where, offered.get_name(), fingerprint(offered), public_line(offered)
    )
    accepted = False
    if hook is not None:
        answer = hook(question)
        accepted = bool(await answer) if inspect.isawaitable(answer) else bool(answer)
    if not accepted:
        raise UnknownHostKey(
            f"the host key of {where} is not known ({key_label(offered)}); confirm the "
            f"fingerprint to trust it",
            host=where,
            fingerprint=question.fingerprint,
            public_line=question.public_line,
        )
    remember(known_hosts, label, offered)


def remember(known_hosts: Path, label: str, key: paramiko.PKey) -> None:
    """Append one line to known_hosts (never rewrite the file: other entries, comments and
    hashed names stay as the user has them)."""
    known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = f"{label} {public_line(key)}\n"
    try:
        existing = known_hosts.read_bytes()
    except FileNotFoundError:
        existing = b""
    with open(known_hosts, "a") as f:
        if existing and not existing.endswith(b"\n"):
            f.write("\n")
        f.write(line)


class HostKeyPolicy(Protocol):
    """Decides whether the key a host offered may be trusted (before authenticating)."""

    def preferred_key_types(self, host: str, port: int) -> list[str]:
        """Host key types to ask the server for first (the ones this policy can check)."""
        ...

    async def check(self, offered: paramiko.PKey, host: str, port: int) -> None:
        """Return when ``offered`` is trusted; raise ``HostKeyMismatch``/``UnknownHostKey``."""
        ...


@dataclass(frozen=True)
class PinnedHostKey:
    """Exactly this key (``ssh-ed25519 AAAA…``), nothing else: Portside Machine's guest."""

    line: str

    def preferred_key_types(self, host: str, port: int) -> list[str]:
        return [PublicKeyLine.parse(self.line).key_type]

    async def check(self, offered: paramiko.PKey, host: str, port: int) -> None:
        check_pinned(offered, self.line, f"{host}:{port}")


@dataclass(frozen=True)
class KnownHostsPolicy:
    """OpenSSH's known_hosts (default ``~/.ssh/known_hosts``): a known key passes, a changed
    one is refused, an unknown one is put to ``ask`` (the app shows the fingerprint)."""

    path: Path | None = None
    ask: UnknownHostKeyHook | None = None

    @property
    def file(self) -> Path:
        return self.path or Path.home() / ".ssh" / "known_hosts"

    def preferred_key_types(self, host: str, port: int) -> list[str]:
        return preferred_key_types(None, load_known_hosts(self.file), host_label(host, port))

    async def check(self, offered: paramiko.PKey, host: str, port: int) -> None:
        await check_known_hosts(offered, self.file, host, port, self.ask)
