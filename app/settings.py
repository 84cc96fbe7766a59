"""The user's connection choice, remembered with QSettings."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings

from .client import PORTSIDE_SOCKET, EngineAddress, TlsConfig, default_address

AUTO, PORTSIDE, SOCKET, TCP = "auto", "portside", "socket", "tcp"


@dataclass(frozen=True)
class ConnectionChoice:
    """How to reach the engine.

    ``auto`` follows the docker CLI (``DOCKER_HOST``, Portside's socket, Docker's socket);
    ``portside`` is Portside's own engine (started when needed); ``socket`` any
    Docker-compatible unix socket; ``tcp`` a remote engine, with TLS when ``cert_dir`` is set
    (``tcp_host`` may also be an ``ssh://`` address, logging in with ``ssh_key`` if set).
    """

    kind: str = AUTO
    socket_path: str = ""
    tcp_host: str = ""
    cert_dir: str = ""
    tls_verify: bool = True
    ssh_key: str = ""

    def address(self) -> EngineAddress:
        """The address this choice resolves to now."""
        if self.kind == PORTSIDE:
            return EngineAddress.unix(PORTSIDE_SOCKET)
        if self.kind == SOCKET:
            return EngineAddress.unix(self.socket_path)
        if self.kind == TCP:
            host = self.tcp_host if "://" in self.tcp_host else f"tcp://{self.tcp_host}"
            tls = TlsConfig.from_cert_dir(self.cert_dir, self.tls_verify) if self.cert_dir else None
            return EngineAddress(host, tls, self.ssh_key or None)
        return default_address()

    def may_start_bundled_engine(self) -> bool:
        """Whether an unanswered connection should start Portside's own engine.

        Only when the user asked for Portside's engine, or chose nothing and nothing else
        was configured (no ``DOCKER_HOST``): we never start an engine in place of one
        the user pointed us at.
        """
        if self.kind == PORTSIDE:
            return True
        if self.kind != AUTO:
            return False
        import os

        return not os.environ.get("DOCKER_HOST")


class Settings:
    """Typed access to the app's QSettings (a file path gives tests their own store)."""

    def __init__(self, path: str | None = None):
        if path:
            self._q = QSettings(path, QSettings.Format.IniFormat)
        else:
            self._q = QSettings("Portside", "Portside")

    def connection(self) -> ConnectionChoice:
        """The remembered connection choice (``auto`` when none)."""
        q = self._q
        return ConnectionChoice(
            kind=str(q.value("connection/kind", AUTO)),
            socket_path=str(q.value("connection/socket_path", "")),
            tcp_host=str(q.value("connection/tcp_host", "")),
            cert_dir=str(q.value("connection/cert_dir", "")),
            tls_verify=str(q.value("connection/tls_verify", "true")).lower() == "true",
        )

    def set_connection(self, choice: ConnectionChoice) -> None:
        """Remember a connection choice."""
        q = self._q
        q.setValue("connection/kind", choice.kind)
        q.setValue("connection/socket_path", choice.socket_path)
        q.setValue("connection/tcp_host", choice.tcp_host)
        q.setValue("connection/cert_dir", choice.cert_dir)
        q.setValue("connection/tls_verify", "true" if choice.tls_verify else "false")
        q.sync()

    def added_engines(self) -> str:
        """The engines the user added, as the JSON ``engine_catalog`` reads."""
        return self.value("engines/added", "[]")

    def set_added_engines(self, raw: str) -> None:
        self._q.setValue("engines/added", raw)
        self._q.sync()

    def value(self, key: str, default: str = "") -> str:
        """Any other string setting."""
        return str(self._q.value(key, default))

    def set_value(self, key: str, value: str) -> None:
        """Store a string setting."""
        self._q.setValue(key, value)
